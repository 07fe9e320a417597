/**
 * Baselines in Azure Table Storage.
 *
 * Layout (table `<prefix>baselines`):
 *   PartitionKey `<hunt>~b<bucket>`  RowKey <entity>       one entity's baseline
 *   PartitionKey `<hunt>~p<bucket>`  RowKey <value>        prevalence of a value across entities
 *   PartitionKey `<hunt>~state`      RowKey `hunt`         the hunt's learning state
 * Entities of a hunt are spread over partitions by a hash of their key, so one hunt's writes are
 * not capped by a single partition's ~2,000 entities/s. How many is fixed for a hunt's life and
 * written in its learning state (`buckets`): BUCKETS for a hunt that starts now, LEGACY_BUCKETS for
 * one whose state predates the field, so baselines stored before keep being found.
 *
 * Writes are entity group transactions of at most 100 operations on one partition, each
 * operation conditional on the etag read (or on the entity not existing yet). When another run
 * got there first, the transaction fails as a whole, the entities are read again and the update
 * recomputed: no update is lost, and none is applied twice (see applyObservation).
 *
 * While the runner holds a hunt's window (`hold`), nobody else writes that hunt's baselines, so
 * the store answers from memory: each partition is listed once, then kept up to date with what
 * this store writes (and the etags the writes returned). The hunt state's etag tells whether
 * anyone else wrote in between: `hold` reads it, and a state this store did not leave behind
 * drops what it remembers of the hunt. Writes stay conditional on the remembered etags, so a
 * writer this store does not know about makes a transaction fail, and it is read again.
 */
import { odata, type RestError, type TableClient, type TransactionAction } from "@azure/data-tables";
import pMap from "p-map";
import { bucketOf, decodeKey, encodeKey } from "../state/keys.js";
import {
  deleteWhere,
  entityBytes,
  epochMsLiteral,
  getEntityOrUndefined,
  isConflict,
  transactionChunks,
  type TimeBudget,
} from "../state/tables.js";
import { submitTransaction } from "../state/transactions.js";
import {
  applyObservation,
  applyPrevalence,
  MEMBER_TOKEN_LENGTH,
  prevalenceOf,
  type Baseline,
  type HuntState,
  type Observation,
  type Prevalence,
} from "./model.js";

/**
 * Partitions per hunt and kind for a hunt that starts learning now. Smaller partitions also keep
 * Azurite (the backtest's storage), whose lookups scan the partition, from slowing as baselines grow.
 */
export const BUCKETS = 64;
/** What a hunt whose learning state has no `buckets` was stored with. */
export const LEGACY_BUCKETS = 16;
const READ_CONCURRENCY = 32;
const TRANSACTION_CONCURRENCY = 8;
const MAX_ATTEMPTS = 6;
/** Rows remembered for held hunts; past this, the least recently used partitions are forgotten (and listed again when needed). */
export const REMEMBERED_ROWS = 200_000;
/**
 * A value shown again by no new entity is written at most this often: only its lastWindowEnd would
 * change, and pruning reads that, so it must stay well inside the retention. A week by default
 * (the default retention is 90 days); `prevalenceRefreshFor` works it out from a retention.
 */
export const PREVALENCE_REFRESH_MS = 7 * 24 * 3_600_000;

/** A quarter of the baseline retention, at most a week: a value still seen is rewritten long before pruning could take it. */
export function prevalenceRefreshFor(retentionMs: number): number {
  return Math.min(PREVALENCE_REFRESH_MS, retentionMs / 4);
}

export interface BaselineStoreOptions {
  /** Partitions per hunt and kind (baselines, prevalence) for hunts that start learning (BUCKETS). */
  buckets?: number;
  /** Rows remembered for held hunts (REMEMBERED_ROWS). */
  maxRememberedRows?: number;
  /** PREVALENCE_REFRESH_MS, or prevalenceRefreshFor(the baseline retention). */
  prevalenceRefreshMs?: number;
}

type Stored = Record<string, unknown> & { partitionKey: string; rowKey: string };
type Current = { entity: Stored; etag: string } | undefined;
/** A whole partition as this store last knew it: a row it does not hold is not stored. */
type RememberedPartition = Map<string, { entity: Stored; etag: string }>;

/** Partition keys start with the hunt id (kebab-case, so encoding leaves it as it is) and `~`; peers' keys too (`<hunt>~peers~p03`). */
function huntOfPartition(partitionKey: string): string {
  return partitionKey.slice(0, partitionKey.indexOf("~"));
}

