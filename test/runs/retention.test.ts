/**
 * Retention against Azurite: every kind of state loses what is older than its setting and keeps
 * the rest; deletes that race a writer lose to it (a baseline that saw its entity again stays).
 */
import type { TableClient } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import type { Observation } from "../../lib/baselines/model.js";
import { BaselineStore } from "../../lib/baselines/store.js";
import { findHunt } from "../../lib/hunts/catalog.js";
import { DeliveryClaims } from "../../lib/notify/claims.js";
import { NotifyState } from "../../lib/notify/destination-state.js";
import type { Destination } from "../../lib/notify/destinations.js";
import { peersStateId } from "../../lib/runs/evaluate.js";
import {
  describePrune,
  PruneError,
  pruneState,
  type PruneReport,
  type RetainedState,
  type RetentionPolicy,
} from "../../lib/runs/retention.js";
import { servicesFor } from "../../lib/runs/runner.js";
import { RunStore, scheduledRunId } from "../../lib/runs/store.js";
import { packObservations } from "../../lib/runs/staging.js";
import { decodeKey } from "../../lib/state/keys.js";
import type { Storage } from "../../lib/state/storage.js";
import type { QuerySource } from "../../lib/sources/types.js";
import { clientRacingTransactions, freshStorage, useAzurite } from "../helpers/azurite.js";
import { requestsDuring } from "../helpers/requests.js";
import { finding } from "../helpers/findings.js";
import { runRecord } from "../helpers/runs.js";

const azurite = useAzurite();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const POLICY: RetentionPolicy = {
  findingsMs: 90 * DAY,
  incidentsMs: 90 * DAY,
  runsMs: 90 * DAY,
  deliveryClaimsMs: 7 * DAY,
  stagedMs: 7 * DAY,
  baselinesMs: 90 * DAY,
  budgetMs: 5 * 60_000,
};
const LOGONS = findHunt("windows-logon-by-source-ip")!;
const DEVICES = findHunt("rare-device-connections")!;
const TEAMS: Destination = { id: "teams", kind: "teams", url: "https://contoso.webhook.office.com/workflows/abc" };
/** Pruning reads only storage: a source that is asked fails the test. */
const NO_SOURCE: QuerySource = { kind: "local", name: "none", query: () => Promise.reject(new Error("the source is not asked")) };

function stateOf(storage: Storage, baselines?: BaselineStore): RetainedState {
  const services = servicesFor(storage, NO_SOURCE);
  return {
    ...services,
    baselines: baselines ?? services.baselines,
    claims: new DeliveryClaims(storage.table("deliveries")),
    notifyState: new NotifyState(storage.table("suppression"), storage.table("digests"), { destinations: [TEAMS] }),
  };
}

/** The rows a $batch body deletes, as [PartitionKey, RowKey], in order. */
function rowsDeleted(body: string): [string, string][] {
  const unquote = (literal: string) => decodeURIComponent(literal).replace(/''/g, "'");
  return [...body.matchAll(/^DELETE \S+\(PartitionKey='((?:[^']|'')*)',RowKey='((?:[^']|'')*)'\) HTTP\/1\.1/gm)].map((m) => [
    unquote(m[1]),
    unquote(m[2]),
  ]);
}

function observation(entityKey: string, lastSeen: number): Observation {
  return { entityKey, features: { FailedCount: 5 }, distinct: {}, firstSeen: lastSeen - HOUR, lastSeen };
}

async function count(client: TableClient): Promise<number> {
  let n = 0;
  for await (const page of client.listEntities().byPage()) n += page.length;
  return n;
}

/** A day's alert on its own entity, so each opens its own incident. */
function alertAt(windowEnd: number, i: number) {
  const ip = `198.51.100.${i}`;
  return finding({
    fingerprint: `fp-${windowEnd}-${i}`.padEnd(20, "x"),
    runId: scheduledRunId(LOGONS.id, windowEnd),
    entity: { type: "ip", key: ip, values: { IpAddress: ip } },
    entities: [{ type: "ip", value: ip }],
    window: { start: new Date(windowEnd - HOUR).toISOString(), end: new Date(windowEnd).toISOString() },
  });
}

