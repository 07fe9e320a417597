import { describe, expect, it } from "vitest";
import { evtxFileBatches } from "../../lib/readers/evtx-rows.js";
import { loadLogs, logFilesUnder } from "../../lib/readers/index.js";
import { inFileOrder, readEvtxFilesParallel } from "../../lib/readers/parallel.js";

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

  it("each file's batches from the pool, put back in file order, are exactly what the reader yields on this thread", async () => {
    const evtx = (await logFilesUnder(FOLDERS)).files.filter((path) => path.endsWith(".evtx"));
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
