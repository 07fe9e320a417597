/**
 * Windows EVTX reader.
 *
 * Layout (per the published libevtx format notes): a 4 KiB file header ("ElfFile\0"), then 64 KiB
 * chunks ("ElfChnk\0"). A chunk holds a 512-byte header (with CRC32s, a string-offset table and a
 * template-offset table) and event records ("**\0\0", size, record id, FILETIME, BinXML, size).
 *
 * Recovery is record by record, as a responder needs: a record that cannot be decoded is skipped
 * by its size, a damaged stretch is skipped by finding the next record signature, checksums and
 * the file header only raise warnings (records carry their own size checks), chunks are found at
 * their fixed positions even when the file header is damaged, and every warning says how many
 * records were lost. The file is read a few chunks at a time, so memory stays bounded.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";
import { crc32 } from "node:zlib";
import {
  asFormatError,
  BinXmlChunk,
  filetimeTextAt,
  parseRecordEvent,
  recordNumberAt,
  recordSizeAt,
  type EvtxElement,
} from "./evtx-binxml.js";
import {
  CHUNK_FLAG_NO_CRC32,
  CHUNK_HEADER_SIZE,
  CHUNK_SIGNATURE,
  CHUNK_SIZE,
  FILE_HEADER_CHUNK_COUNT_OFFSET,
  FILE_HEADER_FIRST_CHUNK_OFFSET,
  FILE_HEADER_NEXT_RECORD_OFFSET,
  FILE_HEADER_SIZE,
  FILE_SIGNATURE,
} from "./evtx-format.js";
export { BINXML_LIMITS, filetimeToText, type EvtxArray, type EvtxElement, type EvtxNode } from "./evtx-binxml.js";
export { flattenEvent, type FlatEvent } from "./evtx-event.js";
import { decodeEvent, PlannedChunk } from "./evtx-direct.js";
import { flattenEvent, type FlatEvent } from "./evtx-event.js";

export interface EvtxRecord {
  recordId: number;
  /** When the record was written, as Kusto datetime text exact to the 100 ns tick. */
  written: string;
  root: EvtxElement;
}

export interface EvtxWarning {
  /** Chunk index (0 for the first chunk after the file header); -1 for the file header. */
  chunk: number;
  /** Byte offset of the chunk in the file. */
  offset: number;
  message: string;
  /** Records lost to this problem: 0 when every record was kept, null when the count cannot be known. */
  recordsLost: number | null;
}

export interface EvtxReadOptions {
  onWarning?: (warning: EvtxWarning) => void;
}

/** How a chunk's records are decoded: to element trees, or straight to flattened events. */
export interface RecordDecoder<T, C extends BinXmlChunk = BinXmlChunk> {
  /** The chunk its records are decoded in, with what the decoder keeps for the chunk. */
  chunk(buf: Buffer): C;
  decode(chunk: C, pos: number, size: number, recordId: number): T;
  /** The decoded record's id and channel, as flattened (a record cut short is kept only when it holds its own id and a channel). */
  flat(record: T): Pick<FlatEvent, "EventRecordID" | "Channel">;
}

/** Records as element trees (`EvtxRecord`). */
export const TREE_RECORDS: RecordDecoder<EvtxRecord> = {
  chunk: (buf) => new BinXmlChunk(buf),
  decode: (chunk, pos, size, recordId) => {
    const root = parseRecordEvent(chunk, pos, size);
    return { recordId, written: filetimeTextAt(chunk.buf, pos + 16), root };
  },
  flat: flattenEvent,
};

/** Records to element trees, then flattened: the reference the direct decoding is held to. */
export const TREE_EVENTS: RecordDecoder<FlatEvent> = {
  chunk: (buf) => new BinXmlChunk(buf),
  decode: (chunk, pos, size, recordId) => flattenEvent(TREE_RECORDS.decode(chunk, pos, size, recordId)),
  flat: (event) => event,
};

/** Records straight to flattened events, with no element tree for their System part. */
export const FLAT_EVENTS: RecordDecoder<FlatEvent, PlannedChunk> = {
  chunk: (buf) => new PlannedChunk(buf),
  decode: decodeEvent,
  flat: (event) => event,
};

