/**
 * Windows EVTX reader.
 *
 * Layout (per the published libevtx format notes): a 4 KiB file header ("ElfFile\0"), then 64 KiB
 * chunks ("ElfChnk\0"). A chunk holds a 512-byte header (with CRC32s, a string-offset table and a
 * template-offset table) and event records ("**\0\0", size, record id, FILETIME, BinXML, size).
 * Records are BinXML fragments that instantiate a template (defined once per chunk, inline at its
 * first use) with an array of typed substitution values.
 *
 * The file is read one chunk at a time, so memory stays bounded whatever the file's size. A chunk
 * that fails its checks is skipped with a warning naming it; the other chunks are still read.
 */
import { open } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { formatDatetime, parseDatetime } from "../kql/values.js";

/** The format's fixed layout, shared with the writer (lib/synth/evtx-writer.ts). */
export const FILE_SIGNATURE = "ElfFile\u0000";
export const CHUNK_SIGNATURE = "ElfChnk\u0000";
export const FILE_HEADER_SIZE = 4096;
export const CHUNK_SIZE = 65536;
/** A chunk's header; its first event record starts right after. */
export const CHUNK_HEADER_SIZE = 512;
/** FILETIME (100 ns ticks since 1601) of the Unix epoch. */
export const FILETIME_UNIX_EPOCH = 116444736000000000n;

export interface EvtxElement {
  name: string;
  attributes: Record<string, string>;
  children: EvtxNode[];
}
export type EvtxNode = EvtxElement | string;

export interface EvtxRecord {
  recordId: number;
  /** Milliseconds since the Unix epoch (fractional for sub-millisecond ticks). */
  written: number;
  root: EvtxElement;
}

export interface EvtxWarning {
  chunk: number;
  offset: number;
  message: string;
}

// ---- template trees: elements whose text and attributes may hold substitution slots ----

interface Slot {
  slot: number;
  optional: boolean;
}
type TemplatePart = string | Slot;
interface TemplateElement {
  name: string;
  attributes: { name: string; value: TemplatePart[] }[];
  children: (TemplateElement | TemplatePart | InstanceNode)[];
}
/** A template instantiated inside a fragment (when BinXML values nest other templates). */
interface InstanceNode {
  instance: { template: TemplateElement[]; values: SubValue[] };
}
interface SubValue {
  type: number;
  offset: number;
  size: number;
}

class EvtxFormatError extends Error {}

function isSlot(part: unknown): part is Slot {
  return typeof part === "object" && part !== null && "slot" in part;
}

class Chunk {
  private readonly names = new Map<number, string>();
  private readonly templates = new Map<number, TemplateElement[]>();

  constructor(readonly buf: Buffer) {}

  u8(at: number) {
    return this.buf.readUInt8(at);
  }
  u16(at: number) {
    return this.buf.readUInt16LE(at);
  }
  u32(at: number) {
    return this.buf.readUInt32LE(at);
  }

  utf16(at: number, chars: number): string {
    return this.buf.toString("utf16le", at, at + chars * 2);
  }

  /** A name structure: next offset (4), hash (2), length in chars (2), UTF-16 text, NUL (2). */
  name(at: number): { name: string; size: number } {
    const length = this.u16(at + 6);
    let cached = this.names.get(at);
    if (cached === undefined) {
      cached = this.utf16(at + 8, length);
      this.names.set(at, cached);
    }
    return { name: cached, size: 8 + length * 2 + 2 };
  }

  /** Reads a name reference; when the name is stored inline right here, steps over it. */
  nameRef(pos: number): { name: string; next: number } {
    const offset = this.u32(pos);
    pos += 4;
    const { name, size } = this.name(offset);
    return { name, next: offset === pos ? pos + size : pos };
  }

  template(definitionOffset: number): TemplateElement[] {
    let template = this.templates.get(definitionOffset);
    if (!template) {
      // Definition: next offset (4), GUID (16), data size (4), then a BinXML fragment.
      const size = this.u32(definitionOffset + 20);
      const start = definitionOffset + 24;
      template = new FragmentParser(this, start, start + size).fragment();
      this.templates.set(definitionOffset, template);
    }
    return template;
  }
}

