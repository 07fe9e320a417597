/**
 * EVTX BinXML: the token stream inside a chunk that encodes each event's XML.
 *
 * A record is a fragment that instantiates a template (defined once per chunk, inline at its first
 * use) with an array of typed substitution values. A value of type BinXml (0x21) is itself a
 * fragment, usually instantiating another template, so nesting is recursive: it is capped in depth
 * and in the number of nodes one record may expand to, so a crafted file is rejected quickly instead
 * of exhausting memory.
 *
 * Element start tags come in two layouts: inside template definitions they carry a 2-byte
 * dependency identifier, elsewhere (record streams, nested fragments) they do not; some writers
 * leave it out of template definitions too. The layout is chosen per element from which reading
 * is consistent (the name reference and the element's data size), the context's layout first.
 */
import { FILETIME_UNIX_EPOCH } from "./evtx-format.js";
import { utcMs } from "../kql/values.js";

export interface EvtxElement {
  name: string;
  attributes: Record<string, string>;
  children: EvtxNode[];
}
/** Text, an element, or the items of an array value (kept apart, never joined). */
export type EvtxNode = EvtxElement | string | EvtxArray;
export interface EvtxArray {
  items: string[];
}

/** One child element of a `ValueListElement`: its name and attributes (shared by every event of its template), and its one value. */
export type ValueListItemValue = string | EvtxArray | null;

/**
 * An element whose children are elements holding one value each (or none: null), as most templates
 * fix EventData's Data elements: held as the values, the child elements made only if something walks
 * them. Events are mostly read for their fields and their XML, which the values give directly, and
 * making an element per value for every event was a tenth of the reading.
 */
export class ValueListElement implements EvtxElement {
  #children: EvtxNode[] | undefined;

  constructor(
    readonly name: string,
    readonly attributes: Record<string, string>,
    /** Each child element's name. */
    readonly childNames: readonly string[],
    /** Each child element's attributes, shared and frozen (see `sharedAttributes`). */
    readonly childAttributes: readonly Readonly<Record<string, string>>[],
    readonly values: readonly ValueListItemValue[],
  ) {}

  get children(): EvtxNode[] {
    return (this.#children ??= this.values.map((value, i) => ({
      name: this.childNames[i],
      attributes: this.childAttributes[i],
      children: value === null ? [] : [value],
    })));
  }

  /** As JSON, the element it stands for. */
  toJSON(): EvtxElement {
    return { name: this.name, attributes: this.attributes, children: this.children };
  }
}

/** Limits against crafted input; real events stay far below them. */
export const BINXML_LIMITS = {
  /** Template instances and BinXml values nested inside one another. */
  maxNesting: 12,
  /** Elements, texts and values one record may expand to. */
  maxNodes: 50_000,
  /** Elements nested inside one another within one fragment. */
  maxElementDepth: 128,
};

export class EvtxFormatError extends Error {}

export interface Slot {
  slot: number;
  optional: boolean;
}
type TemplatePart = string | Slot;
export interface TemplateAttribute {
  name: string;
  value: TemplatePart[];
}
export interface TemplateElement {
  name: string;
  attributes: TemplateAttribute[];
  children: TemplateNode[];
}
/** A template instantiated inside a fragment, with its own values. */
export interface InstanceNode {
  template: TemplateNode[];
  values: Values;
}
export type TemplateNode = TemplateElement | TemplatePart | InstanceNode;

/** A template instance's substitution values: each one's type, and where its bytes are in the chunk. */
export class Values {
  constructor(
    private readonly buf: Buffer,
    /** Where the value descriptors (size 2, type 1, unused 1) start. */
    private readonly descriptors: number,
    /** Where each value starts, and (last) where the last one ends. */
    private readonly offsets: number[],
  ) {}

  has(slot: number): boolean {
    return slot < this.offsets.length - 1;
  }
  type(slot: number): number {
    return this.buf[this.descriptors + slot * 4 + 2];
  }
  offset(slot: number): number {
    return this.offsets[slot];
  }
  size(slot: number): number {
    return this.offsets[slot + 1] - this.offsets[slot];
  }
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const RECORD_SIGNATURE = 0x00002a2a;

export function isSlot(node: TemplateNode): node is Slot {
  return typeof node === "object" && "slot" in node;
}
export function isInstance(node: TemplateNode): node is InstanceNode {
  return typeof node === "object" && "template" in node;
}

/** One chunk's bytes with its name and template caches (names and templates are chunk offsets). */
export class BinXmlChunk {
  private readonly names = new Map<number, string>();
  private readonly templates = new Map<number, TemplateNode[] | EvtxFormatError>();
  private readonly parsing = new Set<number>();

  constructor(readonly buf: Buffer) {}

  /** A name structure: next offset (4), hash (2), length in chars (2), UTF-16 text, NUL (2). */
  name(at: number): string {
    let cached = this.names.get(at);
    if (cached === undefined) {
      const length = this.buf.readUInt16LE(at + 6);
      if (at + 8 + length * 2 > this.buf.length) throw new EvtxFormatError(`name at chunk offset ${at} runs past the chunk`);
      cached = templateText(this.buf, at + 8, at + 8 + length * 2);
      this.names.set(at, cached);
    }
    return cached;
  }

  /** Whether a name reference read at `pos` is consistent: inline right after it, or an earlier, sane name structure. */
  plausibleNameRef(pos: number): boolean {
    if (pos + 4 > this.buf.length) return false;
    const offset = this.buf.readUInt32LE(pos);
    if (offset === pos + 4) return true;
    if (offset >= pos || offset + 8 > this.buf.length) return false;
    const length = this.buf.readUInt16LE(offset + 6);
    return offset + 10 + length * 2 <= this.buf.length && this.buf.readUInt16LE(offset + 8 + length * 2) === 0;
  }

