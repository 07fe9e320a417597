/**
 * The local source's queries on a worker thread: the same answers and errors as on the caller's
 * thread, and the caller's event loop keeps turning while a query runs. Ordering, not timing.
 */
import { afterAll, describe, expect, it } from "vitest";
import { tableFromRecords } from "../../lib/kql/build.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";
import type { QueryRequest } from "../../lib/sources/types.js";

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

/** Which comes first: the query's answer, or a callback queued for the event loop's next turn after the query was sent. */
async function firstOf(source: LocalSource): Promise<string[]> {
  const order: string[] = [];
  const answered = source.query(request(SUMMARY)).then(() => order.push("query answered"));
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
