/**
 * Writes Windows events as an EVTX file, so benchmarks and tests can have EVTX of any size.
 *
 * Each 64 KiB chunk defines one template inline with its first record (as Windows does) and every
 * later record in the chunk instantiates it by offset with its own substitution values. Chunk and
 * file headers carry the CRC32 checksums readers verify.
 */
import { open } from "node:fs/promises";
import { crc32 } from "node:zlib";
import {
  CHUNK_HEADER_SIZE,
  CHUNK_SIGNATURE,
  CHUNK_SIZE,
  FILE_HEADER_CHUNK_COUNT_OFFSET,
  FILE_HEADER_SIZE,
  FILE_SIGNATURE,
  FILETIME_UNIX_EPOCH,
} from "../readers/evtx-format.js";

const FIRST_RECORD = CHUNK_HEADER_SIZE;

export interface EvtxEventInput {
  eventId: number;
  /** Milliseconds since the Unix epoch. */
  time: number;
  computer: string;
  channel: string;
  provider: string;
  /** EventData values, in the order of `dataNames`. */
  data: readonly string[];
}

/** Windows' name hash (used by the chunk's lookup tables): h = h * 65599 + c, low 16 bits. */
function nameHash(name: string): number {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (Math.imul(hash, 65599) + name.charCodeAt(i)) >>> 0;
  return hash & 0xffff;
}