/** Parses BinXML tokens into template trees. */
class FragmentParser {
  constructor(
    private readonly chunk: Chunk,
    private pos: number,
    private readonly end: number,
  ) {}

  get position() {
    return this.pos;
  }

  fragment(): TemplateElement[] {
    const out: (TemplateElement | InstanceNode)[] = [];
    while (this.pos < this.end) {
      const token = this.chunk.u8(this.pos);
      if (token === 0x00) {
        this.pos += 1;
        break;
      }
      if (token === 0x0f) {
        this.pos += 4; // fragment header: token, major, minor, flags
        continue;
      }
      if (token === 0x0c) {
        out.push(this.templateInstance());
        continue;
      }
      if ((token & 0x0f) === 0x01) {
        out.push(this.element());
        continue;
      }
      throw new EvtxFormatError(`unexpected BinXML token 0x${token.toString(16)} at chunk offset ${this.pos}`);
    }
    return out as TemplateElement[];
  }

  templateInstance(): InstanceNode {
    const c = this.chunk;
    this.pos += 2; // token, unknown byte
    this.pos += 4; // template id
    const definition = c.u32(this.pos);
    this.pos += 4;
    if (definition === this.pos) this.pos += 24 + c.u32(this.pos + 20); // inline definition: step over it
    const template = c.template(definition);
    const count = c.u32(this.pos);
    this.pos += 4;
    const descriptors: { size: number; type: number }[] = [];
    for (let i = 0; i < count; i++) {
      descriptors.push({ size: c.u16(this.pos), type: c.u8(this.pos + 2) });
      this.pos += 4;
    }
    const values: SubValue[] = descriptors.map((d) => {
      const value = { type: d.type, offset: this.pos, size: d.size };
      this.pos += d.size;
      return value;
    });
    return { instance: { template, values } };
  }

  element(): TemplateElement {
    const c = this.chunk;
    const token = c.u8(this.pos);
    this.pos += 1 + 2 + 4; // token, dependency id, data size
    const { name, next } = c.nameRef(this.pos);
    this.pos = next;
    const element: TemplateElement = { name, attributes: [], children: [] };
    if (token & 0x40) {
      this.pos += 4; // attribute list size
      while ((c.u8(this.pos) & 0x0f) === 0x06) {
        this.pos += 1;
        const attribute = c.nameRef(this.pos);
        this.pos = attribute.next;
        element.attributes.push({ name: attribute.name, value: this.content(true) as TemplatePart[] });
      }
    }
    const close = c.u8(this.pos);
    this.pos += 1;
    if (close === 0x03) return element; // empty element
    if (close !== 0x02) throw new EvtxFormatError(`expected the end of a start tag at chunk offset ${this.pos - 1}`);
    element.children = this.content(false);
    return element;
  }