/** Chunks read from disk at a time. */
const CHUNKS_PER_READ = 16;
/** The most records a chunk can hold (each at least 28 bytes). */
const MAX_RECORDS_PER_CHUNK = Math.floor((CHUNK_SIZE - CHUNK_HEADER_SIZE) / 28);
const RECORD_SIGNATURE_BYTES = Buffer.from([0x2a, 0x2a, 0x00, 0x00]);
const RECORD_SIGNATURE_WORD = 0x00002a2a;
/** What is read of a chunk past those the file header counts to tell whether it is in use: its header and a record header. */
const CHUNK_PROBE_SIZE = CHUNK_HEADER_SIZE + 28;
/**
 * The first read of a file: its header and the start of its first chunk. Most files handed to a
 * responder are a few events saved from a log, which fill a few KiB of their one chunk; copying the
 * rest of the chunk cost several times what decoding them did. A chunk whose records run past this
 * is read on to its free-space offset.
 */
const FIRST_READ_SIZE = FILE_HEADER_SIZE + 16 * 1024;

/** Where a chunk's records end by its (whole) header, its free-space offset, or undefined when that is out of range. */
function freeSpaceOffset(chunk: Buffer): number | undefined {
  const offset = chunk.readUInt32LE(48);
  return offset < CHUNK_HEADER_SIZE || offset > CHUNK_SIZE ? undefined : offset;
}

/** Bytes of a chunk a decoder needs, from its header: up to its free-space offset when that is sane, else all of it. */
function usedChunkBytes(chunk: Buffer): number {
  if (chunk.length < CHUNK_HEADER_SIZE || chunk.toString("latin1", 0, 8) !== CHUNK_SIGNATURE) return CHUNK_SIZE;
  return freeSpaceOffset(chunk) ?? CHUNK_SIZE;
}

/** A record start with its signature and a size that fits, but whose size copy at its end does not agree: its size, or 0. */
function partialRecordSizeAt(buf: Buffer, pos: number, limit: number): number {
  if (pos + 28 > limit || buf.readUInt32LE(pos) !== 0x00002a2a) return 0;
  const size = buf.readUInt32LE(pos + 4);
  return size < 28 || pos + size > limit ? 0 : size;
}

function describeIds(ids: bigint[]): string {
  if (ids.length === 1) return `record ${ids[0]}`;
  const contiguous = ids.every((id, i) => i === 0 || id === ids[i - 1] + 1n);
  return contiguous
    ? `records ${ids[0]}-${ids[ids.length - 1]}`
    : `${ids.length} records (${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", ..." : ""})`;
}

const hexOffset = (n: number) => `0x${n.toString(16)}`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function isAllZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** The record ids the chunk header says the chunk holds, when they are plausible. */
function declaredRecordIds(buf: Buffer): { first: bigint; last: bigint } | undefined {
  if (buf.length < CHUNK_HEADER_SIZE) return undefined;
  const first = buf.readBigUInt64LE(24);
  const last = buf.readBigUInt64LE(32);
  if (last < first || last - first >= BigInt(MAX_RECORDS_PER_CHUNK)) return undefined;
  return { first, last };
}

/** What reading a chunk found: its records, and for its warning, what it lost and why. */
class ChunkFindings<T> {
  readonly records: T[] = [];
  /** The header's record id of each record kept. */
  readonly ids: number[] = [];
  readonly problems: string[] = [];
  readonly notes: string[] = [];
  /** Records that could not be decoded, by reason (one reason often costs many records: a damaged template). */
  readonly failures = new Map<string, bigint[]>();
  lostKnown = 0;
  lostUnknown = false;
  /** Where the last record read (or lost to a decoding failure) starts: its id bounds a damaged stretch after it. */
  lastAt = -1;
  /** Where the chunk's records end: its free-space offset when that is sane, else its end. */
  limit: number;
  signed: boolean;
  declared: ReturnType<typeof declaredRecordIds>;

