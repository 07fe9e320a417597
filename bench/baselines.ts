/**
 * Baseline write throughput against Azurite: 100k entity updates through the batched store
 * (entity group transactions of up to 100, etag-checked) versus one upsert request per entity,
 * measured side by side in one run on the same observations; and this process's CPU per operation
 * when the same transactions are written by the project's $batch writer (lib/state/transactions.ts)
 * and by the SDK's submitTransaction, alternating, each into a table of its own.
 */
import { performance } from "node:perf_hooks";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import pMap from "p-map";
import { BaselineStore, fromBaseline } from "../lib/baselines/store.js";
import { applyObservation, type Observation } from "../lib/baselines/model.js";
import { startAzurite } from "../lib/local/azurite.js";
import { encodeKey } from "../lib/state/keys.js";
import { Storage } from "../lib/state/storage.js";
import { transactionChunks } from "../lib/state/tables.js";
import { submitTransaction, type TableAction } from "../lib/state/transactions.js";
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
      transactionWriter: await benchTransactionWriter(azurite.connectionString, observations.slice(0, TRANSACTION_BENCH_ENTITIES), window),
      note: "Azurite on this machine, same process start; the batched path also reads current state (etag) first, the single path does not",
    };
    console.log(
      `baselines: transactions cost this process ${out.transactionWriter.project.cpuMicrosecondsPerOperation} µs per operation (SDK: ${out.transactionWriter.sdk.cpuMicrosecondsPerOperation} µs)`,
    );
    console.log(
      `baselines: batched ${out.batched.entitiesPerSecond}/s, single ${out.singleRequests.entitiesPerSecond}/s, speedup ${out.batchedSpeedup}x`,
    );
    return out;
  } finally {
    await azurite.stop();
  }
}

/** Entities each writer creates and then updates, per round. */
const TRANSACTION_BENCH_ENTITIES = 20_000;
const TRANSACTION_BENCH_ROUNDS = 3;

/**
 * The same baseline entities created, then updated with their etags, in transactions of 100: by
 * the project's writer and by the SDK's, alternating round by round, each into its own table.
 * CPU is this process's only (Azurite's is the same for the same requests).
 */
async function benchTransactionWriter(
  connectionString: string,
  observations: readonly Observation[],
  window: { start: number; end: number },
) {
  const writers = {
    project: (client: TableClient, actions: TableAction[]) => submitTransaction(client, actions),
    sdk: (client: TableClient, actions: TableAction[]) => client.submitTransaction(actions as TransactionAction[]),
  };
  const cpu = { project: 0, sdk: 0 };
  for (let round = 0; round < TRANSACTION_BENCH_ROUNDS; round++) {
    for (const name of ["project", "sdk"] as const) {
      const storage = new Storage({ kind: "connection-string", connectionString, tablePrefix: `tx${name}${round}` });
      await storage.ensure();
      const client = storage.table("baselines");
      const entities = observations.map((o, i) =>
        fromBaseline(`bench~b${i % 64}`, encodeKey(o.entityKey), applyObservation("bench", undefined, o, window, { Users: 50 })!),
      );
      const chunks = transactionChunks(entities, (e) => e.partitionKey);
      const started = process.cpuUsage();
      await pMap(
        chunks,
        async (chunk) => {
          const created = await writers[name](
            client,
            chunk.map((e): TableAction => ["create", e]),
          );
          await writers[name](
            client,
            chunk.map((e, i): TableAction => ["update", { ...e, windows: 2 }, "Merge", { etag: created.subResponses[i].etag }]),
          );
        },
        { concurrency: 8 },
      );
      const used = process.cpuUsage(started);
      cpu[name] += (used.user + used.system) / 1e6;
    }
  }
  const operations = observations.length * 2 * TRANSACTION_BENCH_ROUNDS;
  const perOperation = (seconds: number) => Number(((seconds / operations) * 1e6).toFixed(1));
  return {
    operations,
    rounds: TRANSACTION_BENCH_ROUNDS,
    project: { cpuSeconds: Number(cpu.project.toFixed(2)), cpuMicrosecondsPerOperation: perOperation(cpu.project) },
    sdk: { cpuSeconds: Number(cpu.sdk.toFixed(2)), cpuMicrosecondsPerOperation: perOperation(cpu.sdk) },
    cpuRatio: Number((cpu.sdk / cpu.project).toFixed(2)),
  };
}