  /** Text, values, substitutions and child elements, up to an end tag (or the end of an attribute's value). */
  content(inAttribute: boolean): (TemplateElement | TemplatePart | InstanceNode)[] {
    const c = this.chunk;
    const parts: (TemplateElement | TemplatePart | InstanceNode)[] = [];
    for (;;) {
      const token = c.u8(this.pos);
      const base = token & 0x0f;
      if (inAttribute && (base === 0x06 || base === 0x02 || base === 0x03)) return parts;
      switch (base) {
        case 0x04: // end element
          this.pos += 1;
          return parts;
        case 0x00:
          return parts;
        case 0x01:
          parts.push(this.element());
          break;
        case 0x05: {
          // value: type then, for strings, a length-prefixed UTF-16 text
          const type = c.u8(this.pos + 1);
          this.pos += 2;
          if (type !== 0x01) throw new EvtxFormatError(`unsupported inline value type 0x${type.toString(16)}`);
          const chars = c.u16(this.pos);
          parts.push(c.utf16(this.pos + 2, chars));
          this.pos += 2 + chars * 2;
          break;
        }
        case 0x07: {
          const chars = c.u16(this.pos + 1);
          parts.push(c.utf16(this.pos + 3, chars));
          this.pos += 3 + chars * 2;
          break;
        }
        case 0x08:
          parts.push(String.fromCharCode(c.u16(this.pos + 1)));
          this.pos += 3;
          break;
        case 0x09: {
          this.pos += 1;
          const entity = c.nameRef(this.pos);
          this.pos = entity.next;
          parts.push(ENTITIES[entity.name] ?? `&${entity.name};`);
          break;
        }
        case 0x0a:
        case 0x0b:
          throw new EvtxFormatError("processing instructions are not expected in event records");
        case 0x0c:
          parts.push(this.templateInstance());
          break;
        case 0x0d:
        case 0x0e:
          parts.push({ slot: c.u16(this.pos + 1), optional: base === 0x0e });
          this.pos += 4;
          break;
        default:
          throw new EvtxFormatError(`unexpected BinXML token 0x${token.toString(16)} at chunk offset ${this.pos}`);
      }
    }
  }
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

// ---- values ----

function hex(value: bigint | number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

export function filetimeToMs(ticks: bigint): number {
  const sinceUnix = ticks - FILETIME_UNIX_EPOCH;
  return Number(sinceUnix / 10000n) + Number(sinceUnix % 10000n) / 10000;
}

function guid(buf: Buffer, at: number): string {
  const h = (start: number, end: number) => buf.subarray(at + start, at + end).toString("hex");
  const le = (start: number, end: number) =>
    Buffer.from(buf.subarray(at + start, at + end))
      .reverse()
      .toString("hex");
  return `{${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${h(8, 10)}-${h(10, 16)}}`;
}

function sid(buf: Buffer, at: number): string {
  const revision = buf.readUInt8(at);
  const count = buf.readUInt8(at + 1);
  const authority = buf.readUIntBE(at + 2, 6);
  let text = `S-${revision}-${authority}`;
  for (let i = 0; i < count; i++) text += `-${buf.readUInt32LE(at + 8 + i * 4)}`;
  return text;
}

/** Renders a substitution value as the event's XML text would show it. */
function renderValue(chunk: Chunk, value: SubValue): string | EvtxNode[] | null {
  const { buf } = chunk;
  const at = value.offset;
  const size = value.size;
  if (size === 0 && value.type !== 0x21) return null;
  switch (value.type) {
    case 0x00:
      return null;
    case 0x01:
      return buf.toString("utf16le", at, at + size).replace(/\u0000+$/, "");
    case 0x02:
      return buf.toString("latin1", at, at + size).replace(/\u0000+$/, "");
    case 0x03:
      return String(buf.readInt8(at));
    case 0x04:
      return String(buf.readUInt8(at));
    case 0x05:
      return String(buf.readInt16LE(at));
    case 0x06:
      return String(buf.readUInt16LE(at));
    case 0x07:
      return String(buf.readInt32LE(at));
    case 0x08:
      return String(buf.readUInt32LE(at));
    case 0x09:
      return buf.readBigInt64LE(at).toString();
    case 0x0a:
      return buf.readBigUInt64LE(at).toString();
    case 0x0b:
      return String(buf.readFloatLE(at));
    case 0x0c:
      return String(buf.readDoubleLE(at));
    case 0x0d:
      return buf.readUInt32LE(at) ? "true" : "false";
    case 0x0e:
      return buf
        .subarray(at, at + size)
        .toString("hex")
        .toUpperCase();
    case 0x0f:
      return guid(buf, at);
    case 0x10:
      return size === 8 ? hex(buf.readBigUInt64LE(at), 16) : hex(buf.readUInt32LE(at), 8);
    case 0x11:
      return formatDatetime(filetimeToMs(buf.readBigUInt64LE(at)));
    case 0x12: {
      const [year, month, , day, hour, minute, second, ms] = [0, 2, 4, 6, 8, 10, 12, 14].map((o) => buf.readUInt16LE(at + o));
      return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms)).toISOString();
    }
    case 0x13:
      return sid(buf, at);
    case 0x14:
      return hex(buf.readUInt32LE(at), 8);
    case 0x15:
      return hex(buf.readBigUInt64LE(at), 16);
    case 0x21: {
      const parser = new FragmentParser(chunk, at, at + size);
      return instantiateAll(chunk, parser.fragment(), []);
    }
    case 0x81: {
      const parts = buf.toString("utf16le", at, at + size).split("\u0000");
      if (parts[parts.length - 1] === "") parts.pop();
      return parts.join("\n");
    }
    default:
      if (value.type & 0x80) return buf.subarray(at, at + size).toString("hex");
      return null;
  }
}

