import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { BINXML_LIMITS, readEvtxEventChunks, type EvtxWarning, type FlatEvent } from "../../lib/readers/evtx.js";
import { FILE_HEADER_CHUNK_COUNT_OFFSET } from "../../lib/readers/evtx-format.js";
import { loadLogs } from "../../lib/readers/index.js";

const TWO_CHUNKS = new URL(
  "../fixtures/evtx/evtx-attack-samples/DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx",
  import.meta.url,
).pathname;
const original = readFileSync(TWO_CHUNKS);
const work = mkdtempSync(join(tmpdir(), "evtx-corrupt-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function readAll(path: string, warnings: EvtxWarning[] = []): Promise<FlatEvent[]> {
  const out: FlatEvent[] = [];
  for await (const events of readEvtxEventChunks(path, { onWarning: (w) => warnings.push(w) })) out.push(...events);
  return out;
}

let fileCount = 0;
function write(bytes: Buffer): string {
  const path = join(work, `f${fileCount++}.evtx`);
  writeFileSync(path, bytes);
  return path;
}

/** A small deterministic generator, so every run corrupts the same bytes. */
function* positions(seed: number, count: number, below: number): Generator<number> {
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    yield x % below;
  }
}

const allIds = (await readAll(TWO_CHUNKS)).map((e) => e.EventRecordID);

