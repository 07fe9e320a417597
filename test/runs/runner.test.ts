import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Logger, LogProperties } from "../../lib/log.js";
import { FindingSchema } from "../../lib/findings/finding.js";
import { decodeQueueMessage } from "../../lib/notify/queue-message.js";
import { findHunt } from "../../lib/hunts/catalog.js";
import { tableFromRecords } from "../../lib/kql/build.js";
import {
  describeScheduledRun,
  planWindows,
  runOnDemand,
  runScheduled,
  runScheduledWindow,
  servicesFor,
  type HuntServices,
  type Window,
} from "../../lib/runs/runner.js";
import { LeaseLostError, RECORD_STAGED_PARTS, type RunRecord } from "../../lib/runs/store.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import type { Storage } from "../../lib/state/storage.js";
import { LocalSource } from "../../lib/sources/local.js";
import type { QueryRequest, QueryResponse, QuerySource } from "../../lib/sources/types.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";
import { requestsDuring } from "../helpers/requests.js";
import { runRecord } from "../helpers/runs.js";

const azurite = useAzurite();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const hunt = findHunt("windows-logon-by-source-ip")!;
const T0 = Date.UTC(2024, 9, 1);

/** Failed network logons from `ip` at `hour`, across `users` accounts. */
function failures(ip: string, hour: number, count: number, users: number) {
  return Array.from({ length: count }, (_, i) => ({
    TimeGenerated: new Date(T0 + hour * HOUR + i * 1000).toISOString(),
    EventID: 4625,
    LogonType: 3,
    IpAddress: ip,
    TargetUserName: `user${i % users}`,
    Computer: "SRV-WEB01",
    Status: "0xc000006d",
    SubStatus: "0xc000006a",
  }));
}

function sourceOf(records: Record<string, unknown>[]) {
  return new LocalSource({ SecurityEvent: tableFromRecords(TABLE_SCHEMAS.SecurityEvent, records) });
}

/** The source, counting the queries it is asked (a resumed window must not query again). */
function countingQueries(source: QuerySource): QuerySource & { queries: number } {
  const counting = { kind: source.kind, name: source.name, queries: 0, query: (r: QueryRequest) => (counting.queries++, source.query(r)) };
  return counting;
}

/** A new record of the window ending at `end`, claimed for an hour. */
function running(end: number): RunRecord {
  return { ...runRecord(hunt.id, end, "running"), leaseUntil: new Date(Date.now() + HOUR).toISOString() };
}

/** A run's record once its window is done. */
function succeeded(run: RunRecord): RunRecord {
  return { ...run, status: "succeeded", leaseUntil: undefined };
}

/** The stored entities of a table that match an OData filter. */
async function entitiesOf(storage: Storage, table: "staged" | "runs", filter: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const entity of storage.table(table).listEntities({ queryOptions: { filter } })) out.push(entity);
  return out;
}

/** How many rows the staged table holds for a run. */
async function stagedRows(storage: Storage, runId: string): Promise<number> {
  return (await entitiesOf(storage, "staged", `PartitionKey eq '${runId}'`)).length;
}

/** A window this instance ran to the end (not one another instance held). */
async function runWindow(services: HuntServices, window: Window, now: number) {
  const result = await runScheduledWindow(hunt, window, services, now);
  if ("busy" in result) throw new Error(`window unexpectedly held by ${result.busy.runId}`);
  return result;
}

describe("planning windows", () => {
  it("first run looks at the last whole window", () => {
    expect(planWindows(hunt, undefined, T0 + 5 * HOUR + 300_000)).toEqual({
      windows: [{ start: T0 + 4 * HOUR, end: T0 + 5 * HOUR }],
      skipped: 0,
    });
  });

  it("catches up missed windows in order, from the watermark", () => {
    const { windows } = planWindows(hunt, T0 + 2 * HOUR, T0 + 5 * HOUR + 60_000);
    expect(windows.map((w) => (w.end - T0) / HOUR)).toEqual([3, 4, 5]);
  });

  it("skips windows older than maxLookback (1d) and counts them", () => {
    const { windows, skipped } = planWindows(hunt, T0, T0 + 2 * DAY);
    expect(windows.length).toBe(24);
    expect(skipped).toBe(24);
    expect(windows[0].start).toBe(T0 + DAY);
  });

  it("does nothing before the current window is complete", () => {
    expect(planWindows(hunt, T0 + 5 * HOUR, T0 + 5 * HOUR + 59 * 60_000).windows).toEqual([]);
  });
});

