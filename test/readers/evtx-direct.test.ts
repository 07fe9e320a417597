import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BinXmlChunk, definitionMatches, type EvtxElement, type TemplateNode } from "../../lib/readers/evtx-binxml.js";
import { decodeEventDirect, PlannedChunk } from "../../lib/readers/evtx-direct.js";
import { CHUNK_HEADER_SIZE } from "../../lib/readers/evtx-format.js";
import { writeEvtx, type EvtxEventInput } from "../../lib/synth/evtx-writer.js";
import {
  flattenEvent,
  readChunks,
  readEvtxChunks,
  readEvtxEventChunks,
  type EvtxWarning,
  type FlatEvent,
  type RecordDecoder,
  TREE_EVENTS,
} from "../../lib/readers/evtx.js";
import { evtxFileBatches } from "../../lib/readers/evtx-rows.js";

/** Every vendored EVTX file Windows wrote. */
const FOLDERS = ["../fixtures/evtx/rust-evtx/", "../fixtures/evtx/evtx-attack-samples/", "../fixtures/datasets/evtx-attack-samples/"].map(
  (dir) => new URL(dir, import.meta.url).pathname,
);
const FILES = FOLDERS.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".evtx"))
    .map((f) => join(dir, f)),
);
const work = mkdtempSync(join(tmpdir(), "evtx-direct-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Read {
  events: FlatEvent[];
  warnings: EvtxWarning[];
  error?: string;
}

/**
 * The event with its payload as the plain element tree it stands for: the direct decoding holds
 * EventData's values without making its child elements (ValueListElement), the tree makes them.
 */
function withPlainPayload(event: FlatEvent): FlatEvent {
  return event.payload ? { ...event, payload: JSON.parse(JSON.stringify(event.payload)) as EvtxElement } : event;
}

async function read(chunks: (path: string, options: { onWarning: (w: EvtxWarning) => void }) => AsyncGenerator<FlatEvent[]>, path: string) {
  const out: Read = { events: [], warnings: [] };
  try {
    for await (const events of chunks(path, { onWarning: (w) => out.warnings.push(w) })) out.events.push(...events.map(withPlainPayload));
  } catch (error) {
    out.error = (error as Error).message;
  }
  return out;
}

/** The rows (and issues) of a file as the readers make them, or through `decoder`. */
async function rowsOf(path: string, decoder?: RecordDecoder<FlatEvent, BinXmlChunk>) {
  const items = [];
  for await (const batch of evtxFileBatches(path, decoder)) items.push(...batch);
  return items;
}

/** Through the element tree, then flattened: the reference the direct decoding must equal. */
async function* viaTree(path: string, options: { onWarning: (w: EvtxWarning) => void }): AsyncGenerator<FlatEvent[]> {
  for await (const records of readEvtxChunks(path, options)) yield records.map((record) => flattenEvent(record));
}

/** A small deterministic generator, so every run damages the same bytes. */
function random(seed: number): (below: number) => number {
  let x = seed;
  return (below) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % below;
  };
}

/** Damaged copies of a file: flipped bytes, overwritten runs and stray BinXML tokens in its records, or a cut anywhere. */
function damaged(original: Buffer, seed: number): Buffer {
  const next = random(seed);
  const copy = Buffer.from(original);
  const records = Math.min(8000, original.length - 4608);
  switch (seed % 4) {
    case 0:
      for (let i = 0; i < 1 + next(30); i++) copy[4608 + next(records)] ^= 1 + next(255);
      return copy;
    case 1: {
      const at = 4608 + next(records);
      return copy.fill(next(256), at, at + 1 + next(200));
    }
    case 2: {
      // BinXML tokens where they do not belong: templates, values, elements and ends of fragments.
      const at = 4608 + next(Math.min(3000, records));
      copy[at] = [0x0c, 0x01, 0x41, 0x05, 0x0d, 0x0e, 0x21, 0x00, 0x04, 0x02][next(10)];
      copy[at + 1 + next(4)] ^= 1 + next(255);
      return copy;
    }
    default:
      return copy.subarray(0, 4096 + next(original.length - 4096));
  }
}

/** Direct decoding with no way back to the element tree: a record it cannot read is lost. */
const DIRECT_ONLY: RecordDecoder<FlatEvent, PlannedChunk> = {
  chunk: (buf) => new PlannedChunk(buf),
  decode: decodeEventDirect,
  flat: (event) => event,
};

