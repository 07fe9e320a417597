/**
 * Baselines in Azure Table Storage.
 *
 * Layout (table `<prefix>baselines`):
 *   PartitionKey `<hunt>~b<bucket>`  RowKey <entity>       one entity's baseline
 *   PartitionKey `<hunt>~p<bucket>`  RowKey <value>        prevalence of a value across entities
 *   PartitionKey `<hunt>~state`      RowKey `hunt`         the hunt's learning state
 * Entities of a hunt are spread over BUCKETS partitions by a hash of their key, so one hunt's
 * writes are not capped by a single partition's ~2,000 entities/s.
 *
 * Writes are entity group transactions of at most 100 operations on one partition, each
 * operation conditional on the etag read (or on the entity not existing yet). When another run
 * got there first, the transaction fails as a whole, the entities are read again and the update
 * recomputed: no update is lost, and none is applied twice (see applyObservation).
 */
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import { bucketOf, decodeKey, encodeKey } from "../state/keys.js";
import { getEntityOrUndefined, isConflict, transactionChunks } from "../state/tables.js";
import { applyObservation, applyPrevalence, type Baseline, type HuntState, type Observation, type Prevalence } from "./model.js";

export const BUCKETS = 16;
const READ_CONCURRENCY = 32;
const MAX_ATTEMPTS = 6;

type Stored = Record<string, unknown> & { partitionKey: string; rowKey: string };
type Current = { entity: Stored; etag: string } | undefined;

interface PendingWrite {
  partitionKey: string;
  rowKey: string;
  /** The entity to store given what is stored now, or undefined for "nothing to do". */
  compute(current: Current): Stored | undefined;
}

export interface ApplyResult {
  written: number;
  skipped: number;
  /** Transactions that lost a race and were recomputed. */
  retries: number;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

export class BaselineStore {
  constructor(
    private readonly client: TableClient,
    private readonly buckets = BUCKETS,
  ) {}

  baselinePartition(huntId: string, entityKey: string): string {
    return `${encodeKey(huntId)}~b${String(bucketOf(entityKey, this.buckets)).padStart(2, "0")}`;
  }

  private prevalencePartition(huntId: string, valueKey: string): string {
    return `${encodeKey(huntId)}~p${String(bucketOf(valueKey, this.buckets)).padStart(2, "0")}`;
  }

  private async read(partitionKey: string, rowKey: string): Promise<Current> {
    const entity = await getEntityOrUndefined<Stored>(this.client, partitionKey, rowKey);
    return entity && { entity: entity as Stored, etag: entity.etag };
  }