  /**
   * The chunk header's checks: its signature, checksums and free-space offset. `stored` is how much
   * of the chunk the file holds; `buf` may be less (the chunk's records end at its free-space offset,
   * and nothing past them is read).
   */
  constructor(
    buf: Buffer,
    private readonly stored: number,
  ) {
    if (stored < CHUNK_SIZE) this.problems.push(`truncated chunk (${stored} of ${CHUNK_SIZE} bytes)`);
    this.signed = buf.length >= 8 && buf.toString("latin1", 0, 8) === CHUNK_SIGNATURE;
    if (!this.signed) this.problems.push("bad chunk signature");
    this.limit = buf.length;
    if (this.signed && buf.length >= CHUNK_HEADER_SIZE) {
      const headerCrc = crc32(buf.subarray(0, 120));
      if (crc32(buf.subarray(128, CHUNK_HEADER_SIZE), headerCrc) !== buf.readUInt32LE(124))
        this.notes.push("chunk header checksum mismatch");
      this.declared = declaredRecordIds(buf);
      const freeSpace = freeSpaceOffset(buf);
      if (freeSpace === undefined) this.notes.push("chunk free-space offset out of range: records found by scanning");
      else {
        this.limit = Math.min(this.limit, freeSpace);
        const noCrc = (buf.readUInt32LE(120) & CHUNK_FLAG_NO_CRC32) !== 0;
        if (!noCrc && freeSpace <= buf.length && crc32(buf.subarray(CHUNK_HEADER_SIZE, freeSpace)) !== buf.readUInt32LE(52)) {
          this.notes.push("event records checksum mismatch: records checked one by one");
        }
      }
    }
  }

  /** A record whose header is sound that could not be decoded. */
  lost(buf: Buffer, pos: number, error: unknown): void {
    this.lostKnown++;
    const reason = asFormatError(error, "record").message;
    const ids = this.failures.get(reason) ?? [];
    this.failures.set(reason, [...ids, buf.readBigUInt64LE(pos + 8)]);
  }

  /**
   * A damaged stretch at `pos`: a record cut short at its end is kept when its start still decodes to
   * itself, and reading resumes at the next record signature whose sizes agree. Where it resumes, or -1.
   */
  skipDamage<C extends BinXmlChunk>(buf: Buffer, pos: number, chunk: C, decoder: RecordDecoder<T, C>): number {
    const limit = this.limit;
    // A record whose size copy at its end was overwritten: its start may still decode (a write cut short).
    const partialSize = partialRecordSizeAt(buf, pos, limit);
    if (partialSize) {
      try {
        const recordId = recordNumberAt(buf, pos);
        const record = decoder.decode(chunk, pos, partialSize, recordId);
        // Kept only when what it decodes to is the record its header says (zeroed remains decode to an empty event).
        const flat = decoder.flat(record);
        if (flat.EventRecordID !== recordId || !flat.Channel) throw new Error("partial record");
        this.records.push(record);
        this.ids.push(recordId);
        this.notes.push(
          `record ${buf.readBigUInt64LE(pos + 8)} at chunk offset ${hexOffset(pos)} is damaged at its end: kept, its last values may be cut short`,
        );
        this.lastAt = pos;
      } catch {
        // not decodable: counted with the damaged stretch below
      }
    }
    // A damaged stretch: resynchronise on the next record signature whose sizes agree.
    let next = -1;
    for (
      let at = buf.indexOf(RECORD_SIGNATURE_BYTES, pos + 1);
      at !== -1 && at + 28 <= limit;
      at = buf.indexOf(RECORD_SIGNATURE_BYTES, at + 1)
    ) {
      if (recordSizeAt(buf, at, limit)) {
        next = at;
        break;
      }
    }
    const end = next === -1 ? limit : next;
    const nextId = next === -1 ? undefined : buf.readBigUInt64LE(next + 8);
    const lastId = this.lastAt < 0 ? undefined : buf.readBigUInt64LE(this.lastAt + 8);
    if (lastId !== undefined && nextId !== undefined && nextId > lastId && nextId - lastId <= BigInt(MAX_RECORDS_PER_CHUNK)) {
      this.lostKnown += Number(nextId - lastId - 1n);
    } else this.lostUnknown = true;
    this.problems.push(`bytes ${hexOffset(pos)}-${hexOffset(end)} of the chunk hold no readable record`);
    return next;
  }

