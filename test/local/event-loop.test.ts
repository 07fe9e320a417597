/**
 * `hunts serve` keeps answering while a hunt's query runs: the local engine computes on a worker
 * thread, so a cheap GET does not wait behind a run. Asserted as an order of events (the GET is
 * answered before the run's query is), never as a time. The run's query is made to take seconds of
 * the worker's CPU (a long computation queued with it, as a hunt over a large export would be), so
 * the order does not depend on how quickly a loaded machine answers the GET.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tableFromRecords } from "../../lib/kql/build.js";
import { freePort } from "../../lib/local/azurite.js";
import { serve, type Running } from "../../lib/local/serve.js";
import { silentLogger } from "../../lib/log.js";
import { createRuntime } from "../../lib/runtime.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";
import type { QuerySource } from "../../lib/sources/types.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const T0 = Date.UTC(2024, 9, 20);
const HOUR = 3_600_000;
/** An hour of failed network logons from 200 addresses. */
const ROWS = 40_000;
/**
 * Seconds of computation on the worker's thread, none on this one if the engine keeps its promise:
 * hashing over half a million rows (a count over ten million took as long but held a gigabyte).
 */
const LONG_COMPUTATION =
  "range x from 1 to 500000 step 1 | summarize dcount(hash_sha256(hash_sha256(hash_sha256(hash_sha256(tostring(x))))))";
const failures = Array.from({ length: ROWS }, (_, i) => ({
  TimeGenerated: new Date(T0 + Math.floor((i * HOUR) / ROWS)).toISOString(),
  EventID: 4625,
  LogonType: 3,
  IpAddress: `198.51.100.${i % 200}`,
  TargetUserName: `user${i % 97}`,
  Computer: "SRV-WEB01",
  Status: "0xc000006d",
  SubStatus: "0xc000006a",
}));

describe("hunts serve while a query runs", () => {
  const local = new LocalSource({ SecurityEvent: tableFromRecords(TABLE_SCHEMAS.SecurityEvent, failures) }, "local", { worker: true });
  const events: string[] = [];
  let queryStarted: () => void = () => {};
  /** The local source, telling the test when the run's query is sent and when it is answered. */
  const observed: QuerySource = {
    kind: local.kind,
    name: local.name,
    query: (request) => {
      queryStarted();
      const long = local.query({ query: LONG_COMPUTATION, timespan: request.timespan, queryId: "long-computation" });
      return Promise.all([long, local.query(request)])
        .then(([, answer]) => answer)
        .finally(() => events.push("query answered"));
    },
  };
  let running: Running;

  beforeAll(async () => {
    const app = await createRuntime(
      { AzureWebJobsStorage: azurite().connectionString, HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "unused" },
      { storage: await freshStorage(azurite()), source: observed, log: silentLogger },
    );
    running = await serve(app, { port: await freePort(), timers: false, queueWorker: false, log: silentLogger });
    // The worker starts (and parses its first query) before the run under test.
    await local.query({ query: "SecurityEvent | take 1", timespan: { start: T0, end: T0 + HOUR }, queryId: "warm-up" });
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
    await local.close();
  });

  it("GET /api/hunts is answered while an on-demand run's query is still computing", async () => {
    const started = new Promise<void>((resolve) => (queryStarted = resolve));
    const run = fetch(`${running.url}/api/hunts/windows-logon-by-source-ip/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from: new Date(T0).toISOString(), to: new Date(T0 + HOUR).toISOString(), dryRun: true }),
    });
    await started;
    const list = await fetch(`${running.url}/api/hunts`);
    events.push("GET answered");
    expect(list.status).toBe(200);

    const answer = await run;
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { run: { rows: number }; findings: { alert: boolean }[] };
    expect(body.run.rows).toBeGreaterThan(0);
    expect(body.findings.some((f) => f.alert)).toBe(true);
    expect(events).toEqual(["GET answered", "query answered"]);
  }, 120_000);
});
