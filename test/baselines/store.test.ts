import { odata, type TableClient, type TableEntity } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { BaselineStore, fromBaseline, LEGACY_BUCKETS, PACKS, prevalenceRefreshFor, type ApplyResult } from "../../lib/baselines/store.js";
import { applyObservation, isMember, MEMBERS_CAP, type Observation } from "../../lib/baselines/model.js";
import { clientRacingTransactions, freshStorage, useAzurite } from "../helpers/azurite.js";
import { requestsDuring } from "../helpers/requests.js";

const azurite = useAzurite();
const HOUR = 3_600_000;

function observation(entityKey: string, failed: number, at = 0): Observation {
  return { entityKey, features: { FailedCount: failed }, distinct: { Users: [`u${failed}`] }, firstSeen: at, lastSeen: at + 1000 };
}

/** One window of a hunt as the runner applies it: held, baselines read, applied, hunt state moved on. */
async function heldWindow(store: BaselineStore, huntId: string, observations: Observation[], end: number) {
  await store.hold(huntId);
  try {
    await store.getBaselines(
      huntId,
      observations.map((o) => o.entityKey),
    );
    await store.applyObservations(huntId, observations, { start: end - HOUR, end }, {});
    await store.applyHuntWindow(huntId, end, 0);
  } finally {
    store.release(huntId, true);
  }
}