describe("EVTX events decoded directly equal the element tree flattened", () => {
  it("has the vendored files", () => {
    expect(FILES.length).toBe(19);
  });

  it("reads every record of the intact files directly (the element tree is only for damage)", async () => {
    for (const file of FILES) {
      const direct = await read((path, options) => readChunks(path, options, DIRECT_ONLY), file);
      expect(direct, file).toEqual(await read(readEvtxEventChunks, file));
    }
  });

  it("reads each chunk's own values where chunks share a template (a value one chunk rendered is not taken for another's)", async () => {
    const logon = (user: string, i: number): EvtxEventInput => ({
      eventId: 4624,
      time: Date.UTC(2024, 0, 1) + i * 1000,
      computer: "WS-1.contoso.local",
      channel: "Security",
      provider: "Microsoft-Windows-Security-Auditing",
      data: [user],
    });
    const usersByChunk = async (path: string) => {
      const chunks: unknown[][] = [];
      for await (const events of readEvtxEventChunks(path)) chunks.push(events.map((event) => event.data.TargetUserName));
      return chunks;
    };
    // Records of one size, so every full chunk lays its records out alike: the second chunk's bytes
    // where the first chunk's last value was are the second chunk's own last value.
    const probe = join(work, "probe.evtx");
    await writeEvtx(
      probe,
      ["TargetUserName"],
      Array.from({ length: 2000 }, (_, i) => logon("alice", i)),
    );
    const perChunk = (await usersByChunk(probe))[0].length;
    const path = join(work, "two-chunks.evtx");
    await writeEvtx(
      path,
      ["TargetUserName"],
      Array.from({ length: 2 * perChunk }, (_, i) => logon(i < perChunk ? "alice" : "bobby", i)),
    );
    expect(await usersByChunk(path)).toEqual([Array(perChunk).fill("alice"), Array(perChunk).fill("bobby")]);
  });

  it("takes a chunk's template definition for a template already read only where it parses to that template", () => {
    const chunk = readFileSync(FILES[0]).subarray(4096, 4096 + 65536);
    // The definitions the chunk header's template table (32 offsets from byte 384) starts from.
    const definitions = Array.from({ length: 32 }, (_, i) => chunk.readUInt32LE(384 + i * 4)).filter((offset) => offset > 0);
    expect(definitions.length).toBeGreaterThan(1);
    let matched = 0;
    let refused = 0;
    for (const definition of definitions) {
      const start = definition + 24;
      const end = start + chunk.readUInt32LE(definition + 20);
      const known = new BinXmlChunk(chunk).template(definition, 1);
      expect(definitionMatches(new BinXmlChunk(chunk), start, end, known)).toBe(true);
      const parse = (bytes: Buffer): TemplateNode[] | undefined => {
        try {
          return new BinXmlChunk(bytes).template(definition, 1);
        } catch {
          return undefined;
        }
      };
      for (let at = start; at < end; at++) {
        // Flips that turn tokens into one another (a substitution into an optional one, text into a value) and change names and texts.
        for (const flip of [0x01, 0x03, 0x40, 0xff]) {
          const damaged = Buffer.from(chunk);
          damaged[at] ^= flip;
          if (!definitionMatches(new BinXmlChunk(damaged), start, end, known)) refused++;
          else {
            expect(parse(damaged), `definition ${definition}: byte ${at} ^ 0x${flip.toString(16)}`).toEqual(known);
            matched++;
          }
        }
      }
    }
    // Most damage changes the template; bytes the tree does not hold (the links between names) do not.
    expect(refused).toBeGreaterThan(matched);
    expect(matched).toBeGreaterThan(0);
  });

  it("takes a definition for its bytes at the same offset only where the names its match read outside them are the same bytes too", () => {
    const chunk = readFileSync(FILES[0]).subarray(4096, 4096 + 65536);
    const definitions = Array.from({ length: 32 }, (_, i) => chunk.readUInt32LE(384 + i * 4))
      .filter((offset) => offset > 0)
      .sort((a, b) => a - b);
    expect(definitions.length).toBeGreaterThan(1);
    const parse = (bytes: Buffer, definition: number): TemplateNode[] | string => {
      try {
        return new BinXmlChunk(bytes).template(definition, 1);
      } catch (error) {
        return (error as Error).message;
      }
    };
    const planned = (bytes: Buffer, definition: number): TemplateNode[] | string => {
      try {
        return new PlannedChunk(bytes).template(definition, 1);
      } catch (error) {
        return (error as Error).message;
      }
    };
    // Read twice: parsed and shared the first time, matched (and its bytes remembered) the second.
    for (let round = 0; round < 2; round++)
      for (const definition of definitions) expect(planned(chunk, definition)).toEqual(parse(chunk, definition));
    let outsideNamesChanged = 0;
    for (const definition of definitions.slice(1, 3)) {
      // Every byte before the definition changed in turn (the names other templates defined among them): its own bytes are the same.
      for (let at = CHUNK_HEADER_SIZE; at < definition; at++) {
        const damaged = Buffer.from(chunk);
        damaged[at] ^= 0x01;
        const expected = parse(damaged, definition);
        if (JSON.stringify(expected) !== JSON.stringify(parse(chunk, definition))) outsideNamesChanged++;
        expect(planned(damaged, definition), `definition ${definition}: byte ${at}`).toEqual(expected);
      }
    }
    // Some of those bytes are names a later template names: its tree changes with them, so it was not taken for its own bytes alone.
    expect(outsideNamesChanged).toBeGreaterThan(0);
  });

  it("compares every name its match read outside a definition, even one stored right after another", () => {
    /** A name structure (next offset, hash, length, UTF-16 text, NUL) at `at`; where it ends. */
    const writeName = (buf: Buffer, at: number, text: string): number => {
      buf.writeUInt16LE(text.length, at + 6);
      buf.write(text, at + 8, "utf16le");
      return at + 10 + text.length * 2;
    };
    const DEFINITION = 0x300;
    // An element named by a name before the definition, with an attribute named by the name stored right after it.
    const chunkWith = (attributeName: string): Buffer => {
      const buf = Buffer.alloc(65536);
      const second = writeName(buf, 0x200, "Ab");
      writeName(buf, second, attributeName);
      buf.fill(0xa5, DEFINITION + 4, DEFINITION + 20); // its identifier
      const u16 = (v: number) => [v & 0xff, v >> 8];
      const u32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24];
      const fragment = [0x0f, 1, 1, 0, 0x41, ...u16(0), ...u32(18), ...u32(0x200), ...u32(0), 0x06, ...u32(second)];
      fragment.push(0x05, 0x01, ...u16(1), ...u16("x".charCodeAt(0)), 0x03, 0x00);
      Buffer.from(fragment).copy(buf, DEFINITION + 24);
      buf.writeUInt32LE(fragment.length, DEFINITION + 20);
      return buf;
    };
    const attributeOf = (tree: TemplateNode[]) => (tree[0] as { attributes: { name: string }[] }).attributes[0].name;
    const first = chunkWith("Cd");
    // Parsed and shared, then matched and its bytes remembered.
    expect(attributeOf(new PlannedChunk(first).template(DEFINITION, 1))).toBe("Cd");
    expect(attributeOf(new PlannedChunk(first).template(DEFINITION, 1))).toBe("Cd");
    // The same definition at the same offset, its attribute's name changed outside it.
    const second = chunkWith("Xy");
    expect(attributeOf(new BinXmlChunk(second).template(DEFINITION, 1))).toBe("Xy");
    expect(attributeOf(new PlannedChunk(second).template(DEFINITION, 1))).toBe("Xy");
  });

  for (const file of FILES) {
    it(`${file.split("/").pop()}: intact and damaged 12 ways, the same events and warnings`, async () => {
      const original = readFileSync(file);
      const variants = [original, ...Array.from({ length: 12 }, (_, i) => damaged(original, i + 1))];
      let decoded = 0;
      for (const [i, bytes] of variants.entries()) {
        const path = join(work, `${i}-${file.split("/").pop()}`);
        writeFileSync(path, bytes);
        const [direct, tree] = [await read(readEvtxEventChunks, path), await read(viaTree, path)];
        expect(direct, `variant ${i}`).toEqual(tree);
        // Byte for byte, keys in the same order: rows are written out as they come.
        expect(JSON.stringify(direct), `variant ${i}`).toBe(JSON.stringify(tree));
        // With no way back to the tree, the direct decoding reads exactly the records the tree reads, the same.
        const directOnly = await read((p, options) => readChunks(p, options, DIRECT_ONLY), path);
        expect(JSON.stringify(directOnly.events), `variant ${i}`).toBe(JSON.stringify(tree.events));
        // Rows too (EventData's XML is written from the values the direct decoding holds).
        expect(JSON.stringify(await rowsOf(path)), `variant ${i}`).toBe(JSON.stringify(await rowsOf(path, TREE_EVENTS)));
        decoded += direct.events.length;
      }
      expect(decoded).toBeGreaterThan(0);
    });
  }
});