function isLostRace(error: unknown): boolean {
  // 404: an entity this store remembered was deleted meanwhile.
  return isConflict(error) || (error as RestError)?.statusCode === 404;
}

interface PendingWrite {
  partitionKey: string;
  rowKey: string;
  /**
   * The entity to store given what is stored now; `applied` when the window is already in it (a
   * retried or concurrent run), `unchanged` when applying it would change nothing that is read.
   */
  compute(current: Current): Stored | "applied" | "unchanged";
}

export interface ApplyResult {
  written: number;
  skipped: number;
  /** Transactions that lost a race and were recomputed. */
  retries: number;
}

export class BaselineStore {
  /** Held hunts: how many holders (more than one means memory is not trusted) and whether nothing unexpected happened. */
  private readonly holds = new Map<string, { count: number; clean: boolean }>();
  /** Per hunt, the etag of the hunt state this store left behind when it last released the hunt with its memory intact. */
  private readonly generations = new Map<string, string>();
  /** Remembered partitions, least recently used first. */
  private readonly remembered = new Map<string, RememberedPartition>();
  private readonly listing = new Map<string, Promise<RememberedPartition>>();
  private rememberedRows = 0;
  /** Per hunt, the partitions per kind its learning state says (or that a hunt without state starts with). */
  private readonly layouts = new Map<string, number>();

  private readonly buckets: number;
  private readonly maxRememberedRows: number;
  private readonly prevalenceRefreshMs: number;

  constructor(
    private readonly client: TableClient,
    options: BaselineStoreOptions = {},
  ) {
    this.buckets = options.buckets ?? BUCKETS;
    this.maxRememberedRows = options.maxRememberedRows ?? REMEMBERED_ROWS;
    this.prevalenceRefreshMs = options.prevalenceRefreshMs ?? PREVALENCE_REFRESH_MS;
  }

  /**
   * The caller holds the lease of a window of `huntId`: until `release`, this store is the hunt's
   * only writer, and reads come from memory. One point read: the hunt state, whose etag says
   * whether anyone else wrote the hunt's baselines since this store last released it.
   */
  async hold(huntId: string): Promise<void> {
    const held = this.holds.get(huntId);
    if (held) {
      // Two windows of one hunt at once in this process: neither trusts memory.
      held.count++;
      held.clean = false;
      return;
    }
    this.holds.set(huntId, { count: 1, clean: true });
    const partitionKey = this.statePartition(huntId);
    let state: Current;
    try {
      state = await this.read(partitionKey, "hunt");
    } catch (error) {
      this.release(huntId, false);
      throw error;
    }
    if (!state || state.etag !== this.generations.get(huntId)) this.forget(huntId);
    this.layouts.set(huntId, this.layoutOf(state));
    this.remember(partitionKey, new Map(state ? [["hunt", state]] : []));
  }

  /** Partitions per kind that a hunt's learning state records (see the layout above). */
  private layoutOf(state: Current): number {
    if (!state) return this.buckets;
    const recorded = Number(state.entity.buckets);
    return Number.isInteger(recorded) && recorded > 0 ? recorded : LEGACY_BUCKETS;
  }

  /** A hunt's partitions per kind: known since `hold`, or read from its learning state once. Peers (`<hunt>~peers`) follow their hunt. */
  private async bucketsOf(huntId: string): Promise<number> {
    const owner = huntOfPartition(`${encodeKey(huntId)}~`);
    let buckets = this.layouts.get(owner);
    if (buckets === undefined) {
      buckets = this.layoutOf(await this.read(this.statePartition(owner), "hunt"));
      this.layouts.set(owner, buckets);
    }
    return buckets;
  }

  /** The window is over; `clean` false (it failed) forgets the hunt, so the next holder reads storage again. */
  release(huntId: string, clean: boolean): void {
    const held = this.holds.get(huntId);
    if (!held) return;
    held.clean &&= clean;
    if (--held.count > 0) return;
    this.holds.delete(huntId);
    const state = this.remembered.get(this.statePartition(huntId))?.get("hunt");
    if (held.clean && state) this.generations.set(huntId, state.etag);
    else this.forget(huntId);
  }

  /** Forgets everything remembered of a hunt (its baselines, prevalence, peers and state). */
  private forget(huntId: string): void {
    this.generations.delete(huntId);
    this.layouts.delete(huntId);
    for (const partitionKey of [...this.remembered.keys()]) if (huntOfPartition(partitionKey) === huntId) this.dropPartition(partitionKey);
  }