describe("retention (Azurite)", () => {
  it("deletes what is older than each retention and keeps what is newer", async () => {
    const storage = await freshStorage(azurite());
    const state = stateOf(storage);
    // Staged observations are aged by the server's write time: this prune runs eight days "later".
    const now = Math.floor(Date.now() / HOUR) * HOUR + 8 * DAY;
    const old = now - 100 * DAY;
    const recent = now - DAY;

    // Findings: 250 in one old day (three transactions) and one the day before the cut-off; one recent.
    const oldFindings = Array.from({ length: 250 }, (_, i) => finding({ fingerprint: `old-${i}`.padEnd(20, "x"), alert: false }));
    await state.findings.putAll(
      oldFindings.map((f) => ({ ...f, window: { start: new Date(old - HOUR).toISOString(), end: new Date(old).toISOString() } })),
    );
    await state.findings.putAll([alertAt(now - 91 * DAY, 1), alertAt(recent, 2)]);

    // Incidents and the entities' links to them.
    await state.incidents.assign([alertAt(old, 3)], scheduledRunId(LOGONS.id, old), old);
    await state.incidents.assign([alertAt(recent, 4)], scheduledRunId(LOGONS.id, recent), recent);

    // Runs and the watermark, which is never pruned.
    await state.runs.put(runRecord(LOGONS.id, old));
    await state.runs.put(runRecord(LOGONS.id, recent));
    expect(await state.runs.advanceWatermark(LOGONS.id, recent, undefined)).toBeDefined();

    // Delivery claims, suppression (one run out, one in force), a disabled destination, digest watermarks.
    await state.claims.claim(TEAMS, "msg_old", now - 8 * DAY);
    await state.claims.claim(TEAMS, "msg_recent", now - HOUR);
    await state.claims.markSent(TEAMS, "msg_recent", now - HOUR);
    await state.notifyState.suppress("teams", "hunt|203.0.113.1", now - HOUR);
    await state.notifyState.suppress("teams", "hunt|203.0.113.2", now + HOUR);
    await state.notifyState.disable("webhook", "410 Gone");
    await state.notifyState.recordDigest("teams", recent, 3);
    await state.notifyState.recordDigest("retired-channel", old, 1);

    // Staged observations: a scored run ahead of the watermark (a resume reads it), a scored run
    // behind it (never planned again) and parts whose run record is gone (a crash before scoring).
    const observed = { observations: [observation("10.0.0.1", recent)], prevalenceSeen: [], population: 1 };
    const staged = await packObservations(observed);
    const ahead = { ...runRecord(LOGONS.id, recent + HOUR, "scored"), stagedParts: 1 };
    const behind = { ...runRecord(LOGONS.id, recent - HOUR, "scored"), stagedParts: 1 };
    for (const run of [ahead, behind]) {
      await state.runs.put(run);
      await state.staged.put(run.runId, staged);
    }
    await state.staged.put(scheduledRunId(LOGONS.id, recent - 2 * HOUR), staged);
    // Written just now, none of them is old yet, whatever its run.
    expect(await state.staged.prune(Date.now() - POLICY.stagedMs, () => Promise.resolve(false))).toBe(0);

    // Baselines and prevalence, old and recent; the peers' prevalence of a hunt with peers too; a
    // hunt no longer in the catalog, whose baselines and learning state are all old.
    await state.baselines.applyObservations(LOGONS.id, [observation("203.0.113.9", old)], { start: old - HOUR, end: old }, {});
    await state.baselines.applyObservations(LOGONS.id, [observation("203.0.113.10", recent)], { start: recent - HOUR, end: recent }, {});
    await state.baselines.applyObservations("retired-hunt", [observation("203.0.113.11", old)], { start: old - HOUR, end: old }, {});
    await state.baselines.applyHuntWindow("retired-hunt", old, 1);
    await state.baselines.applyPrevalence(DEVICES.id, new Map([["198.51.100.1|445", ["ws1"]]]), old);
    await state.baselines.applyPrevalence(DEVICES.id, new Map([["198.51.100.2|445", ["ws2"]]]), recent);
    await state.baselines.applyPrevalence(peersStateId(DEVICES.id), new Map([["svchost.exe|445", ["ws1"]]]), old);

    const report = await pruneState(state, POLICY, now);
    expect(report).toEqual({
      findings: 251,
      incidents: 2, // the old incident and its entity's link
      runs: 1,
      deliveryClaims: 1,
      suppression: 1,
      digests: 1,
      staged: 2,
      baselines: 5,
    });

    expect(await state.findings.between(now - 100 * DAY - DAY, now)).toEqual([
      expect.objectContaining({ fingerprint: alertAt(recent, 2).fingerprint }),
    ]);
    expect((await state.incidents.between(0, now)).map((i) => i.findings[0].entity)).toEqual(["198.51.100.4"]);
    expect((await state.runs.latest(LOGONS.id, 10)).map((r) => r.runId).sort()).toEqual(
      [ahead.runId, behind.runId, runRecord(LOGONS.id, recent).runId].sort(),
    );
    expect((await state.runs.getWatermark(LOGONS.id))?.end).toBe(recent);
    expect(await state.claims.claim(TEAMS, "msg_recent", now)).toBe("sent");
    expect(await state.notifyState.isSuppressed("teams", "hunt|203.0.113.2", now)).toBe(true);
    expect(await state.notifyState.isDisabled("webhook")).toBe(true);
    expect(await state.notifyState.lastDigest("teams")).toBe(recent);
    expect(await state.notifyState.lastDigest("retired-channel")).toBeUndefined();
    await expect(state.staged.get(ahead.runId, 1)).resolves.toEqual(observed);
    await expect(state.staged.get(behind.runId, 1)).rejects.toThrow(/incomplete/);
    expect([...(await state.baselines.getBaselines(LOGONS.id, ["203.0.113.9", "203.0.113.10"])).keys()]).toEqual(["203.0.113.10"]);
    expect([...(await state.baselines.getPrevalence(DEVICES.id, ["198.51.100.1|445", "198.51.100.2|445"])).keys()]).toEqual([
      "198.51.100.2|445",
    ]);
    expect((await state.baselines.getPrevalence(peersStateId(DEVICES.id), ["svchost.exe|445"])).size).toBe(0);
    expect((await state.baselines.getBaselines("retired-hunt", ["203.0.113.11"])).size).toBe(0);
    expect((await state.baselines.getHuntState("retired-hunt")).windows).toBe(0);

    // A second prune the same day finds nothing more.
    expect(Object.values(await pruneState(state, POLICY, now)).every((n) => n === 0)).toBe(true);
  });

  it("a baseline a run updates while the prune is deleting it stays (the delete is conditional on the etag listed)", async () => {
    const storage = await freshStorage(azurite());
    const client = storage.table("baselines");
    const now = Date.UTC(2024, 9, 21);
    const stale = now - 100 * DAY;
    // Rows alone (a hunt from before packs; packs race the same way, see the baseline store's tests).
    const writer = new BaselineStore(client, { buckets: 1, packs: 0 });
    await writer.applyObservations(
      LOGONS.id,
      [observation("203.0.113.20", stale), observation("203.0.113.21", stale)],
      { start: 0, end: stale },
      {},
    );

    // The entity comes back in a window a run applies between the prune's listing and its deletes.
    let raced = false;
    const racing = clientRacingTransactions(storage, client, async () => {
      if (raced) return;
      raced = true;
      await writer.applyObservations(LOGONS.id, [observation("203.0.113.20", now)], { start: now - HOUR, end: now }, {});
    });
    const pruned = await new BaselineStore(racing, { buckets: 1 }).prune(now - 90 * DAY);

    expect(raced).toBe(true);
    expect(pruned).toBe(1);
    const left = await writer.getBaselines(LOGONS.id, ["203.0.113.20", "203.0.113.21"]);
    expect([...left.keys()]).toEqual(["203.0.113.20"]);
    expect(left.get("203.0.113.20")!.lastSeen).toBe(now);
  });

  it("rows another pruner deleted first are skipped; the rest of their transaction is still deleted", async () => {
    const storage = await freshStorage(azurite());
    const client = storage.table("runs");
    const now = Date.UTC(2024, 9, 21);
    const runs = Array.from({ length: 5 }, (_, i) => runRecord(LOGONS.id, now - 100 * DAY + i * HOUR));
    const writer = servicesFor(storage, NO_SOURCE).runs;
    for (const run of runs) await writer.put(run);

    const first = runs[0];
    const racing = clientRacingTransactions(storage, client, async (body) => {
      // The other pruner deletes one of this transaction's rows just before it is sent.
      if ((await writer.get(first.runId)) === undefined) return;
      const [partitionKey, rowKey] = rowsDeleted(body).find(([, rowKey]) => rowKey.endsWith(first.runId))!;
      await client.deleteEntity(partitionKey, rowKey);
    });
    expect(await new RunStore(racing).prune(now - 90 * DAY)).toBe(4);
    expect(await count(client)).toBe(0);
  });

  it("a kind that cannot be pruned fails the prune after the others are done, naming it", async () => {
    const storage = await freshStorage(azurite());
    const state = stateOf(storage);
    const now = Date.UTC(2024, 9, 21);
    await state.claims.claim(TEAMS, "msg_old", now - 30 * DAY);
    await storage.table("runs").deleteTable();

    const failure = await pruneState(state, POLICY, now).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PruneError);
    expect((failure as PruneError).failures).toEqual([expect.stringMatching(/^runs: /)]);
    expect((failure as PruneError).report.deliveryClaims).toBe(1);
    expect(await count(storage.table("deliveries"))).toBe(0);
  });
  it("conditional deletes go 100 rows to a transaction; a row changed since listed fails only its own transaction, which is then deleted row by row, keeping it", async () => {
    const storage = await freshStorage(azurite());
    const client = storage.table("baselines");
    const now = Date.UTC(2024, 9, 21);
    const stale = now - 100 * DAY;
    const writer = new BaselineStore(client, { buckets: 1, packs: 0 });
    const keys = Array.from({ length: 250 }, (_, i) => `10.1.${Math.floor(i / 200)}.${i % 200}`);
    await writer.applyObservations(
      LOGONS.id,
      keys.map((k) => observation(k, stale)),
      { start: stale - HOUR, end: stale },
      {},
    );

    // Before the second transaction is sent, a run sees one of its entities again.
    let transactions = 0;
    let comeBack = "";
    const racing = clientRacingTransactions(storage, client, async (body) => {
      if (++transactions !== 2) return;
      comeBack = decodeKey(rowsDeleted(body)[37][1]);
      await writer.applyObservations(LOGONS.id, [observation(comeBack, now)], { start: now - HOUR, end: now }, {});
    });
    let pruned = 0;
    const requests = await requestsDuring(async () => {
      pruned = await new BaselineStore(racing, { buckets: 1 }).prune(now - 90 * DAY);
    });

    expect(pruned).toBe(249);
    const table = client.tableName;
    // The listing, three transactions, and the raced one's 100 rows one by one (the writer's own requests in between).
    expect(requests.filter((r) => r === "POST $batch").length).toBe(4); // three deletes and the writer's update
    expect(requests.filter((r) => r === `DELETE ${table}`).length).toBe(100);
    expect(await count(client)).toBe(1);
    const left = await writer.getBaselines(LOGONS.id, [comeBack]);
    expect(left.get(comeBack)!.lastSeen).toBe(now);
  });

  it("a prune past its time budget stops between pages, and the next prune resumes at that step until one gets through every step", async () => {
    const storage = await freshStorage(azurite());
    const state = stateOf(storage);
    const now = Date.UTC(2024, 9, 21);
    const old = now - 100 * DAY;
    const recent = now - DAY;
    // More findings than two pages of 1,000, and old rows of every other kind.
    const oldFindings = Array.from({ length: 2100 }, (_, i) =>
      finding({
        fingerprint: `old-${i}`.padEnd(20, "x"),
        alert: false,
        window: { start: new Date(old - HOUR).toISOString(), end: new Date(old).toISOString() },
      }),
    );
    await state.findings.putAll([...oldFindings, alertAt(recent, 2)]);
    await state.incidents.assign([alertAt(old, 3)], scheduledRunId(LOGONS.id, old), old);
    await state.runs.put(runRecord(LOGONS.id, old));
    await state.runs.put(runRecord(LOGONS.id, recent));
    await state.claims.claim(TEAMS, "msg_old", now - 8 * DAY);
    await state.notifyState.suppress("teams", "hunt|203.0.113.1", now - HOUR);
    await state.baselines.applyObservations(LOGONS.id, [observation("203.0.113.9", old)], { start: old - HOUR, end: old }, {});
    await state.baselines.applyObservations(LOGONS.id, [observation("203.0.113.10", recent)], { start: recent - HOUR, end: recent }, {});

    // No time at all: each prune does one page or one step, the least it may, and says where it stopped.
    const broke = { ...POLICY, budgetMs: 0 };
    const reports: PruneReport[] = [];
    for (let i = 0; i < 12; i++) {
      const report = await pruneState(state, broke, now);
      reports.push(report);
      if (!report.stoppedAt) break;
    }
    expect(reports.map((r) => r.stoppedAt)).toEqual([
      "findings",
      "findings",
      "incidents",
      "runs",
      "delivery claims",
      "suppression and digests",
      "staged",
      "baselines",
      undefined,
    ]);
    expect(reports.map((r) => r.findings)).toEqual([1000, 1000, 100, 0, 0, 0, 0, 0, 0]);
    expect(describePrune(reports[0])).toMatch(/; time budget spent in findings, the next prune resumes there$/);
    // Each row was deleted once, by one of them.
    const total = (kind: Exclude<keyof PruneReport, "stoppedAt">) => reports.reduce((sum, r) => sum + r[kind], 0);
    expect([
      total("findings"),
      total("incidents"),
      total("runs"),
      total("deliveryClaims"),
      total("suppression"),
      total("baselines"),
    ]).toEqual([2100, 2, 1, 1, 1, 1]);
    expect(reports.at(-1)!.baselines).toBe(1);
    expect(await state.findings.between(old - DAY, now)).toEqual([
      expect.objectContaining({ fingerprint: alertAt(recent, 2).fingerprint }),
    ]);
    expect((await state.runs.latest(LOGONS.id, 10)).map((r) => r.runId)).toEqual([runRecord(LOGONS.id, recent).runId]);
    expect([...(await state.baselines.getBaselines(LOGONS.id, ["203.0.113.9", "203.0.113.10"])).keys()]).toEqual(["203.0.113.10"]);

    // The pass is over: the next prune starts again from the first step, and finds nothing.
    const next = await pruneState(state, broke, now);
    expect(next.stoppedAt).toBe("incidents");
    expect(next.findings).toBe(0);
  });
});