describe("EVTX corruption: no crash, no hang, records kept, losses counted", () => {
  it("the intact file has two chunks' records", () => {
    expect(allIds.length).toBeGreaterThan(150);
  });

  it("truncated anywhere: every record wholly before the cut is kept, the loss said; a cut inside the file header says so", async () => {
    for (const cut of [100, 4095, 4096 + 300, 4096 + 40000, 4096 + 65536, 4096 + 65536 + 20000, original.length - 1]) {
      const warnings: EvtxWarning[] = [];
      const path = write(original.subarray(0, cut));
      if (cut < 4096) {
        await expect(readAll(path, warnings)).rejects.toThrow(/truncated inside its file header \(\d+ of 4096 bytes\)/);
        continue;
      }
      const events = await readAll(path, warnings);
      expect(allIds.slice(0, events.length)).toEqual(events.map((e) => e.EventRecordID));
      // A chunk cut among its records says so; the chunks the header counts that the file ends before (or inside whose header it ends) are counted at its end.
      expect(warnings.some((w) => /^truncated chunk/.test(w.message))).toBe((cut - 4096) % 65536 >= 512);
      expect(warnings.some((w) => /^file ends before \d+ chunks? of the 2 its header counts; /.test(w.message))).toBe(
        cut < 4096 + 65536 + 512,
      );
    }
  });

  it("flipped bytes in the records: the undamaged records are kept and every warning counts what was lost", async () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const damaged = Buffer.from(original);
      for (const at of positions(seed, 20, original.length - 4096 - 512)) damaged[4096 + 512 + at] ^= 0xff;
      const warnings: EvtxWarning[] = [];
      const events = await readAll(write(damaged), warnings);
      expect(events.length).toBeGreaterThan(allIds.length / 2);
      expect(warnings.length).toBeGreaterThan(0);
      for (const w of warnings) expect(w.message).toMatch(/(\d+ of \d+ records? lost|unknown number of records lost|no records lost|0 of)/);
    }
  });

  it("a zeroed chunk loses only its own records", async () => {
    const damaged = Buffer.from(original);
    damaged.fill(0, 4096, 4096 + 65536);
    const events = await readAll(write(damaged));
    const second = allIds.slice(allIds.length - events.length);
    expect(events.map((e) => e.EventRecordID)).toEqual(second);
    expect(events.length).toBeGreaterThan(0);
  });

  it("an overwritten file signature or header checksum: every record kept, with a warning", async () => {
    const damaged = Buffer.from(original);
    damaged.fill(0x58, 0, 8);
    const warnings: EvtxWarning[] = [];
    expect((await readAll(write(damaged), warnings)).length).toBe(allIds.length);
    expect(warnings).toEqual([
      expect.objectContaining({ chunk: -1, recordsLost: 0, message: expect.stringMatching(/file header damaged/) as unknown }),
    ]);
    const { tables, issues } = await loadLogs([write(damaged)]);
    expect(tables.Event.rows.length).toBe(allIds.length);
    expect(issues[0].message).toMatch(/file header damaged/);
  });

  it("chunks past the file header's chunk count are read when they hold records, and skipped quietly when unused", async () => {
    /** The file with its header's chunk count set (checksum kept right, so the count is trusted) and `unused` zeroed chunks after it. */
    const counting = (chunks: number, unused: number) => {
      const bytes = Buffer.concat([original, Buffer.alloc(unused * 65536)]);
      bytes.writeUInt16LE(chunks, FILE_HEADER_CHUNK_COUNT_OFFSET);
      bytes.writeUInt32LE(crc32(bytes.subarray(0, 120)), 124);
      return bytes;
    };
    for (const chunks of [0, 1, 2]) {
      const warnings: EvtxWarning[] = [];
      const events = await readAll(write(counting(chunks, 3)), warnings);
      expect(
        events.map((e) => e.EventRecordID),
        `${chunks} chunks counted`,
      ).toEqual(allIds);
      expect(warnings, `${chunks} chunks counted`).toEqual([]);
    }
    // The second chunk's header zeroed, its records intact: not unused space, so read (with a warning), not skipped.
    const headless = counting(1, 1);
    headless.fill(0, 4096 + 65536, 4096 + 65536 + 512);
    const warnings: EvtxWarning[] = [];
    const events = await readAll(write(headless), warnings);
    expect(events.map((e) => e.EventRecordID)).toEqual(allIds);
    expect(warnings).toEqual([expect.objectContaining({ chunk: 1, message: expect.stringMatching(/bad chunk signature/) as unknown })]);
  });

  it("a bad chunk header checksum and a bad records checksum only warn", async () => {
    const damaged = Buffer.from(original);
    damaged[4096 + 124] ^= 1;
    damaged[4096 + 52] ^= 1;
    const warnings: EvtxWarning[] = [];
    expect((await readAll(write(damaged), warnings)).length).toBe(allIds.length);
    expect(warnings).toEqual([
      expect.objectContaining({
        chunk: 0,
        recordsLost: 0,
        message: expect.stringMatching(/header checksum mismatch.*records checksum mismatch/) as unknown,
      }),
    ]);
  });

  it("a damaged byte after a record's event (where its end-of-stream token is) loses no record", async () => {
    const damaged = Buffer.from(original);
    let flipped = 0;
    for (let pos = 4096 + 512; damaged.readUInt32LE(pos) === 0x2a2a; pos += damaged.readUInt32LE(pos + 4)) {
      const last = pos + damaged.readUInt32LE(pos + 4) - 5; // the byte before the size copy
      if (damaged[last] === 0) {
        damaged[last] = 0xd3;
        flipped++;
      }
    }
    expect(flipped).toBeGreaterThan(10);
    const warnings: EvtxWarning[] = [];
    const events = await readAll(write(damaged), warnings);
    expect(events.map((e) => e.EventRecordID)).toEqual(allIds);
    expect(warnings).toEqual([
      expect.objectContaining({ chunk: 0, recordsLost: 0, message: expect.stringMatching(/^event records checksum mismatch/) as unknown }),
    ]);
  });

  it("a copy that ends before the chunks its header counts: the records of the missing chunks are counted as lost", async () => {
    const firstChunkIds = allIds.filter((id) => id <= original.readBigUInt64LE(4096 + 32));
    // Cut where the second chunk starts, and inside its header: no chunk is cut short, yet the second chunk's records are gone.
    for (const cut of [4096 + 65536, 4096 + 65536 + 300]) {
      const warnings: EvtxWarning[] = [];
      const events = await readAll(write(original.subarray(0, cut)), warnings);
      expect(events.map((e) => e.EventRecordID)).toEqual(firstChunkIds);
      expect(warnings).toEqual([
        {
          chunk: 1,
          offset: 4096 + 65536,
          recordsLost: allIds.length - firstChunkIds.length,
          message: `file ends before 1 chunk of the 2 its header counts; ${allIds.length - firstChunkIds.length} records lost`,
        },
      ]);
    }
    // With the file header's checksum broken its counts are not trusted: the chunk cut inside its header says its loss is unknown.
    const untrusted = Buffer.from(original.subarray(0, 4096 + 65536 + 300));
    untrusted[124] ^= 1;
    const warnings: EvtxWarning[] = [];
    expect((await readAll(write(untrusted), warnings)).length).toBe(firstChunkIds.length);
    expect(warnings).toEqual([
      expect.objectContaining({
        chunk: 1,
        recordsLost: null,
        message: "truncated chunk (300 of 65536 bytes); an unknown number of records lost, 0 records kept",
      }),
    ]);
  });
});

/**
 * A one-record EVTX file whose template puts its one substitution (a nested BinXml value) `width`
 * times, the value instantiating the same template again, `depth` levels down: 2 KB that expand
 * to width^depth nodes.
 */
