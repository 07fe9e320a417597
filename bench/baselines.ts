/**
 * Baseline write throughput against Azurite: 100k entity updates through the batched store
 * (entity group transactions of up to 100, etag-checked) versus one upsert request per entity,
 * measured side by side in one run on the same observations.
 */
import { performance } from "node:perf_hooks";
import pMap from "p-map";
import { BaselineStore, fromBaseline } from "../lib/baselines/store.js";
import { applyObservation, type Observation } from "../lib/baselines/model.js";
import { startAzurite } from "../lib/local/azurite.js";
import { encodeKey } from "../lib/state/keys.js";
import { Storage } from "../lib/state/storage.js";
import type { BenchSection } from "./measure.js";

export async function benchBaselines(entities: number): Promise<BenchSection> {
  const azurite = await startAzurite({ inMemory: true });
  try {
    const observations: Observation[] = Array.from({ length: entities }, (_, i) => ({
      entityKey: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      features: { FailedCount: i % 17, UserCount: i % 5 },
      distinct: { Users: [`user${i % 100}`] },
      firstSeen: 0,
      lastSeen: 1000,
    }));
    const window = { start: 0, end: 3_600_000 };

    const batchedStorage = new Storage({ kind: "connection-string", connectionString: azurite.connectionString, tablePrefix: "batched" });
    await batchedStorage.ensure();
    const store = new BaselineStore(batchedStorage.table("baselines"));
    let started = performance.now();
    const result = await store.applyObservations("bench", observations, window, { Users: 50 });
    const batchedSeconds = (performance.now() - started) / 1000;
    if (result.written !== entities) throw new Error(`batched wrote ${result.written} of ${entities}`);

    // The naive way: one upsert request per entity (no read, no etag: it is the cheaper form).
    const singleStorage = new Storage({ kind: "connection-string", connectionString: azurite.connectionString, tablePrefix: "single" });
    await singleStorage.ensure();
    const table = singleStorage.table("baselines");
    const partitionOf = await store.baselinePartitions("bench");
    started = performance.now();
    await pMap(
      observations,
      async (o) => {
        const next = applyObservation("bench", undefined, o, window, { Users: 50 })!;
        await table.upsertEntity(fromBaseline(partitionOf(o.entityKey), encodeKey(o.entityKey), next), "Replace");
      },
      { concurrency: 32 },
    );
    const singleSeconds = (performance.now() - started) / 1000;
    const out = {
      entities,
      batched: {
        seconds: Number(batchedSeconds.toFixed(2)),
        entitiesPerSecond: Math.round(entities / batchedSeconds),
        transactions: Math.ceil(entities / 100),
      },
      singleRequests: {
        seconds: Number(singleSeconds.toFixed(2)),
        entitiesPerSecond: Math.round(entities / singleSeconds),
        requests: entities,
        concurrency: 32,
      },
      batchedSpeedup: Number((singleSeconds / batchedSeconds).toFixed(2)),
      note: "Azurite on this machine, same process start; the batched path also reads current state (etag) first, the single path does not",
    };
    console.log(
      `baselines: batched ${out.batched.entitiesPerSecond}/s, single ${out.singleRequests.entitiesPerSecond}/s, speedup ${out.batchedSpeedup}x`,
    );
    return out;
  } finally {
    await azurite.stop();
  }
}