// ---- instantiation: template + values -> element tree ----

function instantiateAll(chunk: Chunk, nodes: (TemplateElement | InstanceNode)[], values: SubValue[]): EvtxNode[] {
  const out: EvtxNode[] = [];
  for (const node of nodes) instantiateInto(out, chunk, node, values);
  return out;
}

/** Appends the instantiated form of `node` to `out` (loops, not flatMap: this runs per record). */
function instantiateInto(out: EvtxNode[], chunk: Chunk, node: TemplateElement | TemplatePart | InstanceNode, values: SubValue[]): void {
  if (typeof node === "string") {
    out.push(node);
    return;
  }
  if (isSlot(node)) {
    const value = values[node.slot];
    if (!value) return;
    const rendered = renderValue(chunk, value);
    if (rendered === null) return;
    if (typeof rendered === "string") out.push(rendered);
    else for (const n of rendered) out.push(n);
    return;
  }
  if ("instance" in node) {
    for (const n of node.instance.template) instantiateInto(out, chunk, n, node.instance.values);
    return;
  }
  const attributes: Record<string, string> = {};
  for (const attribute of node.attributes) {
    let text = "";
    let present = false;
    let optional = false;
    for (const part of attribute.value) {
      if (typeof part === "string") {
        text += part;
        present = true;
      } else if (isSlot(part)) {
        optional ||= part.optional;
        const value = values[part.slot];
        const rendered = value ? renderValue(chunk, value) : null;
        if (typeof rendered === "string") {
          text += rendered;
          present = true;
        }
      }
    }
    // An optional substitution with no value removes the attribute.
    if (present || !optional) attributes[attribute.name] = text;
  }
  const children: EvtxNode[] = [];
  for (const child of node.children) instantiateInto(children, chunk, child, values);
  out.push({ name: node.name, attributes, children });
}

// ---- chunks and records ----

function checkChunk(buf: Buffer): string | undefined {
  if (buf.length < CHUNK_SIZE) return `truncated chunk (${buf.length} of ${CHUNK_SIZE} bytes)`;
  if (buf.toString("latin1", 0, 8) !== CHUNK_SIGNATURE) return "bad chunk signature";
  const headerCrc = crc32(Buffer.concat([buf.subarray(0, 120), buf.subarray(128, CHUNK_HEADER_SIZE)]));
  if (headerCrc !== buf.readUInt32LE(124)) return "chunk header checksum mismatch";
  const freeSpace = buf.readUInt32LE(48);
  if (freeSpace < CHUNK_HEADER_SIZE || freeSpace > CHUNK_SIZE) return "chunk free-space offset out of range";
  if (crc32(buf.subarray(CHUNK_HEADER_SIZE, freeSpace)) !== buf.readUInt32LE(52)) return "event records checksum mismatch";
  return undefined;
}

function* recordsOfChunk(buf: Buffer): Generator<EvtxRecord> {
  const chunk = new Chunk(buf);
  const freeSpace = buf.readUInt32LE(48);
  let pos = CHUNK_HEADER_SIZE;
  while (pos + 24 <= freeSpace) {
    if (buf.readUInt32LE(pos) !== 0x00002a2a) throw new EvtxFormatError(`bad record signature at chunk offset ${pos}`);
    const size = buf.readUInt32LE(pos + 4);
    if (size < 28 || pos + size > freeSpace || buf.readUInt32LE(pos + size - 4) !== size) {
      throw new EvtxFormatError(`bad record size at chunk offset ${pos}`);
    }
    const recordId = Number(buf.readBigUInt64LE(pos + 8));
    const written = filetimeToMs(buf.readBigUInt64LE(pos + 16));
    const parser = new FragmentParser(chunk, pos + 24, pos + size - 4);
    const nodes = instantiateAll(chunk, parser.fragment(), []);
    const root = nodes.find((n): n is EvtxElement => typeof n !== "string");
    if (root) yield { recordId, written, root };
    pos += size;
  }
}

export interface EvtxReadOptions {
  onWarning?: (warning: EvtxWarning) => void;
}