  /** Reads a name reference; when the name is stored inline right here, steps over it. */
  nameRef(pos: number): { name: string; next: number } {
    const offset = this.buf.readUInt32LE(pos);
    pos += 4;
    const name = this.name(offset);
    return { name, next: offset === pos ? pos + 10 + name.length * 2 : pos };
  }

  /** A template just parsed, as this chunk keeps it (a subclass may share one tree among the chunks defining the same template). */
  protected adopt(template: TemplateNode[], definitionOffset: number): TemplateNode[];
  protected adopt(template: TemplateNode[]): TemplateNode[] {
    return template;
  }

  /**
   * A tree already known for the definition whose fragment is `start`-`end` (the same template
   * defined in another chunk), taken instead of parsing it again; undefined to parse it. Only a
   * tree the definition would parse to (`definitionMatches`) may be given.
   */
  protected recognise(definitionOffset: number, start: number, end: number): TemplateNode[] | undefined;
  protected recognise(): TemplateNode[] | undefined {
    return undefined;
  }

  template(definitionOffset: number, depth: number): TemplateNode[] {
    const known = this.templates.get(definitionOffset);
    if (known instanceof EvtxFormatError) throw known;
    if (known) return known;
    if (this.parsing.has(definitionOffset)) throw new EvtxFormatError(`template at chunk offset ${definitionOffset} contains itself`);
    this.parsing.add(definitionOffset);
    try {
      // Definition: next offset (4), GUID (16), data size (4), then a BinXML fragment.
      const size = this.buf.readUInt32LE(definitionOffset + 20);
      const start = definitionOffset + 24;
      if (start + size > this.buf.length) throw new EvtxFormatError(`template at chunk offset ${definitionOffset} runs past the chunk`);
      const end = start + size;
      const template =
        (depth <= BINXML_LIMITS.maxNesting ? this.recognise(definitionOffset, start, end) : undefined) ??
        this.adopt(new FragmentParser(this, start, end, true, depth).fragment(), definitionOffset);
      this.templates.set(definitionOffset, template);
      return template;
    } catch (error) {
      const failure = asFormatError(error, `template at chunk offset ${definitionOffset}`);
      this.templates.set(definitionOffset, failure);
      throw failure;
    } finally {
      this.parsing.delete(definitionOffset);
    }
  }
}

/** Texts of up to this many characters are looked up before they are decoded. */
const TEXT_CACHE_CHARS = 48;
const TEXT_CACHE_SLOTS = 1024;
/** Names and template texts decoded before, by a hash of their UTF-16 code units; a new text takes an old one's place. */
const textCache = new Array<string>(TEXT_CACHE_SLOTS).fill("");

/**
 * `buf.toString("utf16le", start, end)` for the names and texts of templates. Every chunk defines
 * its templates again, with the same element and attribute names and the same EventData field
 * names, so finding the text already decoded (hashing and comparing its code units) costs a
 * fraction of decoding it again.
 */
function templateText(buf: Buffer, start: number, end: number): string {
  const stop = Math.min(end, buf.length);
  const chars = (stop - start) >> 1;
  if (chars <= 0 || chars > TEXT_CACHE_CHARS) return buf.toString("utf16le", start, stop);
  let hash = chars;
  for (let i = start, last = start + chars * 2; i < last; i += 2) hash = Math.imul(hash ^ (buf[i] | (buf[i + 1] << 8)), 0x01000193);
  const slot = (hash ^ (hash >>> 15)) & (TEXT_CACHE_SLOTS - 1);
  const cached = textCache[slot];
  if (cached.length === chars) {
    let same = true;
    for (let k = 0, i = start; k < chars; k++, i += 2) {
      if (cached.charCodeAt(k) !== (buf[i] | (buf[i + 1] << 8))) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  const text = buf.toString("utf16le", start, stop);
  textCache[slot] = text;
  return text;
}

/** Errors from reading past a buffer become format errors that say where. */
export function asFormatError(error: unknown, where: string): EvtxFormatError {
  if (error instanceof EvtxFormatError) return error;
  if (error instanceof RangeError) return new EvtxFormatError(`${where} runs past the end of its chunk`);
  if (error instanceof Error) return new EvtxFormatError(`${where}: ${error.message}`);
  return new EvtxFormatError(`${where}: ${String(error)}`);
}

/** Whether the element start at `at` carries a dependency identifier (the context's layout first, when both read sanely). */
function hasDependencyId(chunk: BinXmlChunk, at: number, end: number, inTemplate: boolean): boolean {
  if (startTagConsistent(chunk, at, end, inTemplate)) return inTemplate;
  if (startTagConsistent(chunk, at, end, !inTemplate)) return !inTemplate;
  return inTemplate;
}

/** Whether reading the element start at `at` with (or without) a dependency identifier gives a sane size and name. */
function startTagConsistent(chunk: BinXmlChunk, at: number, end: number, withId: boolean): boolean {
  const sizeAt = at + (withId ? 3 : 1);
  if (sizeAt + 8 > end) return false;
  if (chunk.buf.readUInt32LE(sizeAt) > end - sizeAt) return false;
  return chunk.plausibleNameRef(sizeAt + 4);
}

function isTemplateElement(node: TemplateNode | undefined): node is TemplateElement {
  return typeof node === "object" && "name" in node;
}

/**
 * Reads a template definition's tokens as FragmentParser does, comparing what each gives with a
 * tree instead of building one. It says yes only where parsing would succeed and give a tree the
 * same as `expected` in every name, text, slot and nesting; anything it does not follow (a
 * reference, an entity, a nested template, a damaged byte) says no, and the definition is parsed.
 */
class DefinitionMatcher {
  private elementDepth = 0;
  private readonly buf: Buffer;
  private readonly start: number;
  /**
   * What the match read outside the definition's bytes: the names defined before it (offset and end
   * of each), or null when it read more than names there (a start tag's layout told by reading it
   * the other way). With these bytes and the definition's the same at the same offsets, any chunk
   * matches the same tree.
   */
  outsideNames: number[] | null = [];

  constructor(
    private readonly chunk: BinXmlChunk,
    private pos: number,
    private readonly end: number,
  ) {
    this.buf = chunk.buf;
    this.start = pos;
  }

  fragment(expected: readonly TemplateNode[]): boolean {
    const buf = this.buf;
    let i = 0;
    while (this.pos < this.end) {
      const token = buf[this.pos];
      if (token === 0x00) {
        this.pos += 1;
        break;
      }
      if (token === 0x0f) {
        this.pos += 4;
        continue;
      }
      if ((token & 0xbf) !== 0x01) return false;
      const element = expected[i++];
      if (!isTemplateElement(element) || !this.element(element)) return false;
    }
    if (this.pos > this.end) this.outsideNames = null;
    return i === expected.length;
  }

  /** Whether the name reference at the current position names `name`; steps over it (and the name, when inline) as nameRef does. */
  private name(name: string): boolean {
    const buf = this.buf;
    if (this.pos + 4 > buf.length) return false;
    const offset = buf.readUInt32LE(this.pos);
    if (offset + 8 > buf.length) return false;
    const length = buf.readUInt16LE(offset + 6);
    // A name defined outside the definition (by another template of the chunk) may differ in another chunk.
    const nameEnd = offset + 10 + length * 2;
    if ((offset < this.start || nameEnd > this.end) && this.outsideNames) this.noteOutsideName(offset, nameEnd);
    if (!this.textAt(name, offset + 8, length)) return false;
    this.pos += 4;
    if (offset === this.pos) this.pos += 10 + length * 2;
    return true;
  }

  /** Records a name read outside the definition, once (the list holds pairs of offset and end). */
  private noteOutsideName(offset: number, end: number): void {
    const names = this.outsideNames!;
    for (let i = 0; i < names.length; i += 2) if (names[i] === offset && names[i + 1] === end) return;
    names.push(offset, end);
  }

  /** Whether the `chars` UTF-16 code units at `at` (all inside the chunk) are `text`. */
  private textAt(text: TemplateNode | undefined, at: number, chars: number): boolean {
    const buf = this.buf;
    if (typeof text !== "string" || text.length !== chars || at + chars * 2 > buf.length) return false;
    for (let k = 0, i = at; k < chars; k++, i += 2) if (text.charCodeAt(k) !== (buf[i] | (buf[i + 1] << 8))) return false;
    return true;
  }

  private element(expected: TemplateElement): boolean {
    const buf = this.buf;
    if (++this.elementDepth > BINXML_LIMITS.maxElementDepth) return false;
    const hasAttributes = (buf[this.pos] & 0x40) !== 0;
    // A start tag that does not read sanely with a dependency identifier has its layout told by reading it the other way (what that reads may lie outside).
    const withId = startTagConsistent(this.chunk, this.pos, this.end, true);
    if (!withId) this.outsideNames = null;
    this.pos += withId || hasDependencyId(this.chunk, this.pos, this.end, true) ? 7 : 5;
    if (!this.name(expected.name)) return false;
    let attributes = 0;
    if (hasAttributes) {
      this.pos += 4;
      while (this.pos < buf.length && (buf[this.pos] & 0xbf) === 0x06) {
        this.pos += 1;
        const attribute = expected.attributes[attributes++];
        if (!attribute || !this.name(attribute.name) || !this.content(true, attribute.value)) return false;
      }
    }
    if (attributes !== expected.attributes.length || this.pos >= buf.length) return false;
    const close = buf[this.pos];
    this.pos += 1;
    if (close === 0x02) {
      if (!this.content(false, expected.children)) return false;
    } else if (close !== 0x03 || expected.children.length !== 0) return false;
    this.elementDepth--;
    return true;
  }

  private content(inAttribute: boolean, expected: readonly TemplateNode[]): boolean {
    const buf = this.buf;
    let i = 0;
    for (;;) {
      if (this.pos >= this.end) return false;
      const base = buf[this.pos] & 0xbf;
      if (inAttribute && (base === 0x06 || base === 0x02 || base === 0x03)) return i === expected.length;
      switch (base) {
        case 0x04:
          this.pos += 1;
          return i === expected.length;
        case 0x00:
          return i === expected.length;
        case 0x01: {
          const element = expected[i++];
          if (!isTemplateElement(element) || !this.element(element)) return false;
          break;
        }
        case 0x05: {
          if (this.pos + 4 > buf.length || buf[this.pos + 1] !== 0x01) return false;
          const chars = buf.readUInt16LE(this.pos + 2);
          if (!this.textAt(expected[i++], this.pos + 4, chars)) return false;
          this.pos += 4 + chars * 2;
          break;
        }
        case 0x07: {
          if (this.pos + 3 > buf.length) return false;
          const chars = buf.readUInt16LE(this.pos + 1);
          if (!this.textAt(expected[i++], this.pos + 3, chars)) return false;
          this.pos += 3 + chars * 2;
          break;
        }
        case 0x0d:
        case 0x0e: {
          const slot = expected[i++];
          if (this.pos + 3 > buf.length || typeof slot !== "object" || !isSlot(slot)) return false;
          if (slot.slot !== buf.readUInt16LE(this.pos + 1) || slot.optional !== (base === 0x0e)) return false;
          this.pos += 4;
          break;
        }
        default:
          return false;
      }
    }
  }
}

/**
 * Whether the template definition whose fragment is `start`-`end` in `chunk` parses to a tree the
 * same as `expected` (as sameStructure compares): then `expected` can stand for it unparsed.
 */
export function definitionMatches(chunk: BinXmlChunk, start: number, end: number, expected: readonly TemplateNode[]): boolean {
  return matchDefinition(chunk, start, end, expected).matches;
}

/**
 * definitionMatches, and what outside the definition the match depended on: the names defined
 * before it (pairs of offset and end), or null when it read more than names there (a start tag
 * whose layout was told by reading past it). Wherever the definition's bytes and those names' bytes
 * stand the same at the same chunk offsets, they match `expected` too.
 */
export function matchDefinition(
  chunk: BinXmlChunk,
  start: number,
  end: number,
  expected: readonly TemplateNode[],
): { matches: boolean; outsideNames: readonly number[] | null } {
  const matcher = new DefinitionMatcher(chunk, start, end);
  const matches = matcher.fragment(expected);
  return { matches, outsideNames: matches ? matcher.outsideNames : null };
}

/** Parses BinXML tokens into template trees. */
class FragmentParser {
  private elementDepth = 0;

  constructor(
    private readonly chunk: BinXmlChunk,
    private pos: number,
    private readonly end: number,
    /** Inside a template definition, where element start tags normally carry a dependency identifier. */
    private readonly inTemplate: boolean,
    private readonly depth: number,
  ) {
    if (depth > BINXML_LIMITS.maxNesting) throw new EvtxFormatError(`BinXML nested more than ${BINXML_LIMITS.maxNesting} deep`);
  }

  fragment(): TemplateNode[] {
    const buf = this.chunk.buf;
    const out: TemplateNode[] = [];
    while (this.pos < this.end) {
      const token = buf[this.pos];
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
      if ((token & 0xbf) === 0x01) {
        out.push(this.element());
        continue;
      }
      // A record's own stream is whole once its event is read: a damaged byte where its end-of-stream token
      // (or the record's padding) belongs costs nothing.
      if (this.depth === 0 && !this.inTemplate && out.length > 0) break;
      throw this.unexpected(token);
    }
    return out;
  }

  private unexpected(token: number | undefined): EvtxFormatError {
    return token === undefined
      ? new EvtxFormatError(`BinXML runs past the end of its chunk`)
      : new EvtxFormatError(`unexpected BinXML token 0x${token.toString(16)} at chunk offset ${this.pos}`);
  }

  private templateInstance(): InstanceNode {
    const buf = this.chunk.buf;
    this.pos += 2 + 4; // token, unknown byte, template id
    const definition = buf.readUInt32LE(this.pos);
    this.pos += 4;
    if (definition === this.pos) this.pos += 24 + buf.readUInt32LE(this.pos + 20); // inline definition: step over it
    const template = this.chunk.template(definition, this.depth + 1);
    const count = buf.readUInt32LE(this.pos);
    this.pos += 4;
    if (this.pos + count * 4 > this.end) throw new EvtxFormatError(`template instance with ${count} values runs past its fragment`);
    const descriptors = this.pos;
    const offsets = new Array<number>(count + 1);
    let valueAt = this.pos + count * 4;
    for (let i = 0; i < count; i++) {
      offsets[i] = valueAt;
      valueAt += buf[this.pos] | (buf[this.pos + 1] << 8);
      this.pos += 4;
    }
    offsets[count] = valueAt;
    if (valueAt > this.end) throw new EvtxFormatError(`template values run past their fragment`);
    this.pos = valueAt;
    return { template, values: new Values(buf, descriptors, offsets) };
  }

  private element(): TemplateElement {
    const c = this.chunk;
    const buf = c.buf;
    if (++this.elementDepth > BINXML_LIMITS.maxElementDepth)
      throw new EvtxFormatError(`elements nested more than ${BINXML_LIMITS.maxElementDepth} deep`);
    const token = buf[this.pos];
    const hasAttributes = (token & 0x40) !== 0;
    this.pos += hasDependencyId(c, this.pos, this.end, this.inTemplate) ? 7 : 5; // token, [dependency id], data size
    const { name, next } = c.nameRef(this.pos);
    this.pos = next;
    const element: TemplateElement = { name, attributes: [], children: [] };
    if (hasAttributes) {
      this.pos += 4; // attribute list size
      while ((buf[this.pos] & 0xbf) === 0x06) {
        this.pos += 1;
        const attribute = c.nameRef(this.pos);
        this.pos = attribute.next;
        element.attributes.push({ name: attribute.name, value: this.content(true) as TemplatePart[] });
      }
    }
    const close = buf[this.pos];
    this.pos += 1;
    if (close === 0x02) element.children = this.content(false);
    else if (close !== 0x03) throw new EvtxFormatError(`expected the end of a start tag at chunk offset ${this.pos - 1}`);
    this.elementDepth--;
    return element;
  }

  /** Text, values, substitutions and child elements, up to an end tag (or the end of an attribute's value). */
  private content(inAttribute: boolean): TemplateNode[] {
    const c = this.chunk;
    const buf = c.buf;
    const parts: TemplateNode[] = [];
    for (;;) {
      if (this.pos >= this.end) throw new EvtxFormatError(`element not closed before the end of its fragment`);
      const token = buf[this.pos];
      const base = token & 0xbf;
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
          const type = buf[this.pos + 1];
          this.pos += 2;
          if (type !== 0x01) throw new EvtxFormatError(`unsupported inline value type 0x${type.toString(16)} at chunk offset ${this.pos}`);
          const chars = buf.readUInt16LE(this.pos);
          parts.push(templateText(buf, this.pos + 2, this.pos + 2 + chars * 2));
          this.pos += 2 + chars * 2;
          break;
        }
        case 0x07: {
          const chars = buf.readUInt16LE(this.pos + 1);
          parts.push(templateText(buf, this.pos + 3, this.pos + 3 + chars * 2));
          this.pos += 3 + chars * 2;
          break;
        }
        case 0x08:
          parts.push(String.fromCharCode(buf.readUInt16LE(this.pos + 1)));
          this.pos += 3;
          break;
        case 0x09: {
          this.pos += 1;
          const entity = c.nameRef(this.pos);
          this.pos = entity.next;
          parts.push(ENTITIES[entity.name] ?? `&${entity.name};`);
          break;
        }
        case 0x0a: {
          // processing instruction target, then (0x0b) its data: kept out of the event's values
          this.pos += 1;
          this.pos = c.nameRef(this.pos).next;
          break;
        }
        case 0x0b: {
          const chars = buf.readUInt16LE(this.pos + 1);
          this.pos += 3 + chars * 2;
          break;
        }
        case 0x0c:
          parts.push(this.templateInstance());
          break;
        case 0x0d:
        case 0x0e:
          parts.push({ slot: buf.readUInt16LE(this.pos + 1), optional: base === 0x0e });
          this.pos += 4;
          break;
        default:
          throw this.unexpected(token);
      }
    }
  }
}

// ---- values ----

function HEX(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/** A 64-bit value at `at` in hex without zero padding, from its two 32-bit words (no BigInt). */
function hex64(buf: Buffer, at: number): string {
  const high = buf.readUInt32LE(at + 4);
  const low = buf.readUInt32LE(at);
  return high === 0 ? `0x${low.toString(16)}` : `0x${high.toString(16)}${low.toString(16).padStart(8, "0")}`;
}

/** Seconds from 1601 to the Unix epoch (FILETIME_UNIX_EPOCH is a whole number of seconds). */
const UNIX_EPOCH_SECONDS = Number(FILETIME_UNIX_EPOCH / 10_000_000n);
/** 2^32 = 429 * 10^7 + 4,967,296: splits a FILETIME's high word into whole seconds and a remainder small enough to stay exact. */
const HIGH_WORD_SECONDS = 429;
const HIGH_WORD_REST = 4_967_296;

/** The second last rendered (records come in time order, so the next is mostly the same) and its "YYYY-MM-DDTHH:MM:SS" as character codes. */
let cachedSecond = NaN;
const secondCodes = new Array<number>(19).fill(0);

/** FILETIME (100 ns ticks since 1601) as Kusto's datetime text, exact to the tick. */
export function filetimeToText(ticks: bigint): string {
  return filetimeWordsToText(Number(ticks >> 32n), Number(ticks & 0xffffffffn));
}

/** The FILETIME stored at `at` as Kusto's datetime text (read as two 32-bit words: no BigInt on the hot path). */
export function filetimeTextAt(buf: Buffer, at: number): string {
  return filetimeWordsToText(buf.readUInt32LE(at + 4), buf.readUInt32LE(at));
}

function filetimeWordsToText(high: number, low: number): string {
  let second: number;
  let rest: number;
  if (high < 2 ** 28) {
    // ticks = high * 2^32 + low, split so every intermediate is an exact integer below 2^53. The quotient
    // is below 2^30, where a double's rounding (under 10^-7) cannot carry a remainder of at most 1 - 10^-7
    // to the next integer, so flooring it is exact (and much cheaper than a floating-point remainder).
    const small = high * HIGH_WORD_REST + low;
    const quotient = Math.floor(small / 10_000_000);
    rest = small - quotient * 10_000_000;
    second = high * HIGH_WORD_SECONDS + quotient - UNIX_EPOCH_SECONDS;
  } else {
    // Beyond the year 30,000 (a damaged value): exact in BigInt.
    const ticks = (BigInt(high) << 32n) | BigInt(low);
    rest = Number(ticks % 10_000_000n);
    second = Number(ticks / 10_000_000n) - UNIX_EPOCH_SECONDS;
  }
  if (second !== cachedSecond) {
    if (second >= YEAR_10000) {
      // Years of five digits and more, as Date writes them (no longer Kusto datetime text, but what the value says).
      const date = new Date(second * 1000);
      return Number.isNaN(date.getTime()) ? "" : `${date.toISOString().slice(0, 19)}.${String(rest).padStart(7, "0")}Z`;
    }
    civilSecondCodes(second);
    cachedSecond = second;
  }
  // One string from its character codes: no pieces to join later.
  const c = secondCodes;
  return String.fromCharCode(
    c[0],
    c[1],
    c[2],
    c[3],
    c[4],
    c[5],
    c[6],
    c[7],
    c[8],
    c[9],
    c[10],
    c[11],
    c[12],
    c[13],
    c[14],
    c[15],
    c[16],
    c[17],
    c[18],
    46,
    48 + ((rest / 1_000_000) | 0),
    48 + (((rest / 100_000) | 0) % 10),
    48 + (((rest / 10_000) | 0) % 10),
    48 + (((rest / 1000) | 0) % 10),
    48 + (((rest / 100) | 0) % 10),
    48 + (((rest / 10) | 0) % 10),
    48 + (rest % 10),
    90,
  );
}

/** Seconds since the Unix epoch of 10000-01-01: later years are not four digits. */
const YEAR_10000 = 253_402_300_800;

/** Writes two decimal digits of `n` (0-99) as character codes at `at`. */
function twoDigits(codes: number[], at: number, n: number): void {
  codes[at] = 48 + ((n / 10) | 0);
  codes[at + 1] = 48 + (n % 10);
}

/**
 * "YYYY-MM-DDTHH:MM:SS" (UTC) of a second since the Unix epoch (from 1601 to 9999), into
 * `secondCodes`, without a Date: the civil date from the day number by the usual era arithmetic
 * of the proleptic Gregorian calendar (Date's own).
 */
function civilSecondCodes(second: number): void {
  const days = Math.floor(second / 86_400);
  const daySecond = second - days * 86_400;
  // Days since 0000-03-01, in 400-year eras of 146,097 days; years start in March so leap days fall last.
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(daySecond / 3600);
  const minute = Math.floor(daySecond / 60) - hour * 60;
  const c = secondCodes;
  twoDigits(c, 0, (year / 100) | 0);
  twoDigits(c, 2, year % 100);
  c[4] = 45;
  twoDigits(c, 5, month);
  c[7] = 45;
  twoDigits(c, 8, day);
  c[10] = 84;
  twoDigits(c, 11, hour);
  c[13] = 58;
  twoDigits(c, 14, minute);
  c[16] = 58;
  twoDigits(c, 17, daySecond % 60);
}

const HEX_BYTE_UPPER = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0").toUpperCase());

/** A GUID as Windows renders it: the first three fields little-endian, the rest in byte order, upper case. */
function guid(buf: Buffer, at: number): string {
  const h = HEX_BYTE_UPPER;
  const b = buf;
  const a = at;
  return `{${h[b[a + 3]]}${h[b[a + 2]]}${h[b[a + 1]]}${h[b[a]]}-${h[b[a + 5]]}${h[b[a + 4]]}-${h[b[a + 7]]}${h[b[a + 6]]}-${h[b[a + 8]]}${h[b[a + 9]]}-${h[b[a + 10]]}${h[b[a + 11]]}${h[b[a + 12]]}${h[b[a + 13]]}${h[b[a + 14]]}${h[b[a + 15]]}}`;
}

/** The number of sub-authorities of the SID at `at`, when they fit its `size` bytes. */
function sidAuthorities(buf: Buffer, at: number, size: number): number {
  const count = buf[at + 1];
  if (8 + count * 4 > size) throw new EvtxFormatError(`SID with ${count} sub-authorities does not fit its ${size} bytes`);
  return count;
}

function sid(buf: Buffer, at: number, size: number): string {
  const revision = buf[at];
  const count = sidAuthorities(buf, at, size);
  const authority = buf.readUIntBE(at + 2, 6);
  let text = `S-${revision}-${authority >= 2 ** 32 ? HEX(authority) : authority}`;
  for (let i = 0; i < count; i++) text += `-${buf.readUInt32LE(at + 8 + i * 4)}`;
  return text;
}

function systemTime(buf: Buffer, at: number): string {
  const part = (o: number) => buf.readUInt16LE(at + o);
  const iso = new Date(utcMs(part(0), part(2) - 1, part(6), part(8), part(10), part(12)) + part(14));
  return Number.isNaN(iso.getTime()) ? "" : `${iso.toISOString().slice(0, 23)}0000Z`;
}

/** Fixed item sizes of value types, by base type (0 for a type of no fixed size): a table, since every value looks its type up. */
const ITEM_SIZES = new Uint8Array(256);
for (const [type, size] of [
  [0x03, 1],
  [0x04, 1],
  [0x05, 2],
  [0x06, 2],
  [0x07, 4],
  [0x08, 4],
  [0x09, 8],
  [0x0a, 8],
  [0x0b, 4],
  [0x0c, 8],
  [0x0d, 4],
  [0x0f, 16],
  [0x11, 8],
  [0x12, 16],
  [0x14, 4],
  [0x15, 8],
])
  ITEM_SIZES[type] = size;

/** Fails where rendering a scalar value would: too few bytes for its type, a SID that does not fit. */
function checkScalar(buf: Buffer, type: number, at: number, size: number): void {
  const fixed = ITEM_SIZES[type];
  if (fixed !== 0 && size < fixed) throw new EvtxFormatError(`value of type 0x${type.toString(16)} has ${size} bytes`);
  if (type === 0x13) sidAuthorities(buf, at, size);
  else if (type === 0x10 && size !== 8 && at + 4 > buf.length) throw new RangeError("SizeT value past the chunk");
}

/** Fails where rendering an array value would (only SID arrays can). */
function checkArray(buf: Buffer, type: number, at: number, size: number): void {
  if ((type & 0x7f) !== 0x13) return;
  for (let p = at; p + 8 <= at + size;) p += 8 + sidAuthorities(buf, p, at + size - p) * 4;
}

/** A scalar value as Windows renders it in the event's XML (hex without zero padding, times to the tick). */
function renderScalar(buf: Buffer, type: number, at: number, size: number): string | null {
  switch (type) {
    case 0x01: {
      let end = at + size;
      while (end >= at + 2 && buf[end - 1] === 0 && buf[end - 2] === 0) end -= 2;
      return buf.toString("utf16le", at, end);
    }
    case 0x02: {
      let end = at + size;
      while (end > at && buf[end - 1] === 0) end--;
      return buf.toString("latin1", at, end);
    }
    case 0x03:
      return String(buf.readInt8(at));
    case 0x04:
      return String(buf[at]);
    case 0x05:
      return String(buf.readInt16LE(at));
    case 0x06:
      return String(buf.readUInt16LE(at));
    case 0x07:
      return String(buf.readInt32LE(at));
    case 0x08:
      return String(buf.readUInt32LE(at));
    case 0x09: {
      // Within ±2^53 a double holds the value exactly and prints it as BigInt would, without a BigInt.
      const high = buf.readInt32LE(at + 4);
      return high >= -0x200000 && high < 0x200000 ? String(high * 2 ** 32 + buf.readUInt32LE(at)) : buf.readBigInt64LE(at).toString();
    }
    case 0x0a: {
      const high = buf.readUInt32LE(at + 4);
      return high < 0x200000 ? String(high * 2 ** 32 + buf.readUInt32LE(at)) : buf.readBigUInt64LE(at).toString();
    }
    case 0x0b:
      return String(buf.readFloatLE(at));
    case 0x0c:
      return String(buf.readDoubleLE(at));
    case 0x0d:
      return buf.readUInt32LE(at) ? "true" : "false";
    case 0x0e:
      return buf.toString("hex", at, at + size).toUpperCase();
    case 0x0f:
      return guid(buf, at);
    case 0x10:
      return size === 8 ? hex64(buf, at) : HEX(buf.readUInt32LE(at));
    case 0x11:
      return filetimeTextAt(buf, at);
    case 0x12:
      return systemTime(buf, at);
    case 0x13:
      return sid(buf, at, size);
    case 0x14:
      return HEX(buf.readUInt32LE(at));
    case 0x15:
      return hex64(buf, at);
    default:
      return buf.toString("hex", at, at + size).toUpperCase();
  }
}

function renderArray(buf: Buffer, type: number, at: number, size: number): EvtxArray {
  const base = type & 0x7f;
  const items: string[] = [];
  if (base === 0x01) {
    const parts = buf.toString("utf16le", at, at + size).split("\u0000");
    if (parts[parts.length - 1] === "") parts.pop();
    return { items: parts };
  }
  if (base === 0x02) {
    const parts = buf.toString("latin1", at, at + size).split("\u0000");
    if (parts[parts.length - 1] === "") parts.pop();
    return { items: parts };
  }
  if (base === 0x13) {
    for (let p = at; p + 8 <= at + size;) {
      const itemSize = 8 + buf[p + 1] * 4;
      items.push(sid(buf, p, at + size - p));
      p += itemSize;
    }
    return { items };
  }
  const itemSize = base === 0x10 ? 8 : ITEM_SIZES[base];
  if (!itemSize) return { items: [buf.toString("hex", at, at + size).toUpperCase()] };
  for (let p = at; p + itemSize <= at + size; p += itemSize) items.push(renderScalar(buf, base, p, itemSize) ?? "");
  return { items };
}

// ---- instantiation: template + values -> element tree ----

/** Whether a value of this type and size stands for nothing (no node, no text). */
export function isEmptyValue(type: number, size: number): boolean {
  return type === 0x00 || (size === 0 && type !== 0x01 && type !== 0x02);
}

/** The values of nodes outside any template instance: a record's own nodes, a BinXml value's. */
export const NO_VALUES = new Values(Buffer.alloc(0), 0, [0]);

/**
 * Instantiates templates with their values. Every node visited counts against the record's node
 * limit, so a walk that builds nothing (`validate`) fails exactly where building the tree would.
 */
export class Expansion {
  private visited = 0;
  constructor(protected readonly chunk: BinXmlChunk) {}

  /** Counts `n` more nodes visited. */
  count(n = 1) {
    this.visited += n;
    if (this.visited > BINXML_LIMITS.maxNodes) throw new EvtxFormatError(`record expands to more than ${BINXML_LIMITS.maxNodes} nodes`);
  }

  /** The nodes of a BinXml value's fragment, one nesting level down. */
  protected nested(values: Values, slot: number, depth: number): TemplateNode[] {
    const offset = values.offset(slot);
    return new FragmentParser(this.chunk, offset, offset + values.size(slot), false, depth + 1).fragment();
  }

  protected enterInstance(depth: number): void {
    if (depth + 1 > BINXML_LIMITS.maxNesting) throw new EvtxFormatError(`BinXML nested more than ${BINXML_LIMITS.maxNesting} deep`);
  }

  /** A substitution value: text, an array, nested nodes (BinXml), or nothing (also for a slot past the values). */
  value(values: Values, slot: number, depth: number): string | EvtxArray | EvtxNode[] | null {
    if (!values.has(slot)) return null;
    const type = values.type(slot);
    const size = values.size(slot);
    if (isEmptyValue(type, size)) return null;
    if (type === 0x21) {
      const out: EvtxNode[] = [];
      for (const node of this.nested(values, slot, depth)) this.into(out, node, NO_VALUES, depth + 1);
      return out;
    }
    const offset = values.offset(slot);
    if (type & 0x80) return renderArray(this.chunk.buf, type, offset, size);
    checkScalar(this.chunk.buf, type, offset, size);
    return renderScalar(this.chunk.buf, type, offset, size);
  }

  /** Fails where `value` would, and counts what it would expand, without rendering anything. */
  check(values: Values, slot: number, depth: number): void {
    if (!values.has(slot)) return;
    const type = values.type(slot);
    const size = values.size(slot);
    if (isEmptyValue(type, size)) return;
    if (type === 0x21) {
      for (const node of this.nested(values, slot, depth)) this.validate(node, NO_VALUES, depth + 1);
      return;
    }
    if (type & 0x80) checkArray(this.chunk.buf, type, values.offset(slot), size);
    else checkScalar(this.chunk.buf, type, values.offset(slot), size);
  }

  /** Visits `node` as `into` would, building nothing: for the parts of a record nobody reads. */
  validate(node: TemplateNode, values: Values, depth: number): void {
    this.count();
    if (typeof node === "string") return;
    if (isSlot(node)) {
      this.check(values, node.slot, depth);
      return;
    }
    if (isInstance(node)) {
      this.enterInstance(depth);
      for (const n of node.template) this.validate(n, node.values, depth + 1);
      return;
    }
    this.validateElement(node, values, depth);
  }

  /** `validate` for an element already counted. */
  protected validateElement(node: TemplateElement, values: Values, depth: number): void {
    this.checkAttributes(node, values, depth);
    for (const child of node.children) this.validate(child, values, depth);
  }

  /** Checks every value an element's attributes hold, as `element` would render them. */
  protected checkAttributes(node: TemplateElement, values: Values, depth: number): void {
    for (const attribute of node.attributes)
      for (const part of attribute.value) if (typeof part !== "string") this.check(values, part.slot, depth);
  }

  /** The text of one attribute, or undefined when it is left out (an optional substitution with no value). */
  protected attributeText(attribute: TemplateAttribute, values: Values, depth: number): string | undefined {
    let text = "";
    let present = false;
    let optional = false;
    for (const part of attribute.value) {
      if (typeof part === "string") {
        text += part;
        present = true;
      } else {
        optional ||= part.optional;
        const rendered = this.value(values, part.slot, depth);
        if (typeof rendered === "string") {
          text += rendered;
          present = true;
        } else if (rendered && !Array.isArray(rendered)) {
          text += rendered.items.join(" ");
          present = true;
        }
      }
    }
    return present || !optional ? text : undefined;
  }

  /** An element instantiated (the node itself already counted). */
  element(node: TemplateElement, values: Values, depth: number): EvtxElement {
    const attributes: Record<string, string> = {};
    for (const attribute of node.attributes) {
      const text = this.attributeText(attribute, values, depth);
      if (text !== undefined) attributes[attribute.name] = text;
    }
    // An element with one child (most hold a value or a text) gets an array of its exact length: an
    // array grown by push holds room for 17 nodes from its first.
    if (node.children.length === 1) return { name: node.name, attributes, children: this.onlyChild(node.children[0], values, depth) };
    const children: EvtxNode[] = [];
    for (const child of node.children) this.into(children, child, values, depth);
    return { name: node.name, attributes, children };
  }

  /** What `into` would append for `node` to an empty array, as an array. */
  private onlyChild(node: TemplateNode, values: Values, depth: number): EvtxNode[] {
    if (typeof node === "string") {
      this.count();
      return [node];
    }
    if (isSlot(node)) {
      this.count();
      const rendered = this.value(values, node.slot, depth);
      // A BinXml value's nodes come in an array of their own.
      return rendered === null ? [] : Array.isArray(rendered) ? rendered : [rendered];
    }
    const out: EvtxNode[] = [];
    this.into(out, node, values, depth);
    return out;
  }

  /** Appends the instantiated form of `node` to `out`. */
  into(out: EvtxNode[], node: TemplateNode, values: Values, depth: number): void {
    this.count();
    if (typeof node === "string") {
      out.push(node);
      return;
    }
    if (isSlot(node)) {
      const rendered = this.value(values, node.slot, depth);
      if (rendered === null) return;
      if (Array.isArray(rendered)) for (const n of rendered) out.push(n);
      else out.push(rendered);
      return;
    }
    if (isInstance(node)) {
      this.enterInstance(depth);
      for (const n of node.template) this.into(out, n, node.values, depth + 1);
      return;
    }
    out.push(this.element(node, values, depth));
  }
}

/** The size of the record at `pos` when its signature and both copies of its size agree and it fits before `limit`; otherwise 0. */
export function recordSizeAt(buf: Buffer, pos: number, limit: number): number {
  if (pos + 28 > limit || buf.readUInt32LE(pos) !== RECORD_SIGNATURE) return 0;
  const size = buf.readUInt32LE(pos + 4);
  if (size < 28 || pos + size > limit || buf.readUInt32LE(pos + size - 4) !== size) return 0;
  return size;
}

/** The id of the record at `pos`, as a number (rounded as Number() rounds the 64-bit id: once, to nearest). */
export function recordNumberAt(buf: Buffer, pos: number): number {
  return buf.readUInt32LE(pos + 12) * 2 ** 32 + buf.readUInt32LE(pos + 8);
}

/** The BinXML nodes of the record at `pos` (whose header has been checked). */
export function recordNodes(chunk: BinXmlChunk, pos: number, size: number): TemplateNode[] {
  return new FragmentParser(chunk, pos + 24, pos + size - 4, false, 0).fragment();
}

/** The event element of the record at `pos` (whose header has been checked). */
export function parseRecordEvent(chunk: BinXmlChunk, pos: number, size: number): EvtxElement {
  try {
    return eventElement(chunk, recordNodes(chunk, pos, size));
  } catch (error) {
    throw asFormatError(error, "record");
  }
}

/** The event element a record's nodes expand to (the first element among them). */
export function eventElement(chunk: BinXmlChunk, nodes: TemplateNode[]): EvtxElement {
  const expansion = new Expansion(chunk);
  const out: EvtxNode[] = [];
  for (const node of nodes) expansion.into(out, node, NO_VALUES, 0);
  const root = out.find((n): n is EvtxElement => typeof n === "object" && "name" in n);
  if (!root) throw new EvtxFormatError("record holds no event element");
  return root;
}
