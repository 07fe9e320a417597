/**
 * The local source's queries on a worker thread: the same answers and errors as on the caller's
 * thread, and the caller's event loop keeps turning while a query runs. Ordering, not timing.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tableFromRecords } from "../../lib/kql/build.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";
import type { QueryRequest } from "../../lib/sources/types.js";
import { scratchDir } from "../helpers/scratch.js";

const T0 = Date.UTC(2024, 9, 20);
const HOUR = 3_600_000;
const tables = {
  SecurityEvent: tableFromRecords(
    TABLE_SCHEMAS.SecurityEvent,
    Array.from({ length: 3000 }, (_, i) => ({
      TimeGenerated: new Date(T0 + i * 1000).toISOString(),
      EventID: i % 3 ? 4625 : 4624,
      IpAddress: `203.0.113.${i % 40}`,
      TargetUserName: `user${i % 25}`,
    })),
  ),
};
const request = (query: string): QueryRequest => ({ query, timespan: { start: T0, end: T0 + HOUR }, queryId: "test" });
const SUMMARY =
  "SecurityEvent | where EventID == 4625 | summarize Failed = count(), Users = dcount(TargetUserName) by IpAddress | order by IpAddress asc";

/**
 * Work of about a tenth of a second: a worker that answers a small query can beat the caller's next
 * turn when a busy machine holds the caller back, so the ordering below would depend on timing.
 */
const LONG_QUERY = "range x from 1 to 1000000 step 1 | summarize n = count() by k = x % 1000 | count";

/** Which comes first: the answer to a long query, or a callback queued for the event loop's next turn after the query was sent. */
async function firstOf(source: LocalSource): Promise<string[]> {
  const order: string[] = [];
  const answered = source.query(request(LONG_QUERY)).then(() => order.push("query answered"));
  await new Promise<void>((resolve) => setImmediate(resolve));
  order.push("event loop turned");
  await answered;
  return order;
}

describe("local source on a worker thread", () => {
  const worker = new LocalSource(tables, "local", { worker: true });
  const inline = new LocalSource(tables, "local");
  afterAll(() => worker.close());

  it("answers as the caller's thread does, and fails the same way, with the engine's message", async () => {
    const [a, b] = await Promise.all([worker.query(request(SUMMARY)), inline.query(request(SUMMARY))]);
    expect(a.table.rows.length).toBe(40);
    expect(a).toEqual(b);
    const bad = request("SecurityEvent | where Nope == 1");
    const inlineError = await inline.query(bad).catch((error: Error) => error);
    const workerError = await worker.query(bad).catch((error: Error) => error);
    expect(workerError).toBeInstanceOf(Error);
    expect([(workerError as Error).name, (workerError as Error).message]).toEqual([
      (inlineError as Error).name,
      (inlineError as Error).message,
    ]);
  });

  it("the caller's event loop turns while the worker computes; on the caller's thread it cannot", async () => {
    expect(await firstOf(worker)).toEqual(["event loop turned", "query answered"]);
    expect(await firstOf(inline)).toEqual(["query answered", "event loop turned"]);
  });

  it("queries sent together all come back to their own callers", async () => {
    const queries = Array.from({ length: 6 }, (_, i) => `SecurityEvent | where IpAddress == "203.0.113.${i}" | count`);
    const answers = await Promise.all(queries.map((q) => worker.query(request(q))));
    expect(answers.map((a) => a.table.rows[0][0])).toEqual(
      (await Promise.all(queries.map((q) => inline.query(request(q))))).map((a) => a.table.rows[0][0]),
    );
  });

  it("after close, a query waiting fails and the next one starts a new worker", async () => {
    const waiting = expect(worker.query(request(SUMMARY))).rejects.toThrow(/query worker was stopped/);
    await worker.close();
    await waiting;
    expect((await worker.query(request(SUMMARY))).table.rows.length).toBe(40);
  });
});

describe("local source loaded from paths on a worker thread", () => {
  const line = (i: number) =>
    JSON.stringify({
      Type: "SecurityEvent",
      TimeGenerated: new Date(T0 + i * 60_000).toISOString(),
      EventID: 4625,
      IpAddress: `203.0.113.${i % 7}`,
      TargetUserName: `user${i % 5}`,
    });
  const COUNT = "SecurityEvent | count";
  const wide = (query: string): QueryRequest => ({ query, timespan: { start: T0 - HOUR, end: T0 + 24 * HOUR }, queryId: "test" });

  function folder(): string {
    const dir = scratchDir("worker-load-");
    writeFileSync(join(dir, "a.ndjson"), Array.from({ length: 50 }, (_, i) => line(i)).join("\n") + "\n");
    writeFileSync(join(dir, "b.ndjson"), `${line(50)}\n{not json\n`);
    return dir;
  }

  it("answers, names the tables, gives the time range and reports the bad line as the caller's thread does", async () => {
    const dir = folder();
    const inline = await LocalSource.fromPaths([dir]);
    const worker = await LocalSource.fromPaths([dir], { worker: true });
    try {
      expect(worker.issues).toEqual(inline.issues);
      expect(worker.issues).toEqual([expect.objectContaining({ source: join(dir, "b.ndjson"), at: 2 })]);
      expect(worker.source.tableNames()).toEqual(inline.source.tableNames());
      expect(worker.source.timeRange()).toEqual({ start: T0, end: T0 + 50 * 60_000 });
      expect(worker.source.timeRange()).toEqual(inline.source.timeRange());
      expect(await worker.source.query(wide(SUMMARY))).toEqual(await inline.source.query(wide(SUMMARY)));
    } finally {
      await worker.source.close();
    }
  });

  it("the worker reads the files itself: this thread holds no rows to hand a new worker, which reads the files again", async () => {
    const dir = folder();
    const { source } = await LocalSource.fromPaths([dir], { worker: true });
    try {
      expect((await source.query(wide(COUNT))).table.rows).toEqual([[51]]);
      expect(Object.values(source).some((value) => typeof value === "object" && value !== null && "SecurityEvent" in value)).toBe(false);
      // The export grows; a worker started after this one stopped sees what the files hold now.
      appendFileSync(join(dir, "a.ndjson"), `${line(51)}\n${line(52)}\n`);
      expect((await source.query(wide(COUNT))).table.rows).toEqual([[51]]);
      await source.close();
      expect((await source.query(wide(COUNT))).table.rows).toEqual([[53]]);
    } finally {
      await source.close();
    }
  });

  it("when no path exists, loading fails with the paths named", async () => {
    const missing = join(scratchDir("worker-load-"), "gone");
    await expect(LocalSource.fromPaths([missing], { worker: true })).rejects.toThrow(`${missing}: no such file or folder`);
  });
});