function craftNested(depth: number, width: number): Buffer {
  const chunk = Buffer.alloc(65536);
  let pos = 512 + 24;
  const u8 = (v: number) => (chunk[pos++] = v);
  const u16 = (v: number) => {
    chunk.writeUInt16LE(v, pos);
    pos += 2;
  };
  const u32 = (v: number) => {
    chunk.writeUInt32LE(v, pos);
    pos += 4;
  };
  [0x0f, 1, 1, 0].forEach(u8);
  u8(0x0c);
  u8(1);
  u32(1);
  const definition = pos + 4;
  u32(definition);
  u32(0);
  pos += 16; // GUID
  const sizeAt = pos;
  u32(0);
  const bodyStart = pos;
  [0x0f, 1, 1, 0, 0x01].forEach(u8);
  u16(0xffff);
  u32(0);
  u32(pos + 4); // inline name "E"
  u32(0);
  u16(0);
  u16(1);
  u16(0x45);
  u16(0);
  u8(0x02);
  for (let i = 0; i < width; i++) {
    u8(0x0e);
    u16(0);
    u8(0x21);
  }
  [0x04, 0x00].forEach(u8);
  chunk.writeUInt32LE(pos - bodyStart, sizeAt);
  // Values, innermost last: each level is a fragment instantiating the same template with one value.
  const level = (inner: Buffer): Buffer => {
    const head = Buffer.alloc(4 + 10 + 4 + 4);
    [0x0f, 1, 1, 0].forEach((b, i) => (head[i] = b));
    head[4] = 0x0c;
    head[5] = 1;
    head.writeUInt32LE(1, 6);
    head.writeUInt32LE(definition, 10);
    head.writeUInt32LE(1, 14);
    head.writeUInt16LE(inner.length, 18);
    head[20] = inner.length === 4 ? 0x01 : 0x21;
    return Buffer.concat([head, inner]);
  };
  let value: Buffer = Buffer.from("x\u0000y\u0000", "latin1");
  for (let i = 0; i < depth; i++) value = level(value);
  const outer = value.subarray(4 + 10); // the record's own instance carries the first level's values, from their count
  outer.copy(chunk, pos);
  pos += outer.length;
  u32(0);
  const size = pos - 512;
  chunk.write("**\u0000\u0000", 512, "latin1");
  chunk.writeUInt32LE(size, 516);
  chunk.writeBigUInt64LE(1n, 520);
  chunk.writeBigUInt64LE(132818755538337335n, 528);
  chunk.writeUInt32LE(size, pos - 4);
  chunk.write("ElfChnk\u0000", 0, "latin1");
  for (const at of [8, 16, 24, 32]) chunk.writeBigUInt64LE(1n, at);
  chunk.writeUInt32LE(128, 40);
  chunk.writeUInt32LE(512, 44);
  chunk.writeUInt32LE(pos, 48);
  chunk.writeUInt32LE(crc32(chunk.subarray(512, pos)), 52);
  chunk.writeUInt32LE(crc32(chunk.subarray(128, 512), crc32(chunk.subarray(0, 120))), 124);
  const header = Buffer.alloc(4096);
  header.write("ElfFile\u0000", 0, "latin1");
  header.writeUInt16LE(1, 42);
  header.writeUInt32LE(crc32(header.subarray(0, 120)), 124);
  return Buffer.concat([header, chunk.subarray(0, pos + 8 > 65536 ? 65536 : 65536)]);
}

describe("EVTX crafted nesting: rejected quickly with a clear message, memory bounded", () => {
  it("a shallow, narrow nesting is read", async () => {
    const events = await readAll(write(craftNested(3, 2)));
    expect(events.length).toBe(1);
  });

  for (const [depth, width, why] of [
    [28, 2, /nested more than \d+ deep|expands to more than/],
    [22, 2, /nested more than \d+ deep|expands to more than/],
    [5, 12, /expands to more than \d+ nodes/],
  ] as const) {
    it(`${depth} levels of ${width} references each`, { timeout: 20_000 }, async () => {
      const before = process.memoryUsage().rss;
      const warnings: EvtxWarning[] = [];
      const events = await readAll(write(craftNested(depth, width)), warnings);
      expect(events).toEqual([]);
      expect(warnings).toEqual([expect.objectContaining({ recordsLost: 1, message: expect.stringMatching(why) as unknown })]);
      expect(warnings[0].message).toMatch(/^record 1 not decodable: /);
      expect(process.memoryUsage().rss - before).toBeLessThan(256 * 2 ** 20);
    });
  }

  it("the limits stand where the messages say", () => {
    expect(BINXML_LIMITS.maxNesting).toBeLessThan(22);
  });
});
