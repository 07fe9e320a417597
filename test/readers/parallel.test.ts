import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { convertLogs } from "../../lib/readers/convert.js";
import { evtxFileBatches } from "../../lib/readers/evtx-rows.js";
import type { SourceItem } from "../../lib/readers/formats.js";
import { loadLogs, logFilesUnder } from "../../lib/readers/index.js";
import { SharedEvtxFiles } from "../../lib/readers/load.js";
import { inFileOrder, packItems, readEvtxFilesParallel, unpackItems } from "../../lib/readers/parallel.js";

/** Real EVTX files (and, in the datasets folder, JSON lines beside them), as vendored. */
const FOLDERS = ["../fixtures/evtx/rust-evtx/", "../fixtures/evtx/evtx-attack-samples/", "../fixtures/datasets/evtx-attack-samples/"].map(
  (dir) => new URL(dir, import.meta.url).pathname,
);

describe("EVTX files on worker threads", () => {
  it("loadLogs over the vendored folders gives the same tables, issues and files on two worker threads as on this thread", async () => {
    const single = await loadLogs(FOLDERS, { threads: 0 });
    const parallel = await loadLogs(FOLDERS, { threads: 2 });
    expect(single.files.filter((f) => f.format === "evtx").length).toBeGreaterThan(10);
    expect(single.tables.SecurityEvent.rows.length).toBeGreaterThan(100);
    expect(parallel.files).toEqual(single.files);
    expect(parallel.issues).toEqual(single.issues);
    expect(Object.keys(parallel.tables)).toEqual(Object.keys(single.tables));
    for (const name in single.tables) expect(parallel.tables[name], name).toEqual(single.tables[name]);
  });

  it("convert over the vendored folders writes the same files, byte for byte, on two worker threads as on this thread", async () => {
    const work = mkdtempSync(join(tmpdir(), "convert-threads-"));
    try {
      // The folders four times over: enough work here for the worker to start and take files from the back.
      const paths = [...FOLDERS, ...FOLDERS, ...FOLDERS, ...FOLDERS];
      const single = await convertLogs(paths, join(work, "single"), { threads: 0 });
      const parallel = await convertLogs(paths, join(work, "parallel"), { threads: 2 });
      expect(single.tables.SecurityEvent.rows).toBeGreaterThan(100);
      expect(parallel.files).toEqual(single.files);
      expect(parallel.issues).toEqual(single.issues);
      const names = readdirSync(join(work, "single")).sort();
      expect(readdirSync(join(work, "parallel")).sort()).toEqual(names);
      for (const name of names)
        expect(readFileSync(join(work, "parallel", name), "utf8"), name).toBe(readFileSync(join(work, "single", name), "utf8"));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("each file's batches from the pool, put back in file order, are exactly what the reader yields on this thread", async () => {
    const evtx = logFilesUnder(FOLDERS).files.filter((path) => path.endsWith(".evtx"));
    // Every file twice over: the same path may be listed more than once, and is told apart by its position.
    const paths = [...evtx, ...evtx];
    const expected: unknown[] = [];
    for (const path of paths) {
      for await (const items of evtxFileBatches(path)) expected.push({ path, items });
    }
    const got: unknown[] = [];
    const order: number[] = [];
    for await (const batch of inFileOrder(readEvtxFilesParallel(paths, 2))) {
      expect(batch.error).toBeUndefined();
      if (batch.items.length) got.push({ path: batch.path, items: batch.items });
      if (batch.done) order.push(batch.file);
    }
    expect(order).toEqual(paths.map((_, i) => i));
    expect(got).toEqual(expected);
  });
});

describe("EVTX files shared between this thread and a worker", () => {
  it("files taken from the back by the worker and from the front here give, in file order, exactly what this thread reads alone", async () => {
    const evtx = logFilesUnder(FOLDERS).files.filter((path) => path.endsWith(".evtx"));
    // More bytes than a worker is given ahead (it takes several MiB of small files at once), so both threads take some.
    const paths = Array.from({ length: 14 }, () => evtx).flat();
    const shared = new SharedEvtxFiles(paths, 1);
    try {
      // Waiting for the last file first lets the worker take some from the back while this thread takes none.
      const last: SourceItem[] = [];
      for await (const batch of shared.fromWorker(paths.length - 1)) last.push(...batch.items);
      const got: SourceItem[][] = [];
      let byWorker = 0;
      for (const [i, path] of paths.entries()) {
        const items: SourceItem[] = [];
        if (i === paths.length - 1) items.push(...last);
        else if (shared.takeHere(i)) for await (const batch of evtxFileBatches(path)) items.push(...batch);
        else {
          byWorker++;
          for await (const batch of shared.fromWorker(i)) items.push(...batch.items);
        }
        got.push(items);
      }
      expect(byWorker).toBeGreaterThan(0);
      expect(byWorker).toBeLessThan(paths.length - 1);
      const expected: SourceItem[][] = [];
      for (const path of paths) {
        const items: SourceItem[] = [];
        for await (const batch of evtxFileBatches(path)) items.push(...batch);
        expected.push(items);
      }
      expect(got).toEqual(expected);
    } finally {
      await shared.close();
    }
  });

  it("packs and unpacks rows and issues between threads unchanged, empty and undefined values and repeated shapes too", () => {
    const items: SourceItem[] = [
      { table: "Event", record: { A: "x", B: null, C: undefined, D: 3, E: Number.NaN }, at: 1 },
      { issue: { source: "f.evtx", at: 2, message: "chunk 0: bad" } },
      { table: "SecurityEvent", record: { A: "y", Z: "" }, at: 3 },
      { table: "Event", record: { A: "z", B: "b", C: "c", D: 4, E: 5 }, at: 4 },
    ];
    const unpacked = unpackItems(structuredClone(packItems(items)));
    expect(unpacked).toEqual(items);
    expect(Object.keys((unpacked[0] as { record: object }).record)).toEqual(["A", "B", "C", "D", "E"]);
  });
});