  /** Reads many entities: point reads for a few, whole partitions for many. */
  private async readMany(keys: { partitionKey: string; rowKey: string }[]): Promise<Map<string, Current>> {
    const out = new Map<string, Current>();
    const id = (pk: string, rk: string) => `${pk}\u0000${rk}`;
    const partitions = new Map<string, Set<string>>();
    for (const k of keys) (partitions.get(k.partitionKey) ?? partitions.set(k.partitionKey, new Set()).get(k.partitionKey)!).add(k.rowKey);
    await mapLimit([...partitions], READ_CONCURRENCY, async ([partitionKey, rowKeys]) => {
      if (rowKeys.size > 50) {
        for await (const entity of this.client.listEntities<Stored>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` } })) {
          if (rowKeys.has(entity.rowKey!)) out.set(id(partitionKey, entity.rowKey!), { entity: entity as Stored, etag: entity.etag });
        }
      } else {
        await mapLimit([...rowKeys], READ_CONCURRENCY, async (rowKey) => {
          const current = await this.read(partitionKey, rowKey);
          if (current) out.set(id(partitionKey, rowKey), current);
        });
      }
    });
    for (const k of keys) if (!out.has(id(k.partitionKey, k.rowKey))) out.set(id(k.partitionKey, k.rowKey), undefined);
    return out;
  }

  /** Writes with etag checks in per-partition transactions, recomputing whatever lost a race. */
  private async write(pending: PendingWrite[]): Promise<ApplyResult> {
    const result: ApplyResult = { written: 0, skipped: 0, retries: 0 };
    let todo = pending;
    for (let attempt = 1; todo.length; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new Error(`gave up after ${MAX_ATTEMPTS} attempts: ${todo.length} baseline updates keep conflicting`);
      const currents = await this.readMany(todo);
      const operations: { item: PendingWrite; action: TransactionAction }[] = [];
      for (const item of todo) {
        const current = currents.get(`${item.partitionKey}\u0000${item.rowKey}`);
        const next = item.compute(current);
        if (!next) {
          result.skipped++;
          continue;
        }
        const action: TransactionAction = current ? ["update", next, "Replace", { etag: current.etag }] : ["create", next];
        operations.push({ item, action });
      }
      const retry: PendingWrite[] = [];
      await mapLimit(transactionChunks(operations, (o) => o.item.partitionKey), 8, async (chunk) => {
        try {
          await this.client.submitTransaction(chunk.map((c) => c.action));
          result.written += chunk.length;
        } catch (error) {
          if (!isConflict(error)) throw error;
          result.retries++;
          retry.push(...chunk.map((c) => c.item));
        }
      });
      todo = retry;
    }
    return result;
  }

  // ---- baselines ----

  async getBaselines(huntId: string, entityKeys: readonly string[]): Promise<Map<string, Baseline>> {
    const keys = entityKeys.map((k) => ({ partitionKey: this.baselinePartition(huntId, k), rowKey: encodeKey(k) }));
    const currents = await this.readMany(keys);
    const out = new Map<string, Baseline>();
    entityKeys.forEach((k, i) => {
      const current = currents.get(`${keys[i].partitionKey}\u0000${keys[i].rowKey}`);
      if (current) out.set(k, toBaseline(huntId, current.entity));
    });
    return out;
  }

  async applyObservations(huntId: string, observations: readonly Observation[], window: { start: number; end: number }, caps: Record<string, number>): Promise<ApplyResult> {
    return this.write(
      observations.map((observation) => {
        const partitionKey = this.baselinePartition(huntId, observation.entityKey);
        const rowKey = encodeKey(observation.entityKey);
        return {
          partitionKey,
          rowKey,
          compute: (current) => {
            const next = applyObservation(huntId, current ? toBaseline(huntId, current.entity) : undefined, observation, window, caps);
            return next && fromBaseline(partitionKey, rowKey, next);
          },
        };
      }),
    );
  }

  /** Deletes baselines not seen since `before`; returns how many. */
  async prune(huntId: string, before: number): Promise<number> {
    let deleted = 0;
    for (let bucket = 0; bucket < this.buckets; bucket++) {
      const partitionKey = `${encodeKey(huntId)}~b${String(bucket).padStart(2, "0")}`;
      const filter = odata`PartitionKey eq ${partitionKey} and lastSeen lt ${new Date(before)}`;
      const stale: TransactionAction[] = [];
      for await (const entity of this.client.listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })) {
        stale.push(["delete", { partitionKey, rowKey: entity.rowKey! }]);
      }
      for (const chunk of transactionChunks(stale, () => partitionKey)) {
        await this.client.submitTransaction(chunk);
        deleted += chunk.length;
      }
    }
    return deleted;
  }

  // ---- hunt state ----

  async getHuntState(huntId: string): Promise<HuntState> {
    const current = await this.read(`${encodeKey(huntId)}~state`, "hunt");
    return current
      ? { huntId, windows: Number(current.entity.windows), lastWindowEnd: Number(current.entity.lastWindowEnd), population: Number(current.entity.population) }
      : { huntId, windows: 0, lastWindowEnd: 0, population: 0 };
  }

  async applyHuntWindow(huntId: string, windowEnd: number, population: number): Promise<ApplyResult> {
    const partitionKey = `${encodeKey(huntId)}~state`;
    return this.write([
      {
        partitionKey,
        rowKey: "hunt",
        compute: (current) => {
          if (current && Number(current.entity.lastWindowEnd) >= windowEnd) return undefined;
          return {
            partitionKey,
            rowKey: "hunt",
            windows: (current ? Number(current.entity.windows) : 0) + 1,
            lastWindowEnd: windowEnd,
            population: Math.max(current ? Number(current.entity.population) : 0, population),
          };
        },
      },
    ]);
  }

  // ---- prevalence ----

  async getPrevalence(huntId: string, valueKeys: readonly string[]): Promise<Map<string, Prevalence>> {
    const keys = valueKeys.map((k) => ({ partitionKey: this.prevalencePartition(huntId, k), rowKey: encodeKey(k) }));
    const currents = await this.readMany(keys);
    const out = new Map<string, Prevalence>();
    valueKeys.forEach((k, i) => {
      const current = currents.get(`${keys[i].partitionKey}\u0000${keys[i].rowKey}`);
      if (current) out.set(k, toPrevalence(huntId, k, current.entity));
    });
    return out;
  }

  async applyPrevalence(huntId: string, seen: ReadonlyMap<string, readonly string[]>, windowEnd: number): Promise<ApplyResult> {
    return this.write(
      [...seen].map(([valueKey, across]) => {
        const partitionKey = this.prevalencePartition(huntId, valueKey);
        const rowKey = encodeKey(valueKey);
        return {
          partitionKey,
          rowKey,
          compute: (current) => {
            const next = applyPrevalence(huntId, current ? toPrevalence(huntId, valueKey, current.entity) : undefined, valueKey, across, windowEnd);
            return next && { partitionKey, rowKey, valueKey, across: JSON.stringify(next.across), count: next.count, lastWindowEnd: next.lastWindowEnd };
          },
        };
      }),
    );
  }
}

/** Table Storage properties hold at most 64 KiB (32K characters): keep JSON columns under that. */
const MAX_JSON = 30_000;

function boundedJson(value: Record<string, unknown>): string {
  let text = JSON.stringify(value);
  if (text.length <= MAX_JSON) return text;
  const copy = JSON.parse(text) as Record<string, unknown[] | { history: number[] }>;
  // Shrink the largest lists first until the document fits.
  while (text.length > MAX_JSON) {
    const [name] = Object.entries(copy).sort(([, a], [, b]) => JSON.stringify(b).length - JSON.stringify(a).length)[0];
    const entry = copy[name];
    if (Array.isArray(entry)) entry.splice(Math.floor(entry.length / 2));
    else entry.history.splice(0, Math.ceil(entry.history.length / 2));
    text = JSON.stringify(copy);
  }
  return text;
}

function fromBaseline(partitionKey: string, rowKey: string, b: Baseline): Stored {
  return {
    partitionKey,
    rowKey,
    entityKey: b.entityKey,
    windows: b.windows,
    firstSeen: new Date(b.firstSeen),
    lastSeen: new Date(b.lastSeen),
    lastWindowEnd: b.lastWindowEnd,
    features: boundedJson(b.features),
    distinct: boundedJson(b.distinct),
  };
}

function toBaseline(huntId: string, entity: Stored): Baseline {
  const time = (v: unknown) => (v instanceof Date ? v.getTime() : Date.parse(String(v)));
  return {
    huntId,
    entityKey: typeof entity.entityKey === "string" ? entity.entityKey : decodeKey(entity.rowKey),
    windows: Number(entity.windows),
    firstSeen: time(entity.firstSeen),
    lastSeen: time(entity.lastSeen),
    lastWindowEnd: Number(entity.lastWindowEnd),
    features: JSON.parse(String(entity.features ?? "{}")),
    distinct: JSON.parse(String(entity.distinct ?? "{}")),
  };
}

function toPrevalence(huntId: string, valueKey: string, entity: Stored): Prevalence {
  return { huntId, valueKey, across: JSON.parse(String(entity.across ?? "[]")), count: Number(entity.count), lastWindowEnd: Number(entity.lastWindowEnd) };
}