describe("baselines in Table Storage (Azurite)", () => {
  it("stores and reads back entities whose keys hold / \\ # ? and control characters", async () => {
    const store = new BaselineStore((await freshStorage(azurite())).table("baselines"));
    const keys = ["CONTOSO\\alice", "a/b#c?d", "tab\there", "percent%41"];
    await store.applyObservations(
      "hunt-a",
      keys.map((k, i) => observation(k, i + 1)),
      { start: 0, end: HOUR },
      { Users: 5 },
    );
    const read = await store.getBaselines("hunt-a", [...keys, "absent"]);
    expect([...read.keys()].sort()).toEqual([...keys].sort());
    expect(read.get("a/b#c?d")!.features.FailedCount.mean).toBe(2);
    expect(read.get("tab\there")!.distinct.Users).toEqual(["u3"]);
  });

  it("writes hundreds of entities of one partition in transactions of at most 100", async () => {
    const storage = await freshStorage(azurite());
    // Rows alone, one operation each (a hunt from before packs).
    const store = new BaselineStore(storage.table("baselines"), { buckets: 1, packs: 0 });
    const many = Array.from({ length: 250 }, (_, i) => observation(`10.0.${i >> 8}.${i & 255}`, i));
    const result = await store.applyObservations("hunt-b", many, { start: 0, end: HOUR }, {});
    expect(result).toEqual({ written: 250, skipped: 0, retries: 0 });
    const read = await store.getBaselines(
      "hunt-b",
      many.map((o) => o.entityKey),
    );
    expect(read.size).toBe(250);
  });

  it("applies a window to an entity at most once, however often it is retried", async () => {
    const store = new BaselineStore((await freshStorage(azurite())).table("baselines"));
    const window = { start: 0, end: HOUR };
    await store.applyObservations("hunt-c", [observation("1.1.1.1", 10)], window, {});
    const again = await store.applyObservations("hunt-c", [observation("1.1.1.1", 10)], window, {});
    expect(again).toEqual({ written: 0, skipped: 1, retries: 0 });
    expect((await store.getBaselines("hunt-c", ["1.1.1.1"])).get("1.1.1.1")!.windows).toBe(1);
  });

  it("two runs writing the same packs lose no update: the later transaction fails on the etag and is recomputed", async () => {
    const storage = await freshStorage(azurite());
    const client = storage.table("baselines");
    // Two packs in one partition: the runs' different entities share them.
    const layout = { buckets: 1, packs: 2 };
    const keysA = Array.from({ length: 30 }, (_, i) => `host-a${i}`);
    const keysB = Array.from({ length: 30 }, (_, i) => `host-b${i}`);
    const window = { start: 0, end: HOUR };
    // Run A writes its window after run B has read the packs and before B's transaction is sent.
    let a: ApplyResult | undefined;
    const racing = clientRacingTransactions(storage, client, async () => {
      a ??= await new BaselineStore(client, layout).applyObservations(
        "hunt-d",
        keysA.map((k) => observation(k, 1)),
        window,
        {},
      );
    });
    const b = await new BaselineStore(racing, layout).applyObservations(
      "hunt-d",
      keysB.map((k) => observation(k, 2)),
      window,
      {},
    );
    expect(a).toEqual({ written: 30, skipped: 0, retries: 0 });
    expect(b).toEqual({ written: 30, skipped: 0, retries: 1 });
    const read = await new BaselineStore(client, layout).getBaselines("hunt-d", [...keysA, ...keysB]);
    expect([...read.values()].map((baseline) => baseline.features.FailedCount.history)).toEqual([
      ...keysA.map(() => [1]),
      ...keysB.map(() => [2]),
    ]);
  });

  it("keeps hunt learning state and prevalence, once per window", async () => {
    const store = new BaselineStore((await freshStorage(azurite())).table("baselines"));
    await store.applyHuntWindow("hunt-e", HOUR, 12);
    await store.applyHuntWindow("hunt-e", HOUR, 99);
    await store.applyHuntWindow("hunt-e", 2 * HOUR, 5);
    expect(await store.getHuntState("hunt-e")).toEqual({ huntId: "hunt-e", windows: 2, lastWindowEnd: 2 * HOUR, population: 12 });
    await store.applyPrevalence("hunt-e", new Map([["203.0.113.7|445", ["ws1", "ws2"]]]), HOUR);
    await store.applyPrevalence("hunt-e", new Map([["203.0.113.7|445", ["ws2", "ws3"]]]), 2 * HOUR);
    expect((await store.getPrevalence("hunt-e", ["203.0.113.7|445"])).get("203.0.113.7|445")!.count).toBe(3);
    // Nothing new showed the value: there is nothing to write, and applying that window again changes nothing either.
    for (const attempt of [1, 2])
      expect([attempt, await store.applyPrevalence("hunt-e", new Map([["203.0.113.7|445", ["ws1", "ws3"]]]), 3 * HOUR)]).toEqual([
        attempt,
        { written: 0, skipped: 1, retries: 0 },
      ]);
    expect((await store.getPrevalence("hunt-e", ["203.0.113.7|445"])).get("203.0.113.7|445")).toMatchObject({
      count: 3,
      across: ["ws1", "ws2", "ws3"],
    });
  });

  it("stores every entity that showed a value, thousands of them, and reads a row that holds names only (an earlier version's) by its names", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const store = new BaselineStore(client);
    const fleet = Array.from({ length: 5_000 }, (_, i) => `ws-${i}.corp.example`);
    await store.applyPrevalence("hunt-m", new Map([["10.0.0.5|389", fleet]]), HOUR);
    const fresh = new BaselineStore(client);
    const stored = (await fresh.getPrevalence("hunt-m", ["10.0.0.5|389"])).get("10.0.0.5|389")!;
    expect([stored.count, stored.members.size]).toEqual([5_000, 5_000]);
    expect(fleet.every((name) => isMember(stored, name))).toBe(true);
    // The same fleet a day later: nothing new, nothing to write.
    expect((await fresh.applyPrevalence("hunt-m", new Map([["10.0.0.5|389", fleet]]), 2 * HOUR)).written).toBe(0);

    let partitionKey = "";
    for await (const row of client.listEntities({ queryOptions: { filter: "PartitionKey ge 'hunt-m~p' and PartitionKey lt 'hunt-m~q'" } }))
      partitionKey = row.partitionKey!;
    await client.updateEntity(
      {
        partitionKey,
        rowKey: "10.0.0.5|389",
        valueKey: "10.0.0.5|389",
        across: JSON.stringify(["ws-1", "ws-2"]),
        count: 2,
        lastWindowEnd: HOUR,
      },
      "Replace",
    );
    const legacy = (await new BaselineStore(client).getPrevalence("hunt-m", ["10.0.0.5|389"])).get("10.0.0.5|389")!;
    expect([legacy.count, isMember(legacy, "ws-2"), isMember(legacy, "ws-3")]).toEqual([2, true, false]);
  });

  it("cuts a partition's writes to what one transaction may carry: a dozen values on the largest fleets", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const store = new BaselineStore(client, { buckets: 1 });
    const fleet = Array.from({ length: MEMBERS_CAP }, (_, i) => `ws-${i}`);
    // 12 rows of about 400 KB each in one partition: more than the 4 MiB a transaction's body may hold.
    const seen = new Map(Array.from({ length: 12 }, (_, i) => [`10.0.0.${i}|443`, fleet]));
    expect(await store.applyPrevalence("hunt-big", seen, HOUR)).toEqual({ written: 12, skipped: 0, retries: 0 });
    const read = await new BaselineStore(client, { buckets: 1 }).getPrevalence("hunt-big", [...seen.keys()]);
    expect([...read.values()].map((p) => p.members.size)).toEqual([...seen.keys()].map(() => MEMBERS_CAP));
  });

  it("rewrites a value seen again by the same entities only every prevalenceRefreshMs, so pruning keeps a value still seen", async () => {
    const store = new BaselineStore((await freshStorage(azurite())).table("baselines"), {
      prevalenceRefreshMs: prevalenceRefreshFor(48 * HOUR),
    });
    const seen = new Map([["198.51.100.9|443", ["ws1"]]]);
    const written: number[] = [];
    // Hourly windows for three days; the retention is two days, so the refresh is every 12 hours.
    for (let hour = 1; hour <= 72; hour++) if ((await store.applyPrevalence("hunt-r", seen, hour * HOUR)).written) written.push(hour);
    expect(written).toEqual([1, 13, 25, 37, 49, 61]);
    // Pruning what was not written for the retention keeps it: its lastWindowEnd is at most 12 hours old.
    await store.prune(72 * HOUR - 48 * HOUR);
    expect((await store.getPrevalence("hunt-r", ["198.51.100.9|443"])).get("198.51.100.9|443")).toMatchObject({
      count: 1,
      lastWindowEnd: 61 * HOUR,
    });
  });

  it("a hunt keeps the partitions it started with: its state records them, and a state from before the record means the legacy layout", async () => {
    const storage = await freshStorage(azurite());
    const client = storage.table("baselines");
    const keys = Array.from({ length: 30 }, (_, i) => `10.4.0.${i}`);
    // A hunt stored by an earlier version: 16 partitions per kind, every row alone, and a learning state without the fields.
    const earlier = new BaselineStore(client, { buckets: LEGACY_BUCKETS, packs: 0 });
    await heldWindow(
      earlier,
      "hunt-k",
      keys.map((k) => observation(k, 1)),
      HOUR,
    );
    const state = await client.getEntity<Record<string, unknown>>("hunt-k~state", "hunt");
    expect(state.buckets).toBe(LEGACY_BUCKETS);
    await client.updateEntity(
      {
        partitionKey: "hunt-k~state",
        rowKey: "hunt",
        windows: state.windows,
        lastWindowEnd: state.lastWindowEnd,
        population: state.population,
      },
      "Replace",
    );

    // Today's store starts new hunts on 4 partitions, and still finds the old hunt's baselines where they are.
    const now = new BaselineStore(client, { buckets: 4 });
    await heldWindow(
      now,
      "hunt-k",
      keys.map((k) => observation(k, 2)),
      2 * HOUR,
    );
    const read = await new BaselineStore(client, { buckets: 4 }).getBaselines("hunt-k", keys);
    expect([...read.values()].map((b) => b.features.FailedCount.history)).toEqual(keys.map(() => [1, 2]));
    expect((await client.getEntity("hunt-k~state", "hunt")).buckets).toBe(LEGACY_BUCKETS);

    await heldWindow(now, "hunt-new", [observation("10.5.0.1", 1)], HOUR);
    expect(await client.getEntity("hunt-new~state", "hunt")).toMatchObject({ buckets: 4, packs: PACKS });
    const partitions = new Set<string>();
    const rowKeys = new Set<string>();
    for await (const row of client.listEntities()) {
      partitions.add(row.partitionKey!);
      rowKeys.add(row.rowKey!);
    }
    expect([...partitions].filter((p) => p.startsWith("hunt-k~b")).length).toBeGreaterThan(4);
    // The old hunt's rows stay alone; the new hunt's baseline is packed.
    expect(keys.every((k) => rowKeys.has(k))).toBe(true);
    expect(rowKeys.has("10.5.0.1")).toBe(false);
    expect([...partitions].filter((p) => p.startsWith("hunt-new~b"))).toEqual([expect.stringMatching(/^hunt-new~b0[0-3]$/)]);
  });

  it("a held hunt's baselines read from memory are what storage holds, also when a baseline was too large to store whole", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 2 };
    const store = new BaselineStore(client, layout);
    // Four distinct columns of 50 values of 200 characters: more JSON than a property holds, so the stored baseline is shortened.
    const huge: Observation = {
      ...observation("10.7.0.1", 1),
      distinct: Object.fromEntries(["A", "B", "C", "D"].map((c) => [c, Array.from({ length: 50 }, (_, i) => `${c}${i}`.padEnd(200, "x"))])),
    };
    const caps = { A: 50, B: 50, C: 50, D: 50 };
    const keys = ["10.7.0.1", "10.7.0.2"];
    for (let w = 1; w <= 2; w++) {
      await store.hold("hunt-m");
      try {
        await store.getBaselines("hunt-m", keys);
        await store.applyObservations("hunt-m", [huge, observation("10.7.0.2", w)], { start: (w - 1) * HOUR, end: w * HOUR }, caps);
        await store.applyHuntWindow("hunt-m", w * HOUR, 0);
      } finally {
        store.release("hunt-m", true);
      }
    }
    await store.hold("hunt-m");
    const fromMemory = await store.getBaselines("hunt-m", keys);
    store.release("hunt-m", true);
    const fromStorage = await new BaselineStore(client, layout).getBaselines("hunt-m", keys);
    expect(JSON.stringify(fromStorage.get("10.7.0.1")!.distinct).length).toBeLessThan(30_000);
    expect(fromMemory).toEqual(fromStorage);
  });

  it("reads a held hunt's partitions once: a later window reads only the hunt state", async () => {
    const storage = await freshStorage(azurite());
    const store = new BaselineStore(storage.table("baselines"), { buckets: 4 });
    const keys = Array.from({ length: 40 }, (_, i) => `10.1.0.${i}`);
    await heldWindow(
      store,
      "hunt-g",
      keys.map((k) => observation(k, 1)),
      HOUR,
    );
    const requests = await requestsDuring(() =>
      heldWindow(
        store,
        "hunt-g",
        keys.map((k) => observation(k, 2)),
        2 * HOUR,
      ),
    );
    const table = requests.find((r) => r.startsWith("GET "))!.slice("GET ".length);
    // One point read (the hunt state), one transaction per partition written, one for the state.
    expect(requests.filter((r) => r.startsWith("GET "))).toEqual([`GET ${table}`]);
    expect(requests.filter((r) => r === "POST $batch").length).toBe(4 + 1);
    const read = await new BaselineStore(storage.table("baselines"), { buckets: 4 }).getBaselines("hunt-g", keys);
    expect([...read.values()].map((b) => b.windows)).toEqual(keys.map(() => 2));
  });

  it("a sole writer (a backtest's private store) holds a hunt it released intact without reading its state; after a failed window it reads again", async () => {
    const storage = await freshStorage(azurite());
    const store = new BaselineStore(storage.table("baselines"), { buckets: 2, soleWriter: true });
    const keys = ["10.4.0.1", "10.4.0.2"];
    await heldWindow(
      store,
      "hunt-s",
      keys.map((k) => observation(k, 1)),
      HOUR,
    );
    const second = await requestsDuring(() =>
      heldWindow(
        store,
        "hunt-s",
        keys.map((k) => observation(k, 2)),
        2 * HOUR,
      ),
    );
    expect(second.filter((r) => r.startsWith("GET "))).toEqual([]);
    expect((await store.getHuntState("hunt-s")).windows).toBe(2);
    const stored = await new BaselineStore(storage.table("baselines"), { buckets: 2 }).getBaselines("hunt-s", keys);
    expect([...stored.values()].map((b) => b.windows)).toEqual([2, 2]);
    // A window that failed leaves memory untrusted: the next hold reads the state again.
    await store.hold("hunt-s");
    store.release("hunt-s", false);
    const afterFailure = await requestsDuring(() => store.hold("hunt-s"));
    store.release("hunt-s", true);
    expect(afterFailure.filter((r) => r.startsWith("GET ")).length).toBe(1);
  });

  it("a held hunt's memory gives way to what another instance wrote since: the hunt state tells", async () => {
    const storage = await freshStorage(azurite());
    const a = new BaselineStore(storage.table("baselines"), { buckets: 2 });
    const b = new BaselineStore(storage.table("baselines"), { buckets: 2 });
    await heldWindow(a, "hunt-h", [observation("10.2.0.1", 1)], HOUR);
    await heldWindow(b, "hunt-h", [observation("10.2.0.1", 5)], 2 * HOUR);
    await a.hold("hunt-h");
    expect((await a.getBaselines("hunt-h", ["10.2.0.1"])).get("10.2.0.1")!.windows).toBe(2);
    expect((await a.getHuntState("hunt-h")).windows).toBe(2);
    a.release("hunt-h", true);
  });

  it("memory that missed a write cannot lose it or apply a window twice: the etag fails, the entity is read again", async () => {
    const storage = await freshStorage(azurite());
    const a = new BaselineStore(storage.table("baselines"), { buckets: 2 });
    await heldWindow(a, "hunt-i", [observation("10.3.0.1", 1)], HOUR);
    // Another instance applied window 2 and died before moving the hunt state on: the state does not tell.
    await new BaselineStore(storage.table("baselines"), { buckets: 2 }).applyObservations(
      "hunt-i",
      [observation("10.3.0.1", 5)],
      { start: HOUR, end: 2 * HOUR },
      {},
    );
    await a.hold("hunt-i");
    expect((await a.getBaselines("hunt-i", ["10.3.0.1"])).get("10.3.0.1")!.windows).toBe(1); // from memory
    // The window is resumed here: applying it again finds it applied.
    expect(await a.applyObservations("hunt-i", [observation("10.3.0.1", 5)], { start: HOUR, end: 2 * HOUR }, {})).toEqual({
      written: 0,
      skipped: 1,
      retries: 1,
    });
    await a.applyObservations("hunt-i", [observation("10.3.0.1", 7)], { start: 2 * HOUR, end: 3 * HOUR }, {});
    a.release("hunt-i", true);
    const baseline = (await a.getBaselines("hunt-i", ["10.3.0.1"])).get("10.3.0.1")!;
    expect(baseline.windows).toBe(3);
    expect(baseline.features.FailedCount.history).toEqual([1, 5, 7]);
  });

  it("remembers at most the rows it may: forgotten partitions are listed again, nothing is lost", async () => {
    const storage = await freshStorage(azurite());
    const store = new BaselineStore(storage.table("baselines"), { buckets: 8, maxRememberedRows: 10 });
    const keys = Array.from({ length: 60 }, (_, i) => `host-${i}`);
    for (let w = 1; w <= 3; w++)
      await heldWindow(
        store,
        "hunt-j",
        keys.map((k) => observation(k, w)),
        w * HOUR,
      );
    const read = await new BaselineStore(storage.table("baselines"), { buckets: 8 }).getBaselines("hunt-j", keys);
    expect([...read.values()].map((b) => b.features.FailedCount.history)).toEqual(keys.map(() => [1, 2, 3]));
  });

  it("a value seen every day by the same entities is not pruned as unseen: its last window is written every prevalenceRefreshMs (a day here)", async () => {
    const store = new BaselineStore((await freshStorage(azurite())).table("baselines"), { prevalenceRefreshMs: 86_400_000 });
    const day0 = Date.UTC(2024, 0, 1);
    const seen = new Map([["svchost.exe|445", ["ws1", "ws2"]]]);
    await store.applyPrevalence("hunt-v", seen, day0);
    // The same entities within the day: nothing to write.
    expect((await store.applyPrevalence("hunt-v", seen, day0 + 3_600_000)).written).toBe(0);
    for (let day = 1; day <= 3; day++) expect((await store.applyPrevalence("hunt-v", seen, day0 + day * 86_400_000)).written).toBe(1);
    const stored = (await store.getPrevalence("hunt-v", ["svchost.exe|445"])).get("svchost.exe|445")!;
    expect([stored.count, stored.lastWindowEnd]).toEqual([2, day0 + 3 * 86_400_000]);
    expect(await store.prune(day0 + 2 * 86_400_000)).toBe(0);
  });

  it("prunes rows of every hunt (a removed one too) last written for a window before the cut-off; a held hunt forgets what it remembered of them", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const store = new BaselineStore(client);
    const old = Date.UTC(2024, 0, 1);
    const recent = Date.UTC(2024, 5, 1);
    await store.applyObservations("hunt-f", [observation("old", 1, old - HOUR)], { start: old - HOUR, end: old }, {});
    await store.applyObservations("hunt-f", [observation("recent", 1, recent - HOUR)], { start: recent - HOUR, end: recent }, {});
    await store.applyHuntWindow("hunt-f", recent, 1);
    // A hunt no longer in the catalog: its baselines, prevalence and learning state are all old.
    await store.applyObservations("retired-hunt", [observation("gone", 1, old - HOUR)], { start: old - HOUR, end: old }, {});
    await store.applyPrevalence("retired-hunt", new Map([["value", ["gone"]]]), old);
    await store.applyHuntWindow("retired-hunt", old, 1);

    await store.hold("hunt-f");
    try {
      expect([...(await store.getBaselines("hunt-f", ["old", "recent"])).keys()]).toEqual(["old", "recent"]);
      expect(await store.prune(Date.UTC(2024, 2, 1))).toBe(4);
      expect([...(await store.getBaselines("hunt-f", ["old", "recent"])).keys()]).toEqual(["recent"]);
    } finally {
      store.release("hunt-f", true);
    }
    const fresh = new BaselineStore(client);
    expect((await fresh.getHuntState("hunt-f")).windows).toBe(1);
    expect((await fresh.getBaselines("retired-hunt", ["gone"])).size).toBe(0);
    expect((await fresh.getPrevalence("retired-hunt", ["value"])).size).toBe(0);
    expect((await fresh.getHuntState("retired-hunt")).windows).toBe(0);
  });
});

