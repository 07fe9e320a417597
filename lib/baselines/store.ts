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
import pMap from "p-map";
import { bucketOf, decodeKey, encodeKey } from "../state/keys.js";
import { deleteWhere, epochMsLiteral, getEntityOrUndefined, isConflict, transactionChunks } from "../state/tables.js";
import { applyObservation, applyPrevalence, type Baseline, type HuntState, type Observation, type Prevalence } from "./model.js";

export const BUCKETS = 16;
const READ_CONCURRENCY = 32;
const TRANSACTION_CONCURRENCY = 8;
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

export class BaselineStore {
  constructor(
    private readonly client: TableClient,
    private readonly buckets = BUCKETS,
  ) {}

  private partition(huntId: string, kind: "b" | "p", bucket: number): string {
    return `${encodeKey(huntId)}~${kind}${String(bucket).padStart(2, "0")}`;
  }

  baselinePartition(huntId: string, entityKey: string): string {
    return this.partition(huntId, "b", bucketOf(entityKey, this.buckets));
  }

  private prevalencePartition(huntId: string, valueKey: string): string {
    return this.partition(huntId, "p", bucketOf(valueKey, this.buckets));
  }

  private async read(partitionKey: string, rowKey: string): Promise<Current> {
    const entity = await getEntityOrUndefined<Stored>(this.client, partitionKey, rowKey);
    return entity && { entity, etag: entity.etag };
  }

  /** Reads many entities, in the order of `keys`: point reads for a few, whole partitions for many. */
  private async readMany(keys: readonly { partitionKey: string; rowKey: string }[]): Promise<Current[]> {
    const partitions = new Map<string, Map<string, Current>>();
    for (const k of keys) {
      let rows = partitions.get(k.partitionKey);
      if (!rows) partitions.set(k.partitionKey, (rows = new Map<string, Current>()));
      rows.set(k.rowKey, undefined);
    }
    await pMap(
      partitions,
      async ([partitionKey, rows]) => {
        if (rows.size > 50) {
          for await (const entity of this.client.listEntities<Stored>({
            queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
          })) {
            if (rows.has(entity.rowKey)) rows.set(entity.rowKey, { entity, etag: entity.etag });
          }
        } else {
          await pMap(rows.keys(), async (rowKey) => rows.set(rowKey, await this.read(partitionKey, rowKey)), {
            concurrency: READ_CONCURRENCY,
          });
        }
      },
      { concurrency: READ_CONCURRENCY },
    );
    return keys.map((k) => partitions.get(k.partitionKey)!.get(k.rowKey));
  }

  /** Reads the stored entities for `keys`, decoded; keys with nothing stored are left out. */
  private async readDecoded<T>(
    keys: readonly string[],
    partitionOf: (key: string) => string,
    decode: (key: string, entity: Stored) => T,
  ): Promise<Map<string, T>> {
    const currents = await this.readMany(keys.map((k) => ({ partitionKey: partitionOf(k), rowKey: encodeKey(k) })));
    const out = new Map<string, T>();
    keys.forEach((k, i) => {
      const current = currents[i];
      if (current) out.set(k, decode(k, current.entity));
    });
    return out;
  }

  /** Writes with etag checks in per-partition transactions, recomputing whatever lost a race. */
  private async write(pending: PendingWrite[]): Promise<ApplyResult> {
    const result: ApplyResult = { written: 0, skipped: 0, retries: 0 };
    let todo = pending;
    for (let attempt = 1; todo.length; attempt++) {
      if (attempt > MAX_ATTEMPTS)
        throw new Error(`gave up after ${MAX_ATTEMPTS} attempts: ${todo.length} baseline updates keep conflicting`);
      const currents = await this.readMany(todo);
      const operations: { item: PendingWrite; action: TransactionAction }[] = [];
      for (const [i, item] of todo.entries()) {
        const current = currents[i];
        const next = item.compute(current);
        if (!next) {
          result.skipped++;
          continue;
        }
        const action: TransactionAction = current ? ["update", next, "Replace", { etag: current.etag }] : ["create", next];
        operations.push({ item, action });
      }
      const retry: PendingWrite[] = [];
      await pMap(
        transactionChunks(operations, (o) => o.item.partitionKey),
        async (chunk) => {
          try {
            await this.client.submitTransaction(chunk.map((c) => c.action));
            result.written += chunk.length;
          } catch (error) {
            if (!isConflict(error)) throw error;
            result.retries++;
            retry.push(...chunk.map((c) => c.item));
          }
        },
        { concurrency: TRANSACTION_CONCURRENCY },
      );
      todo = retry;
    }
    return result;
  }