  private dropPartition(partitionKey: string): void {
    const rows = this.remembered.get(partitionKey);
    if (!rows) return;
    this.rememberedRows -= rows.size;
    this.remembered.delete(partitionKey);
  }

  /** Something this store did not expect (a lost race, a window already applied): the hunt's memory is not trusted after this window. */
  private distrust(partitionKey: string): void {
    this.dropPartition(partitionKey);
    const held = this.holds.get(huntOfPartition(partitionKey));
    if (held) held.clean = false;
  }

  private remember(partitionKey: string, rows: RememberedPartition): void {
    this.dropPartition(partitionKey);
    this.remembered.set(partitionKey, rows);
    this.rememberedRows += rows.size;
    this.trim(partitionKey);
  }

  /** What this store wrote, with the etags the writes returned, into a remembered partition (a missing etag forgets it). */
  private rememberWritten(partitionKey: string, written: readonly { entity: Stored; etag: string | undefined }[]): void {
    const rows = this.remembered.get(partitionKey);
    if (!rows) return;
    for (const { entity, etag } of written) {
      if (!etag) return this.dropPartition(partitionKey);
      if (!rows.has(entity.rowKey)) this.rememberedRows++;
      rows.set(entity.rowKey, { entity, etag });
    }
    this.trim(partitionKey);
  }

  /** Forgets the least recently used partitions (never `keep`) while more rows are remembered than allowed. */
  private trim(keep: string): void {
    for (const [oldest, rows] of this.remembered) {
      if (this.rememberedRows <= this.maxRememberedRows) break;
      if (oldest === keep) continue;
      this.rememberedRows -= rows.size;
      this.remembered.delete(oldest);
    }
  }

  /** A held hunt's partition, from memory or listed once; undefined when memory may not be used for it. */
  private async heldPartition(partitionKey: string): Promise<RememberedPartition | undefined> {
    const held = this.holds.get(huntOfPartition(partitionKey));
    if (!held || held.count !== 1) return undefined;
    const rows = this.remembered.get(partitionKey);
    if (rows) {
      // Most recently used last.
      this.remembered.delete(partitionKey);
      this.remembered.set(partitionKey, rows);
      return rows;
    }
    let listing = this.listing.get(partitionKey);
    if (!listing) {
      listing = this.list(partitionKey)
        .then((listed) => (this.remember(partitionKey, listed), listed))
        .finally(() => this.listing.delete(partitionKey));
      this.listing.set(partitionKey, listing);
    }
    return listing;
  }