  /** The chunk's warning, when it had problems: what they were, and how many records they cost. */
  warning(buf: Buffer, index: number, fileOffset: number): EvtxWarning | undefined {
    const { problems, notes, records, ids, declared } = this;
    for (const [reason, ids] of this.failures) problems.unshift(`${describeIds(ids)} not decodable: ${reason}`);
    // Cut short with no header to say how many records it held: those past the cut cannot be counted.
    if (this.stored < CHUNK_SIZE && !declared) this.lostUnknown = true;
    let lost: number | null = this.lostUnknown ? null : this.lostKnown;
    let expected: number | undefined;
    if (declared) {
      expected = Number(declared.last - declared.first) + 1;
      const inRange = ids.filter((id) => id >= declared.first && id <= declared.last).length;
      lost = Math.max(0, expected - inRange);
    }
    if (!problems.length && !notes.length) return undefined;
    const kept = `${plural(records.length, "record")} kept`;
    const cost =
      lost === null
        ? "an unknown number of records lost"
        : expected !== undefined
          ? `${lost} of ${plural(expected, "record")} lost`
          : `${plural(lost, "record")} lost`;
    return { chunk: index, offset: fileOffset, message: `${[...problems, ...notes].join("; ")}; ${cost}, ${kept}`, recordsLost: lost };
  }
}

/**
 * The records of one chunk, each decoded on its own. `buf` may be shorter than a chunk (the end of
 * a truncated file). Problems go to `warn` with the number of records they cost. What only a
 * damaged chunk needs lives in ChunkFindings, so the loop over intact records stays small.
 */
export function recordsOfChunk<T, C extends BinXmlChunk>(
  buf: Buffer,
  index: number,
  fileOffset: number,
  warn: (warning: EvtxWarning) => void,
  /** Past the chunks the file header counts: a slot that holds no chunk is unused space, not damage. */
  beyondDeclared: boolean,
  decoder: RecordDecoder<T, C>,
  /** How much of the chunk the file holds (`buf` may end at its free-space offset, before that). */
  stored = buf.length,
): T[] {
  const found = new ChunkFindings<T>(buf, stored);
  const { records, ids, limit } = found;
  const chunk = decoder.chunk(buf);
  let pos = CHUNK_HEADER_SIZE;
  while (pos + 28 <= limit) {
    const size = recordSizeAt(buf, pos, limit);
    if (size) {
      try {
        const recordId = recordNumberAt(buf, pos);
        records.push(decoder.decode(chunk, pos, size, recordId));
        ids.push(recordId);
      } catch (error) {
        found.lost(buf, pos, error);
      }
      found.lastAt = pos;
      pos += size;
      continue;
    }
    if (isAllZero(buf, pos, Math.min(limit, pos + 28))) break; // the unused end of the chunk
    pos = found.skipDamage(buf, pos, chunk, decoder);
    if (pos === -1) break;
  }
  if (!found.signed && records.length === 0 && beyondDeclared) return records;
  const warning = found.warning(buf, index, fileOffset);
  if (warning) warn(warning);
  return records;
}

let sharedBuffer: Buffer | undefined;

/**
 * The buffer files are read into (the file header, then a block of chunks after it), shared by every
 * file read on this thread. Decoding a block is synchronous and records keep no reference into it
 * (all text is decoded), so no two reads ever need it at once; a fresh buffer per file cost more in
 * allocation and garbage collection than decoding a small file. Only the bytes read are looked at.
 */
function readBuffer(): Buffer {
  sharedBuffer ??= Buffer.allocUnsafeSlow(FILE_HEADER_SIZE + CHUNK_SIZE * CHUNKS_PER_READ);
  return sharedBuffer;
}

/** How long decoding may hold the thread before the event loop gets a turn. */
const TURN_EVERY_MS = 10;
let lastTurn = performance.now();

/** Gives the event loop a turn when decoding has held the thread for a while (a turn per small file would cost more than the file). */
async function eventLoopTurn(): Promise<void> {
  if (performance.now() - lastTurn < TURN_EVERY_MS) return;
  await nextTurn();
  lastTurn = performance.now();
}

/**
 * Streams the records of an EVTX file one chunk at a time (a chunk's records as one array). Reads
 * are synchronous: decoding a block holds the thread far longer than reading it from the page cache,
 * and an asynchronous round trip per read cost more than the reads themselves on small files. The
 * event loop gets a turn after each block instead, so a host's other work is not held up.
 */
export function readEvtxChunks(path: string, options: EvtxReadOptions = {}): AsyncGenerator<EvtxRecord[]> {
  return readChunks(path, options, TREE_RECORDS);
}

/** Streams the flattened events of an EVTX file one chunk at a time (what rows are made of). */
export function readEvtxEventChunks(
  path: string,
  options: EvtxReadOptions = {},
  decoder: RecordDecoder<FlatEvent, BinXmlChunk> = FLAT_EVENTS,
): AsyncGenerator<FlatEvent[]> {
  return readChunks(path, options, decoder);
}