  // ---- baselines ----

  getBaselines(huntId: string, entityKeys: readonly string[]): Promise<Map<string, Baseline>> {
    return this.readDecoded(
      entityKeys,
      (k) => this.baselinePartition(huntId, k),
      (_, entity) => toBaseline(huntId, entity),
    );
  }

  async applyObservations(
    huntId: string,
    observations: readonly Observation[],
    window: { start: number; end: number },
    caps: Record<string, number>,
  ): Promise<ApplyResult> {
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

  /**
   * Deletes baselines not seen since `before`; returns how many. Each delete is conditional on the
   * etag listed: a baseline a run updates meanwhile (its entity came back) stays.
   */
  async prune(huntId: string, before: number): Promise<number> {
    let deleted = 0;
    for (let bucket = 0; bucket < this.buckets; bucket++) {
      const filter = odata`PartitionKey eq ${this.partition(huntId, "b", bucket)} and lastSeen lt ${new Date(before)}`;
      deleted += await deleteWhere(this.client, filter, { mode: "unchanged" });
    }
    return deleted;
  }

  /** Deletes the prevalence of values not seen in a window ending since `before` (etag-conditional, like prune). */
  async prunePrevalence(huntId: string, before: number): Promise<number> {
    let deleted = 0;
    for (let bucket = 0; bucket < this.buckets; bucket++) {
      const filter = `${odata`PartitionKey eq ${this.partition(huntId, "p", bucket)}`} and lastWindowEnd lt ${epochMsLiteral(before)}`;
      deleted += await deleteWhere(this.client, filter, { mode: "unchanged" });
    }
    return deleted;
  }

  // ---- hunt state ----

  async getHuntState(huntId: string): Promise<HuntState> {
    const current = await this.read(`${encodeKey(huntId)}~state`, "hunt");
    return current
      ? {
          huntId,
          windows: Number(current.entity.windows),
          lastWindowEnd: Number(current.entity.lastWindowEnd),
          population: Number(current.entity.population),
        }
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

  getPrevalence(huntId: string, valueKeys: readonly string[]): Promise<Map<string, Prevalence>> {
    return this.readDecoded(
      valueKeys,
      (k) => this.prevalencePartition(huntId, k),
      (k, entity) => toPrevalence(huntId, k, entity),
    );
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
            const next = applyPrevalence(
              huntId,
              current ? toPrevalence(huntId, valueKey, current.entity) : undefined,
              valueKey,
              across,
              windowEnd,
            );
            return (
              next && {
                partitionKey,
                rowKey,
                valueKey,
                across: JSON.stringify(next.across),
                count: next.count,
                lastWindowEnd: next.lastWindowEnd,
              }
            );
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

/** The stored form of a baseline (also what the benchmark's one-request-per-entity path writes). */
export function fromBaseline(partitionKey: string, rowKey: string, b: Baseline): Stored {
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
    thresholdHits: (b.thresholdHits ?? []).join(""),
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
    features: JSON.parse(typeof entity.features === "string" ? entity.features : "{}") as Baseline["features"],
    distinct: JSON.parse(typeof entity.distinct === "string" ? entity.distinct : "{}") as Baseline["distinct"],
    thresholdHits: [...(typeof entity.thresholdHits === "string" ? entity.thresholdHits : "")].map(Number),
  };
}

function toPrevalence(huntId: string, valueKey: string, entity: Stored): Prevalence {
  return {
    huntId,
    valueKey,
    across: JSON.parse(typeof entity.across === "string" ? entity.across : "[]") as Prevalence["across"],
    count: Number(entity.count),
    lastWindowEnd: Number(entity.lastWindowEnd),
  };
}