  /** The entities of a partition (those `wanted`, or all), in one query paged by the service. */
  private async list(partitionKey: string, wanted?: ReadonlySet<string> | ReadonlyMap<string, unknown>): Promise<RememberedPartition> {
    const listed: RememberedPartition = new Map();
    for await (const entity of this.client.listEntities<Stored>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` } }))
      if (!wanted || wanted.has(entity.rowKey)) listed.set(entity.rowKey, { entity, etag: entity.etag });
    return listed;
  }

  private partition(huntId: string, kind: "b" | "p", bucket: number): string {
    return `${encodeKey(huntId)}~${kind}${String(bucket).padStart(2, "0")}`;
  }

  private statePartition(huntId: string): string {
    return `${encodeKey(huntId)}~state`;
  }

  /** Where a hunt's baselines are: the partition of each entity key. */
  async baselinePartitions(huntId: string): Promise<(entityKey: string) => string> {
    const buckets = await this.bucketsOf(huntId);
    return (entityKey) => this.partition(huntId, "b", bucketOf(entityKey, buckets));
  }

  private async prevalencePartitions(huntId: string): Promise<(valueKey: string) => string> {
    const buckets = await this.bucketsOf(huntId);
    return (valueKey) => this.partition(huntId, "p", bucketOf(valueKey, buckets));
  }

  private async read(partitionKey: string, rowKey: string): Promise<Current> {
    const entity = await getEntityOrUndefined<Stored>(this.client, partitionKey, rowKey);
    return entity && { entity, etag: entity.etag };
  }

  /**
   * Reads many entities, in the order of `keys`: a held hunt's from memory, others with point
   * reads for a few, whole partitions for many. `fresh` skips memory (after a lost race).
   */
  private async readMany(keys: readonly { partitionKey: string; rowKey: string }[], fresh = false): Promise<Current[]> {
    const partitions = new Map<string, Map<string, Current>>();
    for (const k of keys) {
      let rows = partitions.get(k.partitionKey);
      if (!rows) partitions.set(k.partitionKey, (rows = new Map<string, Current>()));
      rows.set(k.rowKey, undefined);
    }
    await pMap(
      partitions,
      async ([partitionKey, rows]) => {
        const held = fresh ? undefined : await this.heldPartition(partitionKey);
        if (held) {
          for (const rowKey of rows.keys()) rows.set(rowKey, held.get(rowKey));
        } else if (rows.size > 50) {
          const listed = await this.list(partitionKey, rows);
          for (const rowKey of rows.keys()) rows.set(rowKey, listed.get(rowKey));
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
      const currents = await this.readMany(todo, attempt > 1);
      const operations: { item: PendingWrite; next: Stored; action: TransactionAction }[] = [];
      for (const [i, item] of todo.entries()) {
        const current = currents[i];
        const next = item.compute(current);
        if (typeof next === "string") {
          // Another run (or an earlier attempt) got here first: memory of this hunt is not to be trusted.
          if (next === "applied") this.distrust(item.partitionKey);
          result.skipped++;
          continue;
        }
        // Merge, not Replace: every write carries all of the entity's properties, so the two store the same thing, and
        // Azurite (the backtest's storage) replaces by removing and re-inserting, which costs time in proportion to the table.
        const action: TransactionAction = current ? ["update", next, "Merge", { etag: current.etag }] : ["create", next];
        operations.push({ item, next, action });
      }
      const retry: PendingWrite[] = [];
      await pMap(
        transactionChunks(
          operations,
          (o) => o.item.partitionKey,
          (o) => entityBytes(o.next),
        ),
        async (chunk) => {
          const partitionKey = chunk[0].item.partitionKey;
          try {
            const response = await submitTransaction(
              this.client,
              chunk.map((c) => c.action),
            );
            result.written += chunk.length;
            // A change set's responses come in the order of its operations (an update's carries no row key to match on).
            const etags = response.subResponses.map((r) => r.etag);
            this.rememberWritten(
              partitionKey,
              chunk.map(({ next }, i) => ({ entity: next, etag: etags[i] })),
            );
          } catch (error) {
            if (!isLostRace(error)) throw error;
            this.distrust(partitionKey);
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

  async getBaselines(huntId: string, entityKeys: readonly string[]): Promise<Map<string, Baseline>> {
    return this.readDecoded(entityKeys, await this.baselinePartitions(huntId), (_, entity) => toBaseline(huntId, entity));
  }

  async applyObservations(
    huntId: string,
    observations: readonly Observation[],
    window: { start: number; end: number },
    caps: Record<string, number>,
  ): Promise<ApplyResult> {
    const partitionOf = await this.baselinePartitions(huntId);
    return this.write(
      observations.map((observation) => {
        const partitionKey = partitionOf(observation.entityKey);
        const rowKey = encodeKey(observation.entityKey);
        return {
          partitionKey,
          rowKey,
          compute: (current) => {
            const next = applyObservation(huntId, current ? toBaseline(huntId, current.entity) : undefined, observation, window, caps);
            return next ? fromBaseline(partitionKey, rowKey, next) : "applied";
          },
        };
      }),
    );
  }

  /**
   * Deletes every row of the table, of any hunt (one removed from the catalog too), last written
   * for a window ending before `before`: baselines of entities not seen since, prevalence of values
   * not seen since, and the learning state of a hunt that has not run since (its baselines are as
   * old, so it starts learning afresh). Each delete is conditional on the etag listed: a row a run
   * updates meanwhile stays. Returns how many were deleted.
   */
  async prune(before: number, budget?: TimeBudget): Promise<number> {
    const deleted = await deleteWhere(this.client, `lastWindowEnd lt ${epochMsLiteral(before)}`, { mode: "unchanged", budget });
    // What held hunts remember may name deleted rows: they list their partitions again when needed.
    if (deleted) {
      for (const partitionKey of [...this.remembered.keys()]) this.dropPartition(partitionKey);
      // A hunt whose state was pruned starts learning afresh, with the current layout.
      this.layouts.clear();
    }
    return deleted;
  }

  // ---- hunt state ----

  async getHuntState(huntId: string): Promise<HuntState> {
    const [current] = await this.readMany([{ partitionKey: this.statePartition(huntId), rowKey: "hunt" }]);
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
    const partitionKey = this.statePartition(huntId);
    const buckets = await this.bucketsOf(huntId);
    return this.write([
      {
        partitionKey,
        rowKey: "hunt",
        compute: (current) => {
          if (current && Number(current.entity.lastWindowEnd) >= windowEnd) return "applied";
          return {
            partitionKey,
            rowKey: "hunt",
            windows: (current ? Number(current.entity.windows) : 0) + 1,
            lastWindowEnd: windowEnd,
            population: Math.max(current ? Number(current.entity.population) : 0, population),
            // Recorded with the state so the layout outlives a change of the default; a legacy state gains it here.
            buckets,
          };
        },
      },
    ]);
  }

  // ---- prevalence ----

  async getPrevalence(huntId: string, valueKeys: readonly string[]): Promise<Map<string, Prevalence>> {
    return this.readDecoded(valueKeys, await this.prevalencePartitions(huntId), (k, entity) => toPrevalence(huntId, k, entity));
  }

  async applyPrevalence(huntId: string, seen: ReadonlyMap<string, readonly string[]>, windowEnd: number): Promise<ApplyResult> {
    const partitionOf = await this.prevalencePartitions(huntId);
    return this.write(
      [...seen].map(([valueKey, across]) => {
        const partitionKey = partitionOf(valueKey);
        const rowKey = encodeKey(valueKey);
        return {
          partitionKey,
          rowKey,
          compute: (current) => {
            const stored = current && toPrevalence(huntId, valueKey, current.entity);
            const next = applyPrevalence(huntId, stored, valueKey, across, windowEnd);
            if (!next) return "applied";
            // Nothing new showed the value: only lastWindowEnd would move, and applying the window again changes nothing either.
            // It still moves every prevalenceRefreshMs, or pruning (by lastWindowEnd) would forget a value shown every day by the same entities.
            if (
              stored &&
              next.count === stored.count &&
              next.members.size === stored.members.size &&
              windowEnd - stored.lastWindowEnd < this.prevalenceRefreshMs
            )
              return "unchanged";
            return {
              partitionKey,
              rowKey,
              valueKey,
              across: JSON.stringify(next.across),
              ...membersProperties(next.members),
              count: next.count,
              lastWindowEnd: next.lastWindowEnd,
            };
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

/** A stored time (a Date, or text from an older writer) in epoch ms; NaN when absent. */
function timeOf(value: unknown): number {
  return value instanceof Date ? value.getTime() : Date.parse(String(value));
}

function toBaseline(huntId: string, entity: Stored): Baseline {
  const time = timeOf;
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

/** Member tokens per property: 30,000 characters, under the 32K a string property holds. */
const MEMBERS_PER_PROPERTY = 3_750;
const PROPERTY_CHARS = MEMBERS_PER_PROPERTY * MEMBER_TOKEN_LENGTH;

/** Property names of a prevalence row's member tokens: `members`, `members1`, ... (MEMBERS_CAP tokens fit in 14). */
const membersProperty = (i: number) => (i === 0 ? "members" : `members${i}`);

/** Member tokens as properties of at most MEMBERS_PER_PROPERTY tokens each (a row holds 1 MiB; 50,000 tokens take 800 KB). */
function membersProperties(members: ReadonlySet<string>): Record<string, string> {
  const text = [...members].join("");
  const properties: Record<string, string> = {};
  for (let i = 0; i * PROPERTY_CHARS < text.length; i++)
    properties[membersProperty(i)] = text.slice(i * PROPERTY_CHARS, (i + 1) * PROPERTY_CHARS);
  return properties;
}

function toPrevalence(huntId: string, valueKey: string, entity: Stored): Prevalence {
  const across = JSON.parse(typeof entity.across === "string" ? entity.across : "[]") as string[];
  const count = Number(entity.count);
  const lastWindowEnd = Number(entity.lastWindowEnd);
  // A row from before members were kept has its names only.
  if (typeof entity.members !== "string") return prevalenceOf(huntId, valueKey, across, count, lastWindowEnd);
  const members = new Set<string>();
  for (let i = 0; typeof entity[membersProperty(i)] === "string"; i++) {
    const text = entity[membersProperty(i)] as string;
    for (let at = 0; at + MEMBER_TOKEN_LENGTH <= text.length; at += MEMBER_TOKEN_LENGTH)
      members.add(text.slice(at, at + MEMBER_TOKEN_LENGTH));
  }
  return { huntId, valueKey, across, members, count, lastWindowEnd };
}