class ByteWriter {
  private buf = Buffer.alloc(4096);
  length = 0;
  constructor(readonly base: number) {}
  private ensure(n: number) {
    if (this.length + n > this.buf.length) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
  }
  u8(v: number) {
    this.ensure(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  u16(v: number) {
    this.ensure(2);
    this.buf.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number) {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
  }
  u64(v: bigint) {
    this.ensure(8);
    this.buf.writeBigUInt64LE(v, this.length);
    this.length += 8;
  }
  bytes(b: Buffer) {
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  utf16(s: string) {
    this.bytes(Buffer.from(s, "utf16le"));
  }
  patchU32(at: number, v: number) {
    this.buf.writeUInt32LE(v >>> 0, at);
  }
  /** Chunk offset of the next byte written. */
  get position() {
    return this.base + this.length;
  }
  result() {
    return this.buf.subarray(0, this.length);
  }
}

/** Template body: Event/System(...)/EventData(Data Name=...) with one substitution per value. */
function writeTemplate(w: ByteWriter, dataNames: readonly string[]) {
  const names = new Map<string, number>();
  const nameRef = (name: string) => {
    const known = names.get(name);
    if (known !== undefined) {
      w.u32(known);
      return;
    }
    const here = w.position + 4;
    w.u32(here);
    names.set(name, here);
    w.u32(0);
    w.u16(nameHash(name));
    w.u16(name.length);
    w.utf16(name);
    w.u16(0);
  };
  const open = (name: string, attributes: { name: string; slot?: number; text?: string }[]) => {
    w.u8(attributes.length ? 0x41 : 0x01);
    w.u16(0xffff);
    const sizeAt = w.length;
    w.u32(0);
    nameRef(name);
    if (attributes.length) {
      const listAt = w.length;
      w.u32(0);
      attributes.forEach((attribute, i) => {
        w.u8(i < attributes.length - 1 ? 0x46 : 0x06);
        nameRef(attribute.name);
        if (attribute.slot !== undefined) {
          w.u8(0x0e);
          w.u16(attribute.slot);
          w.u8(0x01);
        } else {
          w.u8(0x05);
          w.u8(0x01);
          w.u16(attribute.text!.length);
          w.utf16(attribute.text!);
        }
      });
      w.patchU32(listAt, w.length - listAt - 4);
    }
    return sizeAt;
  };
  const close = (sizeAt: number) => {
    w.u8(0x04);
    w.patchU32(sizeAt, w.length - sizeAt - 4);
  };
  const leaf = (name: string, slot: number, type: number, attributes: { name: string; slot?: number; text?: string }[] = []) => {
    const sizeAt = open(name, attributes);
    w.u8(0x02);
    w.u8(0x0e);
    w.u16(slot);
    w.u8(type);
    close(sizeAt);
  };
  const empty = (name: string, attributes: { name: string; slot?: number; text?: string }[]) => {
    const sizeAt = open(name, attributes);
    w.u8(0x03);
    w.patchU32(sizeAt, w.length - sizeAt - 4);
  };

  w.bytes(Buffer.from([0x0f, 0x01, 0x01, 0x00]));
  const event = open("Event", []);
  w.u8(0x02);
  const system = open("System", []);
  w.u8(0x02);
  empty("Provider", [{ name: "Name", slot: 0 }]);
  leaf("EventID", 1, 0x06);
  empty("TimeCreated", [{ name: "SystemTime", slot: 2 }]);
  leaf("EventRecordID", 3, 0x0a);
  leaf("Channel", 4, 0x01);
  leaf("Computer", 5, 0x01);
  close(system);
  const eventData = open("EventData", []);
  w.u8(0x02);
  dataNames.forEach((name, i) => leaf("Data", 6 + i, 0x01, [{ name: "Name", text: name }]));
  close(eventData);
  close(event);
  w.u8(0x00);
}

function filetime(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 10000n + BigInt(Math.round((ms - whole) * 10000)) + FILETIME_UNIX_EPOCH;
}

function substitutions(event: EvtxEventInput, recordId: number): { type: number; bytes: Buffer }[] {
  const text = (s: string) => ({ type: 0x01, bytes: Buffer.from(s, "utf16le") });
  const u16 = Buffer.alloc(2);
  u16.writeUInt16LE(event.eventId);
  const time = Buffer.alloc(8);
  time.writeBigUInt64LE(filetime(event.time));
  const id = Buffer.alloc(8);
  id.writeBigUInt64LE(BigInt(recordId));
  return [
    text(event.provider),
    { type: 0x06, bytes: u16 },
    { type: 0x11, bytes: time },
    { type: 0x0a, bytes: id },
    text(event.channel),
    text(event.computer),
    ...event.data.map((v) => (v === "" ? { type: 0x00, bytes: Buffer.alloc(0) } : text(v))),
  ];
}

function encodeRecord(
  event: EvtxEventInput,
  recordId: number,
  chunkOffset: number,
  templateOffset: number | undefined,
  dataNames: readonly string[],
): { bytes: Buffer; templateOffset: number } {
  const w = new ByteWriter(chunkOffset);
  w.bytes(Buffer.from([0x2a, 0x2a, 0x00, 0x00]));
  const sizeAt = w.length;
  w.u32(0);
  w.u64(BigInt(recordId));
  w.u64(filetime(event.time));
  w.bytes(Buffer.from([0x0f, 0x01, 0x01, 0x00]));
  w.u8(0x0c);
  w.u8(0x01);
  w.u32(0x5eed);
  let definition = templateOffset;
  if (definition === undefined) {
    definition = w.position + 4;
    w.u32(definition);
    w.u32(0);
    w.bytes(Buffer.alloc(16, 0x5e)); // template GUID
    const dataSizeAt = w.length;
    w.u32(0);
    const bodyStart = w.length;
    writeTemplate(w, dataNames);
    w.patchU32(dataSizeAt, w.length - bodyStart);
  } else {
    w.u32(definition);
  }
  const values = substitutions(event, recordId);
  w.u32(values.length);
  for (const value of values) {
    w.u16(value.bytes.length);
    w.u8(value.type);
    w.u8(0);
  }
  for (const value of values) w.bytes(value.bytes);
  w.u32(0); // trailing size, patched below
  const size = w.length;
  w.patchU32(sizeAt, size);
  w.patchU32(size - 4, size);
  return { bytes: w.result(), templateOffset: definition };
}

function chunkHeader(chunk: Buffer, firstNumber: number, lastNumber: number, lastRecordOffset: number, freeSpace: number) {
  chunk.write(CHUNK_SIGNATURE, 0, "latin1");
  chunk.writeBigUInt64LE(BigInt(firstNumber), 8);
  chunk.writeBigUInt64LE(BigInt(lastNumber), 16);
  chunk.writeBigUInt64LE(BigInt(firstNumber), 24);
  chunk.writeBigUInt64LE(BigInt(lastNumber), 32);
  chunk.writeUInt32LE(128, 40);
  chunk.writeUInt32LE(lastRecordOffset, 44);
  chunk.writeUInt32LE(freeSpace, 48);
  chunk.writeUInt32LE(crc32(chunk.subarray(FIRST_RECORD, freeSpace)), 52);
  chunk.writeUInt32LE(1, 120);
  chunk.writeUInt32LE(crc32(Buffer.concat([chunk.subarray(0, 120), chunk.subarray(128, FIRST_RECORD)])), 124);
}

/** Writes `events` to `path` as EVTX; returns the number of chunks. */
export async function writeEvtx(path: string, dataNames: readonly string[], events: Iterable<EvtxEventInput>): Promise<number> {
  const file = await open(path, "w");
  try {
    let chunkIndex = 0;
    let recordId = 1;
    let chunk = Buffer.alloc(CHUNK_SIZE);
    let offset = FIRST_RECORD;
    let templateOffset: number | undefined;
    let first = recordId;
    let lastRecordOffset = 0;
    const flush = async () => {
      chunkHeader(chunk, first, recordId - 1, lastRecordOffset, offset);
      await file.write(chunk, 0, CHUNK_SIZE, FILE_HEADER_SIZE + chunkIndex * CHUNK_SIZE);
      chunkIndex++;
      chunk = Buffer.alloc(CHUNK_SIZE);
      offset = FIRST_RECORD;
      templateOffset = undefined;
      first = recordId;
    };
    for (const event of events) {
      let record = encodeRecord(event, recordId, offset, templateOffset, dataNames);
      if (offset + record.bytes.length > CHUNK_SIZE) {
        await flush();
        record = encodeRecord(event, recordId, offset, templateOffset, dataNames);
      }
      record.bytes.copy(chunk, offset);
      templateOffset = record.templateOffset;
      lastRecordOffset = offset;
      offset += record.bytes.length;
      recordId++;
    }
    if (offset > FIRST_RECORD) await flush();
    const header = Buffer.alloc(FILE_HEADER_SIZE);
    header.write(FILE_SIGNATURE, 0, "latin1");
    header.writeBigUInt64LE(0n, 8);
    header.writeBigUInt64LE(BigInt(Math.max(0, chunkIndex - 1)), 16);
    header.writeBigUInt64LE(BigInt(recordId), 24);
    header.writeUInt32LE(128, 32);
    header.writeUInt16LE(1, 36);
    header.writeUInt16LE(3, 38);
    header.writeUInt16LE(FILE_HEADER_SIZE, 40);
    header.writeUInt16LE(Math.min(chunkIndex, 0xffff), FILE_HEADER_CHUNK_COUNT_OFFSET);
    header.writeUInt32LE(crc32(header.subarray(0, 120)), 124);
    await file.write(header, 0, FILE_HEADER_SIZE, 0);
    return chunkIndex;
  } finally {
    await file.close();
  }
}