/**
 * What the chunks a file's header counts held, tallied as they are read, to tell what a file that
 * ends before them lost (a copy cut short): the log's records run from its oldest chunk's first
 * record id to the header's next record id, and every chunk's header says how many of them it holds.
 */
class CountedChunks {
  /** Chunk slots read (a slot cut inside its header is not). */
  slots = 0;
  /** Records the chunks read say they hold. */
  records = 0n;
  /** Whether every chunk read says how many records it holds. */
  known = true;
  /** The first record id of the log's oldest chunk, once read. */
  oldestRecord: bigint | undefined;

  constructor(
    /** The chunk count of an intact file header (Infinity when the header is not trusted). */
    readonly declared: number,
    private readonly oldestChunk: bigint,
    private readonly nextRecord: bigint,
  ) {}

  /** Whether the header counts (and is trusted to count) the chunk slot at `index`. */
  counts(index: number): boolean {
    return Number.isFinite(this.declared) && index < this.declared;
  }

  /** A chunk slot read: all zeros (unused), or a chunk whose header says which records it holds. */
  read(index: number, chunk: Buffer, unused: boolean): void {
    if (!this.counts(index)) return;
    this.slots = index + 1;
    if (unused) return;
    const ids = chunk.toString("latin1", 0, 8) === CHUNK_SIGNATURE ? declaredRecordIds(chunk) : undefined;
    if (!ids) {
      this.known = false;
      return;
    }
    this.records += ids.last - ids.first + 1n;
    if (BigInt(index) === this.oldestChunk) this.oldestRecord = ids.first;
  }

  /** The warning for the counted chunks the file ends before, when it lost records (or may have). */
  missing(): EvtxWarning | undefined {
    if (!this.counts(this.slots)) return undefined;
    // A log that has written no record yet (its next record is the first) lost none.
    let lost: number | null = this.nextRecord <= 1n ? 0 : null;
    if (this.known && this.oldestRecord !== undefined && this.nextRecord > this.oldestRecord) {
      const count = this.nextRecord - this.oldestRecord - this.records;
      if (count >= 0n) lost = Number(count);
    }
    // The slots past the last record a log has written are unused: dropping them loses nothing.
    if (lost === 0) return undefined;
    const missing = this.declared - this.slots;
    return {
      chunk: this.slots,
      offset: FILE_HEADER_SIZE + this.slots * CHUNK_SIZE,
      message: `file ends before ${plural(missing, "chunk")} of the ${this.declared} its header counts; ${lost === null ? "an unknown number of records" : plural(lost, "record")} lost`,
      recordsLost: lost,
    };
  }
}

/**
 * One EVTX file read a block of chunks at a time, each block decoded at once (synchronously: the
 * stream around it only hands the block's batches on and gives the event loop its turn).
 */
class FileChunks<T, C extends BinXmlChunk> {
  private readonly fd: number;
  private readonly buffer = readBuffer();
  /** Bytes of the first chunk in the buffer after `start` (its used part, or less where the file ends). */
  private firstChunkBytes = 0;
  /** Bytes of the first chunk the file holds. */
  private firstChunkStored = 0;
  /** Where the file ends (no read past it is made). */
  private readonly fileEnd: number;
  private signed = false;
  private declaredChunks = Infinity;
  private tally: CountedChunks | undefined;
  /** The first chunk of the next block. */
  private index = 0;
  /** Whether the file's end has been read. */
  ended = false;

  constructor(
    private readonly path: string,
    private readonly warn: (warning: EvtxWarning) => void,
    private readonly decoder: RecordDecoder<T, C>,
  ) {
    this.fd = openSync(path, "r");
    try {
      this.fileEnd = fstatSync(this.fd).size;
    } catch (error) {
      closeSync(this.fd);
      throw error;
    }
  }

  /** Bytes of the chunk slot at `offset` the file holds. */
  private stored(offset: number): number {
    return Math.max(0, Math.min(CHUNK_SIZE, this.fileEnd - offset));
  }