/** Streams the records of an EVTX file, one 64 KiB chunk in memory at a time. */
export async function* readEvtxRecords(path: string, options: EvtxReadOptions = {}): AsyncGenerator<EvtxRecord> {
  const warn = options.onWarning ?? ((w) => console.warn(`${path}: chunk ${w.chunk} at byte ${w.offset}: ${w.message}; skipped`));
  const file = await open(path, "r");
  try {
    const header = Buffer.alloc(FILE_HEADER_SIZE);
    const { bytesRead } = await file.read(header, 0, FILE_HEADER_SIZE, 0);
    if (bytesRead < 8 || header.toString("latin1", 0, 8) !== FILE_SIGNATURE) {
      throw new Error(`${path} is not an EVTX file (no ElfFile signature)`);
    }
    const buf = Buffer.alloc(CHUNK_SIZE);
    for (let index = 0; ; index++) {
      const offset = FILE_HEADER_SIZE + index * CHUNK_SIZE;
      const read = await file.read(buf, 0, CHUNK_SIZE, offset);
      if (read.bytesRead === 0) break;
      const chunkBuf = buf.subarray(0, read.bytesRead);
      // Unused chunks at the end of a pre-allocated log are all zeros: not an error.
      if (chunkBuf.readUInt32LE(0) === 0 && chunkBuf.subarray(0, 512).every((b) => b === 0)) continue;
      const problem = checkChunk(chunkBuf);
      if (problem) {
        warn({ chunk: index, offset, message: problem });
        continue;
      }
      // Parse the whole chunk before yielding, so a chunk that breaks midway is skipped whole.
      let records: EvtxRecord[];
      try {
        records = [...recordsOfChunk(Buffer.from(chunkBuf))];
      } catch (error) {
        warn({ chunk: index, offset, message: (error as Error).message });
        continue;
      }
      yield* records;
    }
  } finally {
    await file.close();
  }
}

// ---- flattening ----

function textOf(element: EvtxElement | undefined): string {
  if (!element) return "";
  const children = element.children;
  if (children.length === 1 && typeof children[0] === "string") return children[0];
  let text = "";
  for (const c of children) text += typeof c === "string" ? c : textOf(c);
  return text;
}

export interface FlatEvent {
  EventID: number;
  /** Milliseconds since the Unix epoch. */
  TimeCreated: number;
  Computer: string;
  Channel: string;
  Provider: string;
  EventRecordID: number;
  Task: number | null;
  Level: string;
  Keywords: string;
  /** EventData's named Data elements; an empty element reads as null. */
  data: Record<string, string | null>;
}

/** System fields and named EventData values, the shape Windows event shippers and Sentinel use. */
export function flattenEvent(record: EvtxRecord): FlatEvent {
  const system = new Map<string, EvtxElement>();
  let eventData: EvtxElement | undefined;
  for (const child of record.root.children) {
    if (typeof child === "string") continue;
    if (child.name === "System") {
      for (const field of child.children) if (typeof field !== "string" && !system.has(field.name)) system.set(field.name, field);
    } else if (child.name === "EventData") eventData = child;
  }
  const data: Record<string, string | null> = {};
  if (eventData) {
    for (const item of eventData.children) {
      if (typeof item === "string" || item.name !== "Data") continue;
      const name = item.attributes.Name;
      if (!name) continue;
      // XML normalises line endings to LF; EVTX stores the CRLF the event source wrote.
      let text = textOf(item);
      if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n");
      data[name] = text === "" ? null : text;
    }
  }
  const timeCreated = system.get("TimeCreated")?.attributes.SystemTime;
  const task = textOf(system.get("Task"));
  return {
    EventID: Number(textOf(system.get("EventID"))),
    TimeCreated: (timeCreated ? parseDatetime(timeCreated) : null) ?? record.written,
    Computer: textOf(system.get("Computer")),
    Channel: textOf(system.get("Channel")),
    Provider: system.get("Provider")?.attributes.Name ?? "",
    EventRecordID: Number(textOf(system.get("EventRecordID")) || record.recordId),
    Task: task === "" ? null : Number(task),
    Level: textOf(system.get("Level")),
    Keywords: textOf(system.get("Keywords")),
    data,
  };
}