describe("packs: many entities' baselines in one row", () => {
  /** The rows of a partition as stored, by row key. */
  async function rowsOf(client: TableClient, partitionKey: string): Promise<Map<string, Record<string, unknown>>> {
    const rows = new Map<string, Record<string, unknown>>();
    for await (const row of client.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
    }))
      rows.set(row.rowKey!, row);
    return rows;
  }
  /** The row keys a pack's slots hold. */
  const packedKeys = (pack: Record<string, unknown>) =>
    Object.entries(pack)
      .filter(([name, text]) => /^s\d{3}$/.test(name) && typeof text === "string" && text)
      .flatMap(([, text]) => (text as string).split("\n").map((line) => line.slice(0, line.indexOf("\t"))))
      .sort();
  /** Distinct values long enough that the baseline no longer fits a pack. */
  const wide = (entityKey: string, at: number): Observation => ({
    ...observation(entityKey, 9, at),
    distinct: { Users: Array.from({ length: 30 }, (_, i) => `${"x".repeat(180)}-${i}`) },
  });

  it("packs small rows; stores alone a row too large for a pack, and one that grows too large leaves its pack", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 2 };
    const keys = Array.from({ length: 20 }, (_, i) => `10.9.0.${i}`);
    await heldWindow(new BaselineStore(client, layout), "hunt-p", [...keys.map((k) => observation(k, 1)), wide("10.9.1.1", 0)], HOUR);
    let rows = await rowsOf(client, "hunt-p~b00");
    expect([...rows.keys()].sort()).toEqual(["%pack-00", "%pack-01", "10.9.1.1"]);
    expect(
      [...rows.values()]
        .filter((r) => String(r.rowKey).startsWith("%pack-"))
        .flatMap(packedKeys)
        .sort(),
    ).toEqual([...keys].sort());

    // The next window: one packed entity's distinct values outgrow the pack.
    await heldWindow(
      new BaselineStore(client, layout),
      "hunt-p",
      [...keys.slice(1).map((k) => observation(k, 2)), wide(keys[0], HOUR)],
      2 * HOUR,
    );
    rows = await rowsOf(client, "hunt-p~b00");
    expect(rows.has(keys[0])).toBe(true);
    expect(
      [...rows.values()]
        .filter((r) => String(r.rowKey).startsWith("%pack-"))
        .flatMap(packedKeys)
        .sort(),
    ).toEqual(keys.slice(1).sort());
    const read = await new BaselineStore(client, layout).getBaselines("hunt-p", [...keys, "10.9.1.1"]);
    expect([...read.values()].map((b) => b.features.FailedCount.history)).toEqual([[1, 9], ...keys.slice(1).map(() => [1, 2]), [9]]);
    expect(read.get(keys[0])!.distinct.Users).toHaveLength(31);
  });

  it("a packed line leaves out an entity key its row key spells as it is, keeps one escaping changed, and both read back", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 1 };
    const plain = "ws-7.contoso.local|svchost.exe|10.0.0.5|389";
    const escaped = "CONTOSO\\alice|50%";
    await heldWindow(new BaselineStore(client, layout), "hunt-k", [observation(plain, 1), observation(escaped, 2)], HOUR);
    const [pack] = (await rowsOf(client, "hunt-k~b00")).values();
    const lines = Object.entries(pack)
      .filter(([name, text]) => /^s\d{3}$/.test(name) && typeof text === "string" && text)
      .flatMap(([, text]) => (text as string).split("\n"));
    const jsonOf = (rowKey: string) =>
      JSON.parse(lines.find((line) => line.startsWith(`${rowKey}\t`))!.split("\t")[2]) as Record<string, unknown>;
    expect(jsonOf(plain)).not.toHaveProperty("entityKey");
    expect(jsonOf("CONTOSO%5Calice|50%25").entityKey).toBe(escaped);
    const read = await new BaselineStore(client, layout).getBaselines("hunt-k", [plain, escaped]);
    expect([...read.values()].map((b) => [b.entityKey, b.features.FailedCount.history])).toEqual([
      [plain, [1]],
      [escaped, [2]],
    ]);
  });

  it("a packed line holds JSON as JSON and times as numbers, and leaves out what it has elsewhere; a line written before (JSON as text, ISO times, its last window in the JSON) still reads, and is rewritten so", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 1 };
    const entity = "10.9.0.1";
    const value = "203.0.113.9|445";
    const store = new BaselineStore(client, layout);
    await store.applyObservations("hunt-j", [observation(entity, 3, HOUR / 2)], { start: 0, end: HOUR }, {});
    await store.applyPrevalence("hunt-j", new Map([[value, ["ws-1", 'ws "2"']]]), HOUR);
    /** The pack's one line in partition `kind`, and where it is (its slot property). */
    const lineIn = async (kind: string) => {
      const [pack] = (await rowsOf(client, `hunt-j~${kind}00`)).values();
      const [slot, text] = Object.entries(pack).find(([name, text]) => /^s\d{3}$/.test(name) && typeof text === "string" && text)!;
      const [key, end, json] = (text as string).split("\t");
      return { slot, key, end, json: JSON.parse(json) as Record<string, unknown> };
    };
    const baseline = await lineIn("b");
    expect(baseline.json).toMatchObject({ firstSeen: HOUR / 2, lastSeen: HOUR / 2 + 1000, distinct: { Users: ["u3"] } });
    expect(baseline.json.features).toMatchObject({ FailedCount: { history: [3] } });
    // The last window is the line's second field only.
    expect(baseline.end).toBe(String(HOUR));
    expect(baseline.json).not.toHaveProperty("lastWindowEnd");
    const prevalence = await lineIn("p");
    expect(prevalence.json).toMatchObject({ across: ["ws-1", 'ws "2"'], count: 2 });
    expect(prevalence.json).not.toHaveProperty("valueKey");
    expect(prevalence.json).not.toHaveProperty("lastWindowEnd");

    // The same rows as an earlier version wrote them: JSON properties as text, times as ISO text, the last window in the JSON too.
    const { features, distinct, firstSeen, lastSeen, ...rest } = baseline.json;
    const older = { ...rest, lastWindowEnd: HOUR, features: JSON.stringify(features), distinct: JSON.stringify(distinct) };
    Object.assign(older, { firstSeen: new Date(firstSeen as number).toISOString(), lastSeen: new Date(lastSeen as number).toISOString() });
    const olderPrevalence = { ...prevalence.json, valueKey: value, lastWindowEnd: HOUR, across: JSON.stringify(prevalence.json.across) };
    for (const [kind, line, json] of [
      ["b", baseline, older],
      ["p", prevalence, olderPrevalence],
    ] as const)
      await client.updateEntity(
        { partitionKey: `hunt-j~${kind}00`, rowKey: "%pack-00", [line.slot]: [line.key, line.end, JSON.stringify(json)].join("\t") },
        "Merge",
      );
    const reader = new BaselineStore(client, layout);
    expect((await reader.getBaselines("hunt-j", [entity])).get(entity)).toMatchObject({
      firstSeen: HOUR / 2,
      lastSeen: HOUR / 2 + 1000,
      features: { FailedCount: { history: [3] } },
      distinct: { Users: ["u3"] },
    });
    expect((await reader.getPrevalence("hunt-j", [value])).get(value)).toMatchObject({ across: ["ws-1", 'ws "2"'], count: 2 });

    await reader.applyObservations("hunt-j", [observation(entity, 5, HOUR)], { start: HOUR, end: 2 * HOUR }, {});
    const rewritten = await lineIn("b");
    expect(rewritten.json).toMatchObject({ firstSeen: HOUR / 2, lastSeen: HOUR + 1000, distinct: { Users: ["u3", "u5"] } });
    expect(rewritten.json.features).toMatchObject({ FailedCount: { history: [3, 5] } });
    expect([rewritten.end, rewritten.json.lastWindowEnd]).toEqual([String(2 * HOUR), undefined]);
    expect((await new BaselineStore(client, layout).getBaselines("hunt-j", [entity])).get(entity)!.lastWindowEnd).toBe(2 * HOUR);
  });

  it("a packed baseline without distinct values leaves them out of its line, and reads back with none", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 1 };
    const entity = "10.9.0.2";
    await new BaselineStore(client, layout).applyObservations(
      "hunt-e",
      [{ ...observation(entity, 2), distinct: {} }],
      { start: 0, end: HOUR },
      {},
    );
    const [pack] = (await rowsOf(client, "hunt-e~b00")).values();
    const line = Object.entries(pack).find(([name, text]) => /^s\d{3}$/.test(name) && typeof text === "string" && text)![1] as string;
    expect(JSON.parse(line.split("\t")[2])).not.toHaveProperty("distinct");
    const read = (await new BaselineStore(client, layout).getBaselines("hunt-e", [entity])).get(entity)!;
    expect([read.distinct, read.features.FailedCount.history, read.lastWindowEnd]).toEqual([{}, [2], HOUR]);
  });

  it("a row found alone and in its pack is the row alone, and its next write drops the copy in the pack", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 1 };
    const store = new BaselineStore(client, layout);
    await store.applyObservations("hunt-q", [observation("10.8.0.1", 1), observation("10.8.0.2", 1)], { start: 0, end: HOUR }, {});
    // The row is also stored alone, newer, written for window 2 (by hand here: the store creates a row alone with its pack).
    const alone = applyObservation("hunt-q", undefined, observation("10.8.0.1", 5), { start: HOUR, end: 2 * HOUR }, {})!;
    await client.createEntity(fromBaseline("hunt-q~b00", "10.8.0.1", { ...alone, windows: 2 }));

    expect((await store.getBaselines("hunt-q", ["10.8.0.1"])).get("10.8.0.1")!.windows).toBe(2);
    await store.applyObservations("hunt-q", [observation("10.8.0.1", 7)], { start: 2 * HOUR, end: 3 * HOUR }, {});
    const rows = await rowsOf(client, "hunt-q~b00");
    expect(packedKeys(rows.get("%pack-00")!)).toEqual(["10.8.0.2"]);
    const read = (await new BaselineStore(client, layout).getBaselines("hunt-q", ["10.8.0.1"])).get("10.8.0.1")!;
    expect([read.windows, read.features.FailedCount.history]).toEqual([3, [5, 7]]);
  });

  it("a packed row stays in the slot it was stored in (a layout with other slots wrote it): updated there, never copied to another", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 1 };
    const entities = ["10.5.0.1", "10.5.0.2", "10.5.0.3"];
    await new BaselineStore(client, layout).applyObservations(
      "hunt-s",
      entities.map((k) => observation(k, 1)),
      { start: 0, end: HOUR },
      {},
    );
    // Move every line to a slot the current layout would not choose for it, as a pack written with a different slot count.
    const pack = (await rowsOf(client, "hunt-s~b00")).get("%pack-00")!;
    const lines = Object.entries(pack)
      .filter(([name, text]) => /^s\d{3}$/.test(name) && typeof text === "string" && text)
      .flatMap(([, text]) => (text as string).split("\n"));
    const moved: TableEntity<Record<string, unknown>> = { partitionKey: "hunt-s~b00", rowKey: "%pack-00" };
    for (const name of Object.keys(pack)) if (/^s\d{3}$/.test(name)) moved[name] = "";
    moved.s250 = lines.join("\n");
    await client.updateEntity(moved, "Merge");

    await new BaselineStore(client, layout).applyObservations("hunt-s", [observation(entities[0], 4)], { start: HOUR, end: 2 * HOUR }, {});
    const stored = (await rowsOf(client, "hunt-s~b00")).get("%pack-00")!;
    expect(packedKeys(stored)).toEqual(entities);
    expect(
      (stored.s250 as string)
        .split("\n")
        .map((line) => line.slice(0, line.indexOf("\t")))
        .sort(),
    ).toEqual(entities);
    const read = await new BaselineStore(client, layout).getBaselines("hunt-s", entities);
    expect(entities.map((k) => read.get(k)!.features.FailedCount.history)).toEqual([[1, 4], [1], [1]]);
  });

  it("a row leaving its pack and a run writing the pack meanwhile lose no update: the row alone is created with the pack's etag", async () => {
    const storage = await freshStorage(azurite());
    const client = storage.table("baselines");
    const layout = { buckets: 1, packs: 1 };
    const entity = "10.6.0.1";
    await new BaselineStore(client, layout).applyObservations("hunt-w", [observation(entity, 1)], { start: 0, end: HOUR }, {});
    // A late run of window 2 holds the hunt and remembers the partition as it was after window 1.
    const late = new BaselineStore(client, layout);
    await late.hold("hunt-w");
    await late.getBaselines("hunt-w", [entity]);
    // Window 3, run elsewhere: the entity outgrows its pack; window 2 is written to the pack before the pack is rewritten.
    let lateResult: ApplyResult | undefined;
    const racing = clientRacingTransactions(storage, client, async (body) => {
      if (lateResult || !body.includes("pack-00")) return;
      lateResult = await late.applyObservations("hunt-w", [observation(entity, 2, HOUR)], { start: HOUR, end: 2 * HOUR }, {});
    });
    await new BaselineStore(racing, layout).applyObservations("hunt-w", [wide(entity, 2 * HOUR)], { start: 2 * HOUR, end: 3 * HOUR }, {});
    late.release("hunt-w", true);
    expect(lateResult).toMatchObject({ written: 1 });
    const read = (await new BaselineStore(client, layout).getBaselines("hunt-w", [entity])).get(entity)!;
    expect([read.windows, read.features.FailedCount.history]).toEqual([3, [1, 2, 9]]);
  });

  it("creates more rows alone from one pack than a transaction holds: those past it wait for the next attempt", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 1 };
    const keys = Array.from({ length: 150 }, (_, i) => `10.5.${i >> 8}.${i & 255}`);
    const store = new BaselineStore(client, layout);
    expect(
      await store.applyObservations("hunt-y", [observation("small", 1), ...keys.map((k) => wide(k, 0))], { start: 0, end: HOUR }, {}),
    ).toEqual({ written: 151, skipped: 0, retries: 0 });
    const read = await new BaselineStore(client, layout).getBaselines("hunt-y", ["small", ...keys]);
    expect([...read.values()].map((b) => b.windows)).toEqual([1, ...keys.map(() => 1)]);
  });

  it("keeps a transaction under 4 MiB as sent, when rows are full of quotes and backslashes (escaped twice in a pack)", async () => {
    const client = (await freshStorage(azurite())).table("baselines");
    const layout = { buckets: 1, packs: 32 };
    // Command lines are the log's (an attacker's) text: each quote and backslash is escaped in the row's JSON, again in the
    // pack's slot and again in the request, so a pack's request is far larger than its characters.
    const commandLines = (k: number) => Array.from({ length: 45 }, (_, j) => `"C:\\\\?\\${k}\\${j}\\\\a.exe" \\"/c\\"`);
    const observations = Array.from({ length: 1_200 }, (_, k) => ({
      ...observation(`10.7.${k >> 8}.${k & 255}`, 1),
      distinct: { CommandLine: commandLines(k) },
    }));
    const result = await new BaselineStore(client, layout).applyObservations(
      "hunt-x",
      observations,
      { start: 0, end: HOUR },
      { CommandLine: 50 },
    );
    expect(result).toEqual({ written: 1_200, skipped: 0, retries: 0 });
    const read = await new BaselineStore(client, layout).getBaselines(
      "hunt-x",
      observations.map((o) => o.entityKey),
    );
    expect([...read.values()].map((b) => b.distinct.CommandLine)).toEqual(observations.map((o) => o.distinct.CommandLine));
  });

  it("pruning rewrites a pack without its rows past the cut-off, deletes a pack left empty, and leaves a pack a run rewrote meanwhile", async () => {
    const storage = await freshStorage(azurite());
    const client = storage.table("baselines");
    const layout = { buckets: 1, packs: 1 };
    const writer = new BaselineStore(client, layout);
    const old = Date.UTC(2024, 0, 1);
    const recent = Date.UTC(2024, 5, 1);
    await writer.applyObservations(
      "hunt-r",
      [observation("old-1", 1, old - HOUR), observation("old-2", 1, old - HOUR)],
      { start: old - HOUR, end: old },
      {},
    );
    await writer.applyObservations("hunt-r", [observation("recent", 1, recent - HOUR)], { start: recent - HOUR, end: recent }, {});

    // A run writes the pack between the prune's listing and its rewrite: the rewrite fails on the etag, and nothing is lost.
    let raced = false;
    const racing = clientRacingTransactions(storage, client, async () => {
      if (raced) return;
      raced = true;
      await writer.applyObservations("hunt-r", [observation("recent", 2, recent)], { start: recent, end: recent + HOUR }, {});
    });
    expect(await new BaselineStore(racing, layout).prune(Date.UTC(2024, 2, 1))).toBe(0);
    expect(raced).toBe(true);
    expect([...(await writer.getBaselines("hunt-r", ["old-1", "old-2", "recent"])).keys()]).toEqual(["old-1", "old-2", "recent"]);

    // The next prune gets through.
    expect(await new BaselineStore(client, layout).prune(Date.UTC(2024, 2, 1))).toBe(2);
    expect(packedKeys((await rowsOf(client, "hunt-r~b00")).get("%pack-00")!)).toEqual(["recent"]);
    const read = await new BaselineStore(client, layout).getBaselines("hunt-r", ["old-1", "recent"]);
    expect([...read.keys()]).toEqual(["recent"]);
    expect(read.get("recent")!.features.FailedCount.history).toEqual([1, 2]);

    expect(await new BaselineStore(client, layout).prune(Date.UTC(2025, 0, 1))).toBe(1);
    expect((await rowsOf(client, "hunt-r~b00")).size).toBe(0);
  });
});