  /** Reads the file header and the first chunk's used part (throws when the file is no EVTX file or holds no records). */
  start(): void {
    const { buffer, path, fd } = this;
    const firstBytes = readSync(fd, buffer, 0, Math.min(FIRST_READ_SIZE, this.fileEnd), 0);
    const headerBytes = Math.min(firstBytes, FILE_HEADER_SIZE);
    const header = buffer.subarray(0, FILE_HEADER_SIZE);
    this.signed = headerBytes >= 8 && header.toString("latin1", 0, 8) === FILE_SIGNATURE;
    if (headerBytes < FILE_HEADER_SIZE) {
      if (this.signed)
        throw new Error(
          `${path}: truncated inside its file header (${headerBytes} of ${FILE_HEADER_SIZE} bytes): it holds no event records`,
        );
      throw new Error(`${path} is not an EVTX file (no ElfFile signature)`);
    }
    // The header's chunk count is only trusted when the header is intact.
    this.declaredChunks =
      this.signed && crc32(header.subarray(0, 120)) === header.readUInt32LE(124)
        ? header.readUInt16LE(FILE_HEADER_CHUNK_COUNT_OFFSET)
        : Infinity;
    this.tally = new CountedChunks(
      this.declaredChunks,
      header.readBigUInt64LE(FILE_HEADER_FIRST_CHUNK_OFFSET),
      header.readBigUInt64LE(FILE_HEADER_NEXT_RECORD_OFFSET),
    );
    // The first chunk up to where its records end, when the first read stopped before that.
    let chunkBytes = firstBytes - FILE_HEADER_SIZE;
    const wanted = Math.min(usedChunkBytes(buffer.subarray(FILE_HEADER_SIZE, firstBytes)), this.stored(FILE_HEADER_SIZE));
    if (chunkBytes < wanted) chunkBytes += readSync(fd, buffer, firstBytes, wanted - chunkBytes, firstBytes);
    this.firstChunkBytes = Math.min(chunkBytes, wanted);
    // A read that came up short (the file shrank since it was opened) is where the chunk ends.
    this.firstChunkStored = chunkBytes < wanted ? Math.max(0, chunkBytes) : this.stored(FILE_HEADER_SIZE);
  }

  /** Decodes one chunk slot (`stored` bytes of it in the file) of the block starting at `index` into `batches`, or skips it: unused, or cut inside its header. */
  private decodeChunk(chunkBuf: Buffer, stored: number, index: number, i: number, batches: T[][]): void {
    const tally = this.tally!;
    // A counted chunk cut inside its header holds no record that can be read: the file's end counts what it lost.
    if (chunkBuf.length < CHUNK_HEADER_SIZE && tally.counts(index + i)) return;
    // Unused chunks at the end of a pre-allocated log are all zeros: not an error.
    const unused =
      isAllZero(chunkBuf, 0, Math.min(chunkBuf.length, CHUNK_HEADER_SIZE)) && !recordSizeAt(chunkBuf, CHUNK_HEADER_SIZE, chunkBuf.length);
    tally.read(index + i, chunkBuf, unused);
    if (unused) return;
    const chunkOffset = FILE_HEADER_SIZE + (index + i) * CHUNK_SIZE;
    // Records keep references to nothing in the buffer (all text is decoded), so the buffer is reused.
    batches.push(recordsOfChunk(chunkBuf, index + i, chunkOffset, this.warn, index + i >= this.declaredChunks, this.decoder, stored));
  }