describe("scheduled and on-demand runs (Azurite)", () => {
  it("runs every missed window, applies each once, moves the watermark, queues alerts as base64 JSON", async () => {
    const storage = await freshStorage(azurite());
    const records = [...failures("10.9.9.9", 1, 3, 2), ...failures("203.0.113.9", 4, 300, 40)];
    const services = servicesFor(storage, sourceOf(records));
    await runScheduled(hunt, services, T0 + 2 * HOUR + 60_000); // first run: window 1-2
    const result = await runScheduled(hunt, services, T0 + 5 * HOUR + 60_000); // catches up 2-3, 3-4, 4-5
    expect(result.runs.map((r) => r.window.end)).toEqual([3, 4, 5].map((h) => new Date(T0 + h * HOUR).toISOString()));
    expect(result.runs.every((r) => r.status === "succeeded")).toBe(true);
    expect((await services.runs.getWatermark(hunt.id))!.end).toBe(T0 + 5 * HOUR);

    const attack = result.findings.find((f) => f.entity.key === "203.0.113.9")!;
    expect(attack.alert).toBe(true);
    expect(attack.reasons).toContain("FailedCount 300 >= 100 (threshold)");
    expect(FindingSchema.parse(attack)).toEqual(attack);

    const messages = (await storage.queue("findings").receiveMessages({ numberOfMessages: 32 })).receivedMessageItems;
    expect(messages.length).toBe(1);
    // One notice: the incident the alert opened, which lists it.
    expect(attack.incidentId).toMatch(/^inc-/);
    expect(decodeQueueMessage(messages[0].messageText)).toEqual({
      notice: { kind: "incident", incidentId: attack.incidentId, notice: "opened", runId: attack.runId },
    });
    const incident = (await services.incidents.get(attack.incidentId!))!;
    expect(incident.findings.map((f) => f.fingerprint)).toEqual([attack.fingerprint]);
    expect((await services.findings.ofRun(attack.runId, Date.parse(attack.window.end)))[0].incidentId).toBe(attack.incidentId);
    expect(describeScheduledRun(hunt.id, result)).toBe("windows-logon-by-source-ip: 3 window(s), 1 alert(s)");

    // The same schedule firing again does nothing new.
    const again = await runScheduled(hunt, services, T0 + 5 * HOUR + 120_000);
    expect(again.runs).toEqual([]);
    const baseline = (await services.baselines.getBaselines(hunt.id, ["203.0.113.9"])).get("203.0.113.9")!;
    expect(baseline.windows).toBe(1);
  });

  it("a window that crashed after scoring resumes from what was stored: no second query, no re-scoring, applied once", async () => {
    const storage = await freshStorage(azurite());
    const local = sourceOf(failures("203.0.113.10", 0, 150, 30));
    const counting = countingQueries(local);
    const services = servicesFor(storage, counting);
    const window = { start: T0, end: T0 + HOUR };
    // The crash: scored and stored, then the process dies before the queue is reached.
    const crashing = { ...services, publisher: { publish: () => Promise.reject(new Error("killed")) } } as unknown as HuntServices;
    await expect(runScheduledWindow(hunt, window, crashing, T0 + HOUR)).rejects.toThrow("killed");
    const stored = await services.runs.get(`${hunt.id}.20241001T010000Z`);
    // A small window's observations ride on its record: the staged table is not used.
    expect(stored).toMatchObject({ status: "scored", stagedParts: 1, stagedInRecord: true });
    expect(await stagedRows(storage, stored!.runId)).toBe(0);
    // The lease of the dead attempt must run out before another attempt may take the window.
    await services.runs.put({ ...stored!, leaseUntil: new Date(Date.now() - 1000).toISOString() });
    const retried = await runWindow(services, window, T0 + HOUR + 60_000);
    expect(retried.run.status).toBe("succeeded");
    expect(counting.queries).toBe(1);
    // The succeeded record no longer carries them.
    const [record] = await entitiesOf(storage, "runs", "status eq 'succeeded'");
    expect(Object.keys(record).filter((k) => k.startsWith("staged"))).toEqual([]);
    expect(retried.findings.map((f) => f.fingerprint)).toEqual(
      (await services.findings.ofRun(retried.run.runId, window.end)).map((f) => f.fingerprint),
    );
    expect(retried.findings[0]).toMatchObject({ entity: { key: "203.0.113.10" }, alert: true });
    // The alert the crash kept from the queue is on it now, once.
    const queued = (await storage.queue("findings").receiveMessages({ numberOfMessages: 32 })).receivedMessageItems;
    expect(queued.map((m) => decodeQueueMessage(m.messageText))).toEqual([
      { notice: { kind: "incident", incidentId: retried.findings[0].incidentId, notice: "opened", runId: retried.run.runId } },
    ]);
    expect((await services.baselines.getBaselines(hunt.id, ["203.0.113.10"])).get("203.0.113.10")!.windows).toBe(1);
    expect((await services.baselines.getHuntState(hunt.id)).windows).toBe(1);
    // A run that succeeded is final: asking again returns it unchanged.
    const again = await runWindow(services, window, T0 + 2 * HOUR);
    expect(again.run.finishedAt).toBe(retried.run.finishedAt);
  });

  it("a window whose baselines fail to land while its hunt state lands (they are written side by side) finishes on retry, each applied once", async () => {
    const storage = await freshStorage(azurite());
    const local = sourceOf(failures("203.0.113.11", 0, 150, 30));
    const counting = countingQueries(local);
    const services = servicesFor(storage, counting);
    const window = { start: T0, end: T0 + HOUR };
    const store = services.baselines;
    const applyObservations = store.applyObservations.bind(store);
    const applyHuntWindow = store.applyHuntWindow.bind(store);
    // The baselines' transaction fails at once; the hunt state's lands, slowly.
    store.applyObservations = () => Promise.reject(new Error("lost"));
    let stateLanded = false;
    store.applyHuntWindow = async (...args) => {
      const result = await applyHuntWindow(...args);
      await new Promise((resolve) => setTimeout(resolve, 50));
      stateLanded = true;
      return result;
    };
    await expect(runScheduledWindow(hunt, window, services, T0 + HOUR)).rejects.toThrow("lost");
    // The window is given up only once nothing of it is still being written.
    expect(stateLanded).toBe(true);
    store.applyHuntWindow = applyHuntWindow;
    expect((await services.baselines.getHuntState(hunt.id)).windows).toBe(1);
    expect((await services.baselines.getBaselines(hunt.id, ["203.0.113.11"])).size).toBe(0);
    const stored = (await services.runs.get(`${hunt.id}.20241001T010000Z`))!;
    expect(stored.status).toBe("scored");

    store.applyObservations = applyObservations;
    await services.runs.put({ ...stored, leaseUntil: new Date(Date.now() - 1000).toISOString() });
    const retried = await runWindow(services, window, T0 + HOUR + 60_000);
    expect(retried.run.status).toBe("succeeded");
    expect(counting.queries).toBe(1);
    expect((await services.baselines.getBaselines(hunt.id, ["203.0.113.11"])).get("203.0.113.11")!.windows).toBe(1);
    expect((await services.baselines.getHuntState(hunt.id)).windows).toBe(1);
  });

  it("a large window's observations are staged in their own table, resumed from there after a crash, then deleted", async () => {
    const storage = await freshStorage(azurite());
    // Two thousand addresses, each with fifty random account names: far more than a run record carries.
    const records = Array.from({ length: 2000 }, (_, i) => ({
      IpAddress: `10.${i >> 8}.${i & 255}.7`,
      FailedCount: i === 0 ? 150 : 1,
      SuccessCount: 0,
      UserCount: 50,
      Users: Array.from({ length: 50 }, () => randomBytes(12).toString("base64")),
    }));
    const columns = [
      { name: "IpAddress", type: "string" },
      { name: "FailedCount", type: "long" },
      { name: "SuccessCount", type: "long" },
      { name: "UserCount", type: "long" },
      { name: "Users", type: "dynamic" },
    ] as const;
    let queries = 0;
    const source = {
      kind: "local" as const,
      name: "wide",
      query: (): Promise<QueryResponse> => (queries++, Promise.resolve({ table: tableFromRecords([...columns], records) })),
    };
    const services = servicesFor(storage, source);
    const window = { start: T0, end: T0 + HOUR };
    const crashing = { ...services, publisher: { publish: () => Promise.reject(new Error("killed")) } } as unknown as HuntServices;
    await expect(runScheduledWindow(hunt, window, crashing, T0 + HOUR)).rejects.toThrow("killed");
    const stored = (await services.runs.get(`${hunt.id}.20241001T010000Z`))!;
    expect(stored.status).toBe("scored");
    expect(stored.stagedInRecord).toBeUndefined();
    expect(stored.stagedParts).toBeGreaterThan(RECORD_STAGED_PARTS);
    expect(await stagedRows(storage, stored.runId)).toBe(stored.stagedParts);

    await services.runs.put({ ...stored, leaseUntil: new Date(Date.now() - 1000).toISOString() });
    const retried = await runWindow(services, window, T0 + HOUR + 60_000);
    expect(retried.run.status).toBe("succeeded");
    expect(queries).toBe(1);
    const applied = await services.baselines.getBaselines(hunt.id, ["10.0.0.7", "10.7.207.7"]);
    expect([...applied.values()].map((b) => [b.windows, b.distinct.Users.length])).toEqual([
      [1, 50],
      [1, 50],
    ]);
    expect(await stagedRows(storage, stored.runId)).toBe(0);
  });

  it("two instances on the same window: one owns it, the other leaves it alone, and the stored findings are the owner's", async () => {
    const storage = await freshStorage(azurite());
    const servicesA = servicesFor(storage, sourceOf(failures("203.0.113.30", 0, 150, 30)));
    const servicesB = servicesFor(storage, sourceOf(failures("203.0.113.30", 0, 150, 30)));
    const window = { start: T0, end: T0 + HOUR };
    const [a, b] = await Promise.all([
      runScheduledWindow(hunt, window, servicesA, T0 + HOUR),
      runScheduledWindow(hunt, window, servicesB, T0 + HOUR),
    ]);
    const finished = [a, b].filter((r) => !("busy" in r));
    const busy = [a, b].filter((r) => "busy" in r);
    // Either one instance held the window while the other looked, or the second found it done.
    expect(finished.length + busy.length).toBe(2);
    expect(finished.length).toBeGreaterThanOrEqual(1);
    expect((await servicesA.baselines.getHuntState(hunt.id)).windows).toBe(1);
    expect((await servicesA.baselines.getBaselines(hunt.id, ["203.0.113.30"])).get("203.0.113.30")!.windows).toBe(1);
    const stored = await servicesA.findings.ofRun(`${hunt.id}.20241001T010000Z`, window.end);
    expect(stored.map((f) => [f.entity.key, f.score, f.alert])).toEqual([["203.0.113.30", stored[0].score, true]]);
    // A held window stops a scheduled run of the other instance without moving the watermark.
    const runId = `${hunt.id}.20241001T020000Z`;
    await servicesA.runs.put({
      ...(await servicesA.runs.get(`${hunt.id}.20241001T010000Z`))!,
      runId,
      status: "running",
      leaseUntil: new Date(Date.now() + 60_000).toISOString(),
      window: { start: new Date(T0 + HOUR).toISOString(), end: new Date(T0 + 2 * HOUR).toISOString() },
    });
    const result = await runScheduled(hunt, servicesB, T0 + 2 * HOUR + 60_000);
    expect(result.busy).toMatch(/is being run by another instance/);
    expect((await servicesB.runs.getWatermark(hunt.id))?.end ?? 0).toBeLessThan(T0 + 2 * HOUR);
  });

  it("the watermark never moves backwards when a stalled instance resumes with an old plan", async () => {
    const storage = await freshStorage(azurite());
    const services = servicesFor(storage, sourceOf(failures("203.0.113.31", 0, 150, 30)));
    const stale = await services.runs.advanceWatermark(hunt.id, T0 + HOUR, undefined);
    const fresh = await services.runs.advanceWatermark(hunt.id, T0 + 4 * HOUR, stale);
    expect(fresh).toBeDefined();
    // The stalled instance still holds the old etag, and then a fresh one with an older end.
    expect(await services.runs.advanceWatermark(hunt.id, T0 + 2 * HOUR, stale)).toBeUndefined();
    expect(await services.runs.advanceWatermark(hunt.id, T0 + 2 * HOUR, fresh)).toBeUndefined();
    expect((await services.runs.getWatermark(hunt.id))!.end).toBe(T0 + 4 * HOUR);
  });

  it("records partial results on the run and on its findings", async () => {
    const storage = await freshStorage(azurite());
    const local = sourceOf(failures("203.0.113.11", 0, 150, 30));
    const partialSource = {
      kind: "local" as const,
      name: "partial-local",
      async query(request: QueryRequest): Promise<QueryResponse> {
        return { ...(await local.query(request)), partial: "query exceeded the 64 MB result limit" };
      },
    };
    const services = servicesFor(storage, partialSource);
    const { run, findings } = await runWindow(services, { start: T0, end: T0 + HOUR }, T0 + HOUR);
    expect(run.partial).toBe("query exceeded the 64 MB result limit");
    expect(findings[0].partial).toBe("query exceeded the 64 MB result limit");
    expect((await services.runs.get(run.runId))!.partial).toBe("query exceeded the 64 MB result limit");
  });

  it("checks result rows with zod: rows without an entity or with a non-numeric feature are left out and reported", async () => {
    const storage = await freshStorage(azurite());
    const bad = {
      kind: "local" as const,
      name: "odd-source",
      query(): Promise<QueryResponse> {
        return Promise.resolve({
          table: tableFromRecords(
            [
              { name: "IpAddress", type: "string" },
              { name: "FailedCount", type: "dynamic" },
              { name: "SuccessCount", type: "long" },
              { name: "UserCount", type: "long" },
            ],
            [
              { IpAddress: "203.0.113.20", FailedCount: 150, SuccessCount: 0, UserCount: 30 },
              { IpAddress: "", FailedCount: 150, SuccessCount: 0, UserCount: 30 },
              { IpAddress: "203.0.113.21", FailedCount: "many", SuccessCount: 0, UserCount: 30 },
            ],
          ),
        });
      },
    };
    const services = servicesFor(storage, bad);
    const { run, findings } = await runWindow(services, { start: T0, end: T0 + HOUR }, T0 + HOUR);
    expect(findings.map((f) => f.entity.key)).toEqual(["203.0.113.20"]);
    expect(run.rows).toBe(1);
    expect(run.partial).toMatch(/^2 row\(s\) the hunt could not use were left out \(IpAddress: empty entity value \(got ""\)\)$/);
  });

  it("records a failed query on the run with the error", async () => {
    const storage = await freshStorage(azurite());
    const broken = {
      kind: "local" as const,
      name: "broken",
      query: async (): Promise<QueryResponse> => Promise.reject(new Error("workspace not found")),
    };
    const services = servicesFor(storage, broken);
    await expect(runScheduledWindow(hunt, { start: T0, end: T0 + HOUR }, services, T0 + HOUR)).rejects.toThrow("workspace not found");
    const runs = await services.runs.latest(hunt.id);
    expect(runs[0]).toMatchObject({ status: "failed", error: "workspace not found" });
  });

  it("moves the watermark only from the etag it read, and keeps going when another instance moved it first", async () => {
    const storage = await freshStorage(azurite());
    const services = servicesFor(storage, sourceOf(failures("203.0.113.9", 1, 300, 40)));
    const first = await services.runs.advanceWatermark(hunt.id, T0 + HOUR, undefined);
    expect(first).toBe((await services.runs.getWatermark(hunt.id))!.etag);
    expect(await services.runs.advanceWatermark(hunt.id, T0 + HOUR, undefined)).toBeUndefined(); // already created
    const second = await services.runs.advanceWatermark(hunt.id, T0 + 2 * HOUR, first);
    expect(second).toBe((await services.runs.getWatermark(hunt.id))!.etag);
    expect(await services.runs.advanceWatermark(hunt.id, T0 + 3 * HOUR, first)).toBeUndefined(); // stale etag

    // Two instances catching up the same windows at once: both finish, each window is applied once.
    const now = T0 + 5 * HOUR + 60_000;
    const [a, b] = await Promise.all([runScheduled(hunt, services, now), runScheduled(hunt, services, now)]);
    expect([...a.runs, ...b.runs].every((r) => r.status === "succeeded")).toBe(true);
    expect((await services.runs.getWatermark(hunt.id))!.end).toBe(T0 + 5 * HOUR);
    const state = await services.baselines.getHuntState(hunt.id);
    expect(state.windows).toBe(3);
  });

  it("a window's last write marks it succeeded and moves the watermark together, or neither when the lease was lost", async () => {
    const storage = await freshStorage(azurite());
    const { runs } = servicesFor(storage, sourceOf([]));
    const claimed = async (end: number) => {
      const claim = await runs.claim(running(end), Date.now());
      if (claim.kind !== "claimed") throw new Error(`window ending ${end} not claimed`);
      return claim;
    };

    // The first window creates the watermark; the second moves it from the etag the first returned.
    const first = await claimed(T0 + HOUR);
    const created = await runs.finish(succeeded(first.run), first.etag, { end: T0 + HOUR, etag: undefined });
    expect(created).toBe((await runs.getWatermark(hunt.id))!.etag);
    const second = await claimed(T0 + 2 * HOUR);
    const moved = await runs.finish(succeeded(second.run), second.etag, { end: T0 + 2 * HOUR, etag: created });
    expect(await runs.getWatermark(hunt.id)).toEqual({ end: T0 + 2 * HOUR, etag: moved });
    expect((await runs.get(second.run.runId))!.status).toBe("succeeded");

    // Another instance took the window over: the record is not written, and the watermark does not move.
    const third = await claimed(T0 + 3 * HOUR);
    await runs.update({ ...third.run, leaseUntil: new Date(Date.now() + 2 * HOUR).toISOString() }, third.etag);
    await expect(runs.finish(succeeded(third.run), third.etag, { end: T0 + 3 * HOUR, etag: moved })).rejects.toThrow(LeaseLostError);
    expect((await runs.get(third.run.runId))!.status).toBe("running");
    expect((await runs.getWatermark(hunt.id))!.end).toBe(T0 + 2 * HOUR);

    // Another instance moved the watermark: the window still succeeds, and the watermark is left to the caller.
    const fourth = await claimed(T0 + 4 * HOUR);
    const elsewhere = await servicesFor(storage, sourceOf([])).runs.advanceWatermark(hunt.id, T0 + 5 * HOUR, moved);
    expect(elsewhere).toBeDefined();
    expect(await runs.finish(succeeded(fourth.run), fourth.etag, { end: T0 + 4 * HOUR, etag: moved })).toBeUndefined();
    expect((await runs.get(fourth.run.runId))!.status).toBe("succeeded");
    expect(await runs.getWatermark(hunt.id)).toEqual({ end: T0 + 5 * HOUR, etag: elsewhere });
  });

  it("a window's last write also claims the next window, unless its record exists: then the window finishes alone", async () => {
    const storage = await freshStorage(azurite());
    const { runs } = servicesFor(storage, sourceOf([]));
    const first = await runs.claim(running(T0 + HOUR), Date.now());
    if (first.kind !== "claimed") throw new Error("first window not claimed");

    // One transaction: the window succeeded, the watermark moved, and the next window is claimed with the etag returned.
    const chained = await runs.finishAndClaim(
      succeeded(first.run),
      first.etag,
      { end: T0 + HOUR, etag: undefined },
      running(T0 + 2 * HOUR),
    );
    expect(await runs.getWatermark(hunt.id)).toEqual({ end: T0 + HOUR, etag: chained.watermark });
    expect((await runs.get(first.run.runId))!.status).toBe("succeeded");
    expect(chained.next!.run.runId).toBe(running(T0 + 2 * HOUR).runId);
    expect((await runs.get(chained.next!.run.runId))!.status).toBe("running");
    // The etag is the stored record's: the claim is good for the window's next write.
    const scored = await runs.update({ ...chained.next!.run, status: "scored" }, chained.next!.etag);

    // The window after that was claimed elsewhere: this one still finishes and moves the watermark, and claims nothing.
    const elsewhere = await servicesFor(storage, sourceOf([])).runs.claim(running(T0 + 3 * HOUR), Date.now());
    expect(elsewhere.kind).toBe("claimed");
    let alone!: Awaited<ReturnType<typeof runs.finishAndClaim>>;
    const requests = await requestsDuring(async () => {
      alone = await runs.finishAndClaim(
        succeeded(chained.next!.run),
        scored,
        { end: T0 + 2 * HOUR, etag: chained.watermark },
        running(T0 + 3 * HOUR),
      );
    });
    expect(alone.next).toBeUndefined();
    // The refused transaction, then the record and the watermark together in one: never one without the other.
    expect(requests).toEqual(["POST $batch", "POST $batch"]);
    expect(await runs.getWatermark(hunt.id)).toEqual({ end: T0 + 2 * HOUR, etag: alone.watermark });
    expect((await runs.get(chained.next!.run.runId))!.status).toBe("succeeded");
    expect((await runs.get(running(T0 + 3 * HOUR).runId))!.leaseUntil).toBe((elsewhere as { run: RunRecord }).run.leaseUntil);
  });

  it("a scheduled run through several windows claims only the first on its own: each later one rides on the write before it", async () => {
    const storage = await freshStorage(azurite());
    const services = servicesFor(storage, sourceOf(failures("203.0.113.14", 1, 30, 5)));
    const now = T0 + 4 * HOUR + 60_000;
    await services.runs.advanceWatermark(hunt.id, T0, undefined);
    const requests = await requestsDuring(() => runScheduled(hunt, services, now));
    // Four windows: one record created alone (the first claim); every record written after is an update or in a transaction.
    expect(requests.filter((r) => r === "POST " + storage.table("runs").tableName)).toHaveLength(1);
    const records = await entitiesOf(storage, "runs", `PartitionKey eq '${hunt.id}' and RowKey ge 'r~' and RowKey lt 'r~~'`);
    expect(records.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect((await services.runs.getWatermark(hunt.id))!.end).toBe(T0 + 4 * HOUR);
  });

  it("a threshold usual for the entity is kept as a digest finding that says why, however low it scores", async () => {
    // An appliance failing at the same level every hour.
    const records = Array.from({ length: 10 }, (_, hour) => failures("203.0.113.30", hour, 150, 25)).flat();
    const services = servicesFor(await freshStorage(azurite()), sourceOf(records));
    await services.runs.advanceWatermark(hunt.id, T0, undefined);
    const { findings } = await runScheduled(hunt, services, T0 + 10 * HOUR + 60_000);
    const last = findings.filter((f) => f.window.start === new Date(T0 + 9 * HOUR).toISOString());
    expect(last).toHaveLength(1);
    expect(last[0]).toMatchObject({
      alert: false,
      digestOnly: "usual for this ip: the threshold was met in 9 of its last 9 windows, with no deviation",
    });
    expect(last[0].score).toBeLessThan(25);
    // Stored with its run, where the digest reads it.
    expect((await services.findings.ofRun(last[0].runId, T0 + 10 * HOUR)).map((f) => f.digestOnly)).toEqual([last[0].digestOnly]);
  });

  it("a forgotten password (password failures, only password changes or admin resets) goes to the digest; a takeover's changes or failures alert", async () => {
    const signins = findHunt("failed-signins-with-audit")!;
    const at = (minute: number) => new Date(T0 + 9 * HOUR + minute * 60_000).toISOString();
    const failures = (upn: string, result = "50126") =>
      Array.from({ length: 12 }, (_, i) => ({
        TimeGenerated: at(i),
        UserPrincipalName: upn,
        ResultType: result,
        IPAddress: "198.51.100.20",
        AppDisplayName: "Office 365 Exchange Online",
      }));
    const change = (upn: string, operation: string, minute: number) => ({
      TimeGenerated: at(minute),
      OperationName: operation,
      Category: "UserManagement",
      TargetResources: [{ userPrincipalName: upn, type: "User" }],
      InitiatedBy: { user: { userPrincipalName: "helpdesk@contoso.example" } },
    });
    const source = new LocalSource({
      SigninLogs: tableFromRecords(TABLE_SCHEMAS.SigninLogs, [
        ...failures("forgot@contoso.example"),
        ...failures("taken@contoso.example"),
        ...failures("sspr@contoso.example"),
        ...failures("mfa@contoso.example", "500121"),
      ]),
      AuditLogs: tableFromRecords(TABLE_SCHEMAS.AuditLogs, [
        change("forgot@contoso.example", "Reset user password", 30),
        change("forgot@contoso.example", "Change user password", 45),
        change("taken@contoso.example", "Reset user password", 30),
        change("taken@contoso.example", "User registered security info", 35),
        change("sspr@contoso.example", "Reset password (self-service)", 30),
        change("mfa@contoso.example", "Reset user password", 30),
      ]),
    });
    const services = servicesFor(await freshStorage(azurite()), source);
    const { findings } = await runOnDemand(signins, services, { window: { start: T0, end: T0 + DAY }, dryRun: true }, T0 + DAY);
    const of = (upn: string) => findings.find((f) => f.entity.key === upn)!;
    expect(of("forgot@contoso.example").alert).toBe(false);
    expect(of("forgot@contoso.example").reasons).toContain(
      "expected: ForgottenPassword 1 == 1, password failures from at most 2 addresses, and the account's only changes are password changes or admin resets: how a forgotten or expired password ends",
    );
    // Security info registered; a self-service reset (a swapped SIM passes it); failures of MFA, not of a password.
    for (const upn of ["taken@contoso.example", "sspr@contoso.example", "mfa@contoso.example"])
      expect([upn, of(upn).alert]).toEqual([upn, true]);
  });

  it("on-demand runs score without touching baselines or the watermark", async () => {
    const storage = await freshStorage(azurite());
    const services = servicesFor(storage, sourceOf(failures("203.0.113.12", 3, 200, 25)));
    const { run, findings } = await runOnDemand(hunt, services, { window: { start: T0, end: T0 + DAY } }, T0 + DAY);
    expect(run.kind).toBe("on-demand");
    expect(findings[0].entity.key).toBe("203.0.113.12");
    expect((await services.baselines.getBaselines(hunt.id, ["203.0.113.12"])).size).toBe(0);
    expect(await services.runs.getWatermark(hunt.id)).toBeUndefined();
    expect((await services.runs.get(run.runId))!.findings).toBe(findings.length);
  });
});

describe("run log", () => {
  it("one structured line per window with the fields the hunt-health workbook reads", async () => {
    const storage = await freshStorage(azurite());
    const lines: { message: string; properties?: LogProperties }[] = [];
    const log: Logger = { info: (message, properties) => lines.push({ message, properties }), warn: () => {}, error: () => {} };
    const services = servicesFor(storage, sourceOf(failures("203.0.113.40", 0, 150, 30)), { log });
    await runScheduled(hunt, services, T0 + HOUR + 60_000);
    const run = lines.find((l) => l.message.startsWith("hunt run "))!;
    expect(run.properties).toMatchObject({
      huntId: hunt.id,
      runId: `${hunt.id}.20241001T010000Z`,
      status: "succeeded",
      windowStart: new Date(T0).toISOString(),
      windowEnd: new Date(T0 + HOUR).toISOString(),
      rows: 1,
      entities: 1,
      findings: 1,
      alerts: 1,
      partial: "",
    });
    expect(run.properties!.durationMs).toBeGreaterThanOrEqual(0);
  });
});