  /**
   * The records of the next block of chunks, a chunk's at a time (empty ones included), or undefined
   * when the file holds nothing more. `ended` says whether the file's end was reached.
   */
  nextBlock(): T[][] | undefined {
    const { buffer, fd, path, declaredChunks } = this;
    const index = this.index;
    this.index += CHUNKS_PER_READ;
    const blockOffset = FILE_HEADER_SIZE + index * CHUNK_SIZE;
    if (blockOffset >= this.fileEnd) {
      this.ended = true;
      return undefined;
    }
    const batches: T[][] = [];
    // The chunks the header counts are read at once; a log is often allocated far ahead of its records,
    // and past them each chunk's start is read first, the rest only when the chunk is in use.
    const counted = Math.max(0, Math.min(CHUNKS_PER_READ, declaredChunks - index));
    if (counted > 0) {
      // Where the block's bytes end (the first chunk's, read with the header, may end before its slot does).
      let blockEnd = Math.min(counted * CHUNK_SIZE, this.fileEnd - blockOffset);
      if (index === 0) {
        if (this.firstChunkStored < CHUNK_SIZE) blockEnd = this.firstChunkStored;
        else if (blockEnd > CHUNK_SIZE)
          blockEnd = CHUNK_SIZE + readSync(fd, buffer, FILE_HEADER_SIZE + CHUNK_SIZE, blockEnd - CHUNK_SIZE, blockOffset + CHUNK_SIZE);
        const first = buffer.subarray(FILE_HEADER_SIZE, FILE_HEADER_SIZE + this.firstChunkBytes);
        const chunkFollows = first.toString("latin1", 0, 8) === CHUNK_SIGNATURE;
        if (!this.signed && !chunkFollows)
          throw new Error(`${path} is not an EVTX file (no ElfFile signature and no chunk after the header)`);
        if (!this.signed)
          this.warn({ chunk: -1, offset: 0, message: "file header damaged (no ElfFile signature): chunks read anyway", recordsLost: 0 });
      } else blockEnd = readSync(fd, buffer, FILE_HEADER_SIZE, blockEnd, blockOffset);
      for (let i = 0; i * CHUNK_SIZE < blockEnd; i++) {
        const start = FILE_HEADER_SIZE + i * CHUNK_SIZE;
        const stored = Math.min(CHUNK_SIZE, blockEnd - i * CHUNK_SIZE);
        const bytes = index === 0 && i === 0 ? this.firstChunkBytes : stored;
        this.decodeChunk(buffer.subarray(start, start + bytes), stored, index, i, batches);
      }
      // A read that came up short is the end of the file too.
      this.ended = blockOffset + blockEnd >= this.fileEnd || blockEnd < counted * CHUNK_SIZE;
    }
    for (let i = counted; i < CHUNKS_PER_READ && !this.ended; i++) {
      const chunkOffset = blockOffset + i * CHUNK_SIZE;
      const stored = this.stored(chunkOffset);
      if (stored === 0) {
        this.ended = true;
        break;
      }
      const probeBytes = readSync(fd, buffer, FILE_HEADER_SIZE, Math.min(CHUNK_PROBE_SIZE, stored), chunkOffset);
      // Nothing there: the file ends before the size it had when opened.
      if (probeBytes === 0) {
        this.ended = true;
        break;
      }
      const probe = buffer.subarray(FILE_HEADER_SIZE, FILE_HEADER_SIZE + probeBytes);
      this.ended = chunkOffset + stored >= this.fileEnd;
      // What decodeChunk would skip, told from the probe: a zero header and no record signature after it.
      if (
        isAllZero(probe, 0, Math.min(probeBytes, CHUNK_HEADER_SIZE)) &&
        (probeBytes < CHUNK_PROBE_SIZE || probe.readUInt32LE(CHUNK_HEADER_SIZE) !== RECORD_SIGNATURE_WORD)
      )
        continue;
      const chunkBytes = probeBytes < CHUNK_PROBE_SIZE ? probeBytes : readSync(fd, buffer, FILE_HEADER_SIZE, stored, chunkOffset);
      if (chunkBytes < stored) this.ended = true;
      this.decodeChunk(buffer.subarray(FILE_HEADER_SIZE, FILE_HEADER_SIZE + chunkBytes), chunkBytes, index, i, batches);
    }
    return batches;
  }

  /** Warns of the chunks the header counts that the file ends before, when records were lost with them. */
  finish(): void {
    const cut = this.tally?.missing();
    if (cut) this.warn(cut);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Streams the records of an EVTX file one chunk at a time, as `decoder` decodes them. */
export async function* readChunks<T, C extends BinXmlChunk>(
  path: string,
  options: EvtxReadOptions,
  decoder: RecordDecoder<T, C>,
): AsyncGenerator<T[]> {
  const warn =
    options.onWarning ?? ((w: EvtxWarning) => console.warn(`${path}: ${w.chunk < 0 ? "file header" : `chunk ${w.chunk}`}: ${w.message}`));
  const file = new FileChunks(path, warn, decoder);
  try {
    file.start();
    for (;;) {
      const batches = file.nextBlock();
      if (!batches) break;
      for (const batch of batches) if (batch.length) yield batch;
      if (file.ended) break;
      await eventLoopTurn();
    }
    file.finish();
  } finally {
    file.close();
  }
}

/** Streams the records of an EVTX file. */
export async function* readEvtxRecords(path: string, options: EvtxReadOptions = {}): AsyncGenerator<EvtxRecord> {
  for await (const batch of readEvtxChunks(path, options)) yield* batch;
}
