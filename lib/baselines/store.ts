/**
 * Baselines in Azure Table Storage.
 *
 * Layout (table `<prefix>baselines`):
 *   PartitionKey `<hunt>~b<bucket>`  RowKey <entity>       one entity's baseline, stored alone
 *   PartitionKey `<hunt>~b<bucket>`  RowKey `%pack-<nn>`   the baselines of many entities, packed
 *   PartitionKey `<hunt>~p<bucket>`  (the same two forms)  prevalence of a value across entities
 *   PartitionKey `<hunt>~state`      RowKey `hunt`         the hunt's learning state
 * Entities of a hunt are spread over partitions by a hash of their key, so one hunt's writes are
 * not capped by a single partition's ~2,000 entities/s. How many is fixed for a hunt's life and
 * written in its learning state (`buckets`): BUCKETS for a hunt that starts now, LEGACY_BUCKETS for
 * one whose state predates the field, so baselines stored before keep being found.
 *
 * Packs. A row per entity costs a storage operation per entity and window, and a table of a row
 * per entity grows with every device's every connection. So within a partition, the rows of small
 * entities (most of them) are packed: each goes to one of the partition's `packs` pack rows, chosen
 * by a hash of its key, as a line of text (its row key, its last window, its properties as JSON).
 * A pack's rows are spread over its slots (properties `s000`...), and a window merges into each pack
 * it touches only the slots its rows fall in: one operation per pack, text in proportion to the rows
 * that changed. A row too large for a pack, or that no longer fits in its pack, is stored alone,
 * and a row stored alone stays alone. A row is created alone in the transaction that writes its
 * pack (creating an empty one if need be), so a move is never half done, and a run that has not
 * seen the row alone fails on the pack's etag instead of writing the pack. Should a row still be
 * found both alone and in its pack (written by hand, say), the row stored alone wins and its next
 * write drops the copy.
 * How many packs is recorded in the learning state like the buckets (`packs`); a state without the
 * field (a hunt that started before packing) keeps every row alone.
 *
 * Writes are entity group transactions of at most 100 operations on one partition, each
 * operation conditional on the etag read (or on the row not existing yet). When another run
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
import { odata, type TableClient } from "@azure/data-tables";
import pMap from "p-map";
import { bucketOf, decodeKey, encodeKey } from "../state/keys.js";
import {
  deleteWhere,
  entityBytes,
  entityBytesAtMost,
  epochMsLiteral,
  getEntityOrUndefined,
  isLostRace,
  pagesWithin,
  TRANSACTION_BYTES,
  TRANSACTION_LIMIT,
  transactionChunks,
  type TimeBudget,
} from "../state/tables.js";
import { submitTransaction, type TableAction } from "../state/transactions.js";
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
 * Partitions per hunt and kind for a hunt that starts learning now. With packs a partition holds
 * few rows, so a few partitions carry a large hunt, and a small window's entities fall in few of
 * them: one transaction each. (Hunts that started before packs have 64, or LEGACY_BUCKETS.)
 */
export const BUCKETS = 8;
/** What a hunt whose learning state has no `buckets` was stored with. */
export const LEGACY_BUCKETS = 16;
/**
 * Pack rows per partition for a hunt that starts learning now: 8 x 64 packs hold about 200 MB of
 * baselines (half a million connection baselines) before rows overflow to rows alone, and a window
 * touches at most 64 per partition, within one transaction's 100 operations.
 */
export const PACKS = 64;
/** A row whose JSON is longer than this is stored alone (a baseline with long distinct lists, a widely seen value's members). */
export const PACKED_ROW_CHARS = 4_000;
/**
 * Slots of a pack for new rows: properties `s000` to `s199` (a row holds at most 252 properties). A
 * row stays in the slot it was stored in, so this may change without a row ending up in two slots.
 */
const SLOTS = 200;
/** Slot properties there can be (three digits). */
const SLOT_PROPERTIES = 1_000;
/** Characters of a slot (a string property holds 32K) and of a whole pack (a row holds 1 MiB, and a string counts 2 bytes a character). */
const SLOT_CHARS = 30_000;
const PACK_CHARS = 400_000;
/** Row keys of packs: `%` then a letter, which encodeKey never writes (it writes `%` itself as `%25`). */
const PACK_KEY_PREFIX = "%pack-";
const READ_CONCURRENCY = 32;
const TRANSACTION_CONCURRENCY = 8;
/** Partitions a write works on at once: enough that one is computed while others are sent. */
const PARTITION_CONCURRENCY = 2;
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
  /** Pack rows per partition for hunts that start learning (PACKS; 0 stores every row alone). */
  packs?: number;
  /** Rows remembered for held hunts (REMEMBERED_ROWS). */
  maxRememberedRows?: number;
  /** PREVALENCE_REFRESH_MS, or prevalenceRefreshFor(the baseline retention). */
  prevalenceRefreshMs?: number;
  /**
   * No one but this store writes the table (a private store, as a backtest's): what it remembers of
   * a hunt it released intact is still true when it holds the hunt again, without reading the state.
   */
  soleWriter?: boolean;
}

type Stored = Record<string, unknown> & { partitionKey: string; rowKey: string };
/** A row stored alone, with the etag it had when read or written. */
interface Alone {
  entity: Stored;
  etag: string;
}
/** A row packed with others: its properties as JSON, the window it was last written for (which pruning reads), and its slot. */
interface PackedRow {
  json: string;
  lastWindowEnd: number;
  slot: number;
  /** The row's entity, once written or read (so a row read every window is parsed once). */
  entity?: Stored;
}
interface Pack {
  etag: string;
  rows: Map<string, PackedRow>;
}
/**
 * A row as the writers see it: where it is stored (`pack`: the row key of its pack, and its slot
 * there) and the etag a write is conditional on.
 */
type Current = { entity: Stored; etag: string; pack?: string; slot?: number } | undefined;
/**
 * What this store knows of a partition: rows stored alone and packs, by row key. Remembered, it is
 * the whole partition (a row it does not hold is not stored); read for a few rows, it holds those
 * rows and their packs.
 */
interface PartitionView {
  alone: Map<string, Alone>;
  packs: Map<string, Pack>;
}
interface Layout {
  buckets: number;
  packs: number;
}

const emptyView = (): PartitionView => ({ alone: new Map(), packs: new Map() });

function rowsIn(view: PartitionView): number {
  let rows = view.alone.size;
  for (const pack of view.packs.values()) rows += pack.rows.size;
  return rows;
}

/** Partition keys start with the hunt id (kebab-case, so encoding leaves it as it is) and `~`; peers' keys too (`<hunt>~peers~p03`). */
function huntOfPartition(partitionKey: string): string {
  return partitionKey.slice(0, partitionKey.indexOf("~"));
}

const isPackKey = (rowKey: string) => rowKey.startsWith(PACK_KEY_PREFIX);

/** Where a row is packed: a pack and a slot from FNV-1a of its key, independent of the SHA-256 that chose its partition. */
function placeOf(rowKey: string, packs: number): { pack: string; slot: number } {
  let hash = 0x811c9dc5;
  for (let i = 0; i < rowKey.length; i++) hash = Math.imul(hash ^ rowKey.charCodeAt(i), 0x01000193);
  hash >>>= 0;
  return { pack: `${PACK_KEY_PREFIX}${String(hash % packs).padStart(2, "0")}`, slot: Math.floor(hash / packs) % SLOTS };
}

const slotProperty = (slot: number) => `s${String(slot).padStart(3, "0")}`;
const SLOT_PROPERTY = /^s\d{3}$/;

/** A row's line in its slot: `<row key> TAB <last window end> TAB <JSON>` (row keys hold no control characters). */
const lineOf = (rowKey: string, row: PackedRow) => `${rowKey}\t${row.lastWindowEnd}\t${row.json}`;
/** What a row adds to its slot's text. */
const charsOf = (rowKey: string, row: PackedRow) => rowKey.length + row.json.length + 20;

/** A pack as stored: its slots' lines. */
function packFromEntity(entity: Stored & { etag: string }): Pack {
  const rows = new Map<string, PackedRow>();
  for (const [name, text] of Object.entries(entity)) {
    if (!SLOT_PROPERTY.test(name) || typeof text !== "string" || !text) continue;
    const slot = Number(name.slice(1));
    for (const line of text.split("\n")) {
      const keyEnd = line.indexOf("\t");
      const endEnd = line.indexOf("\t", keyEnd + 1);
      if (keyEnd < 0 || endEnd < 0) continue;
      rows.set(line.slice(0, keyEnd), { lastWindowEnd: Number(line.slice(keyEnd + 1, endEnd)), json: line.slice(endEnd + 1), slot });
    }
  }
  return { etag: entity.etag, rows };
}

/**
 * Properties whose value is JSON text (baselines' features and distinct values, prevalence's
 * entities): a packed line holds them as JSON values. Held as text inside the line's JSON, every
 * quote would be escaped once there and again in the request that carries the pack.
 */
const JSON_TEXT_PROPERTIES = new Set(["features", "distinct", "across"]);

/** JSON text a reader takes a JSON_TEXT_PROPERTIES property's absence for (no distinct values, say). */
const EMPTY_JSON_TEXTS = new Set(["{}", "[]"]);

/**
 * A row for a pack: its properties but the keys, as JSON, with JSON_TEXT_PROPERTIES as JSON values
 * and times as epoch milliseconds (the readers take both forms, and the text and ISO forms of lines
 * written before). What the reader has from elsewhere stays out: an entity or value key the row key
 * spells out as it is, lastWindowEnd (the line's second field), and an empty JSON text property
 * (its absence reads as empty). The rows packed are the store's own encodings, so the JSON text is JSON.
 */
function packedRowOf(entity: Stored, slot: number): PackedRow {
  const lastWindowEnd = Number(entity.lastWindowEnd);
  let json = "";
  for (const name in entity) {
    if (name === "partitionKey" || name === "rowKey") continue;
    const value = entity[name];
    if ((name === "entityKey" || name === "valueKey") && value === entity.rowKey) continue;
    if (name === "lastWindowEnd" && value === lastWindowEnd) continue;
    const jsonText = typeof value === "string" && JSON_TEXT_PROPERTIES.has(name);
    if (jsonText && EMPTY_JSON_TEXTS.has(value)) continue;
    const text = jsonText ? value : value instanceof Date ? String(value.getTime()) : JSON.stringify(value);
    json += `${json ? "," : "{"}${JSON.stringify(name)}:${text}`;
  }
  return { json: json ? `${json}}` : "{}", lastWindowEnd, slot, entity };
}

/**
 * A pack's rows once `changes` are made to `base` (a row mapped to undefined leaves it), and the
 * pack's entity: its rows, the windows pruning reads, and the text of the slots the changes fall in
 * (every slot of a new pack).
 */
class PackEdit {
  readonly changes = new Map<string, PackedRow | undefined>();
  /** The writes whose rows the edit adds, with the rows alone they would be if the pack is full. */
  readonly added: { item: PendingWrite; next: Stored }[] = [];

  constructor(
    readonly partitionKey: string,
    readonly pack: string,
    readonly base: Pack | undefined,
  ) {}

  /** Calls `visit` for each row the pack holds once changed (without copying the stored rows). */
  private each(visit: (rowKey: string, row: PackedRow) => void): void {
    if (this.base)
      for (const [rowKey, row] of this.base.rows) {
        const changed = this.changes.has(rowKey) ? this.changes.get(rowKey) : row;
        if (changed) visit(rowKey, changed);
      }
    for (const [rowKey, row] of this.changes) if (row && !this.base?.rows.has(rowKey)) visit(rowKey, row);
  }

  /** Takes out of the pack, largest first, the added rows of a slot or pack that would hold too much; returns them. */
  overflow(): { item: PendingWrite; next: Stored }[] {
    let slots = new Float64Array(SLOTS);
    let total = 0;
    this.each((rowKey, row) => {
      // A row keeps its slot, so one an earlier slot count gave may lie past SLOTS.
      if (row.slot >= slots.length) {
        const wider = new Float64Array(SLOT_PROPERTIES);
        wider.set(slots);
        slots = wider;
      }
      const chars = charsOf(rowKey, row);
      slots[row.slot] += chars;
      total += chars;
    });
    if (total <= PACK_CHARS && slots.every((chars) => chars <= SLOT_CHARS)) return [];
    const out: { item: PendingWrite; next: Stored }[] = [];
    const rowOf = (added: { item: PendingWrite }) => this.changes.get(added.item.rowKey)!;
    for (const added of [...this.added].sort((a, b) => rowOf(b).json.length - rowOf(a).json.length)) {
      const row = rowOf(added);
      if (total <= PACK_CHARS && slots[row.slot] <= SLOT_CHARS) continue;
      const chars = charsOf(added.item.rowKey, row);
      slots[row.slot] -= chars;
      total -= chars;
      // A row the pack held leaves it; a row new to it is just not added.
      if (this.base?.rows.has(added.item.rowKey)) this.changes.set(added.item.rowKey, undefined);
      else this.changes.delete(added.item.rowKey);
      out.push(added);
    }
    this.added.splice(0, this.added.length, ...this.added.filter((a) => !out.includes(a)));
    return out;
  }

  /** The pack's entity to write: all of a new pack, or the changed slots and the pack's windows to merge into a stored one. */
  entity(): { entity: Stored; rows: number } {
    const changed = new Set<number>();
    for (const [rowKey, row] of this.changes) changed.add(row?.slot ?? this.base!.rows.get(rowKey)!.slot);
    const lines = new Map<number, string[]>();
    let rows = 0;
    let lastWindowEnd = -Infinity;
    let oldestWindowEnd = Infinity;
    this.each((rowKey, row) => {
      rows++;
      lastWindowEnd = Math.max(lastWindowEnd, row.lastWindowEnd);
      oldestWindowEnd = Math.min(oldestWindowEnd, row.lastWindowEnd);
      if (this.base && !changed.has(row.slot)) return;
      let slot = lines.get(row.slot);
      if (!slot) lines.set(row.slot, (slot = []));
      slot.push(lineOf(rowKey, row));
    });
    // Pruning deletes a pack whose newest row is past the retention (lastWindowEnd, as for a row alone), and rewrites one
    // whose oldest row is (oldestWindowEnd).
    const entity: Stored = { partitionKey: this.partitionKey, rowKey: this.pack, rows, lastWindowEnd, oldestWindowEnd };
    // A slot emptied is written empty: a merge keeps the properties it is not given.
    for (const slot of this.base ? changed : lines.keys()) entity[slotProperty(slot)] = lines.get(slot)?.join("\n") ?? "";
    return { entity, rows };
  }

  /** The pack once written: the stored rows changed in place (they are what memory holds), with the etag the write returned. */
  written(etag: string): Pack {
    const rows = this.base?.rows ?? new Map<string, PackedRow>();
    for (const [rowKey, row] of this.changes) {
      if (row) rows.set(rowKey, row);
      else rows.delete(rowKey);
    }
    return { etag, rows };
  }
}

/** A pack's whole entity (for pruning, which rewrites it). */
function entityOfPack(partitionKey: string, pack: string, rows: ReadonlyMap<string, PackedRow>): Stored {
  const edit = new PackEdit(partitionKey, pack, undefined);
  for (const [rowKey, row] of rows) edit.changes.set(rowKey, row);
  return edit.entity().entity;
}

/** A row where it is stored: alone if it is there (the newer, see the layout above), else in its pack. */
function currentIn(view: PartitionView, partitionKey: string, rowKey: string, packs: number): Current {
  const alone = view.alone.get(rowKey);
  if (alone) return alone;
  if (!packs) return undefined;
  const { pack } = placeOf(rowKey, packs);
  const stored = view.packs.get(pack);
  const row = stored?.rows.get(rowKey);
  if (!stored || !row) return undefined;
  // A line written before lastWindowEnd left the JSON holds it there too, the same value.
  row.entity ??= { ...(JSON.parse(row.json) as Record<string, unknown>), lastWindowEnd: row.lastWindowEnd, partitionKey, rowKey };
  return { entity: row.entity, etag: stored.etag, pack, slot: row.slot };
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

/** One operation of a write: a row alone, or a pack with the rows it now holds; `items` are the writes it carries. */
interface Operation {
  partitionKey: string;
  rowKey: string;
  action: TableAction;
  bytes: number;
  items: PendingWrite[];
  /** What the memory holds once it is written: the row, or the pack (with no rows left: deleted). */
  written: { alone: Stored } | { pack: PackEdit; rows: number };
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
  private readonly remembered = new Map<string, PartitionView>();
  private readonly listing = new Map<string, Promise<PartitionView>>();
  private rememberedRows = 0;
  /** Per hunt, the partitions per kind and packs per partition its learning state says (or that a hunt without state starts with). */
  private readonly layouts = new Map<string, Layout>();

  private readonly buckets: number;
  private readonly packs: number;
  private readonly maxRememberedRows: number;
  private readonly prevalenceRefreshMs: number;
  private readonly soleWriter: boolean;

  constructor(
    private readonly client: TableClient,
    options: BaselineStoreOptions = {},
  ) {
    this.buckets = options.buckets ?? BUCKETS;
    this.packs = options.packs ?? PACKS;
    this.maxRememberedRows = options.maxRememberedRows ?? REMEMBERED_ROWS;
    this.prevalenceRefreshMs = options.prevalenceRefreshMs ?? PREVALENCE_REFRESH_MS;
    this.soleWriter = options.soleWriter ?? false;
  }

  /**
   * The caller holds the lease of a window of `huntId`: until `release`, this store is the hunt's
   * only writer, and reads come from memory. One point read: the hunt state, whose etag says
   * whether anyone else wrote the hunt's baselines since this store last released it (none when
   * this store is the table's sole writer and still remembers the state it left).
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
    if (this.soleWriter && this.generations.has(huntId) && this.layouts.has(huntId) && this.remembered.has(partitionKey)) return;
    let state: Alone | undefined;
    try {
      state = await this.read(partitionKey, "hunt");
    } catch (error) {
      this.release(huntId, false);
      throw error;
    }
    if (!state || state.etag !== this.generations.get(huntId)) this.forget(huntId);
    this.layouts.set(huntId, this.layoutOf(state));
    this.remember(partitionKey, { alone: new Map(state ? [["hunt", state]] : []), packs: new Map() });
  }

  /** Partitions per kind and packs per partition that a hunt's learning state records (see the layout above). */
  private layoutOf(state: Alone | undefined): Layout {
    if (!state) return { buckets: this.buckets, packs: this.packs };
    const buckets = Number(state.entity.buckets);
    const packs = Number(state.entity.packs);
    return {
      buckets: Number.isInteger(buckets) && buckets > 0 ? buckets : LEGACY_BUCKETS,
      packs: Number.isInteger(packs) && packs > 0 ? packs : 0,
    };
  }

  /** A hunt's layout: known since `hold`, or read from its learning state once. Peers (`<hunt>~peers`) follow their hunt. */
  private async layout(huntId: string): Promise<Layout> {
    const owner = huntOfPartition(`${encodeKey(huntId)}~`);
    let layout = this.layouts.get(owner);
    if (layout === undefined) {
      layout = this.layoutOf(await this.read(this.statePartition(owner), "hunt"));
      this.layouts.set(owner, layout);
    }
    return layout;
  }

  /** Packs per partition of a partition's rows (none in a learning state's partition). */
  private async packsOf(partitionKey: string): Promise<number> {
    if (partitionKey.endsWith("~state")) return 0;
    return (await this.layout(huntOfPartition(partitionKey))).packs;
  }

  /** The window is over; `clean` false (it failed) forgets the hunt, so the next holder reads storage again. */
  release(huntId: string, clean: boolean): void {
    const held = this.holds.get(huntId);
    if (!held) return;
    held.clean &&= clean;
    if (--held.count > 0) return;
    this.holds.delete(huntId);
    const state = this.remembered.get(this.statePartition(huntId))?.alone.get("hunt");
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
    const view = this.remembered.get(partitionKey);
    if (!view) return;
    this.rememberedRows -= rowsIn(view);
    this.remembered.delete(partitionKey);
  }

  /** Something this store did not expect (a lost race, a window already applied): the hunt's memory is not trusted after this window. */
  private distrust(partitionKey: string): void {
    this.dropPartition(partitionKey);
    const held = this.holds.get(huntOfPartition(partitionKey));
    if (held) held.clean = false;
  }

  private remember(partitionKey: string, view: PartitionView): void {
    this.dropPartition(partitionKey);
    this.remembered.set(partitionKey, view);
    this.rememberedRows += rowsIn(view);
    this.trim(partitionKey);
  }

  /** What this store wrote, with the etags the writes returned, into a remembered partition (a missing etag forgets it). */
  private rememberWritten(partitionKey: string, written: readonly { operation: Operation; etag: string | undefined }[]): void {
    const view = this.remembered.get(partitionKey);
    if (!view) return;
    this.rememberedRows -= rowsIn(view);
    for (const { operation, etag } of written) {
      if (operation.action[0] === "delete") {
        view.packs.delete(operation.rowKey);
        continue;
      }
      if (!etag) {
        this.remembered.delete(partitionKey);
        return;
      }
      if ("alone" in operation.written) view.alone.set(operation.rowKey, { entity: operation.written.alone, etag });
      else view.packs.set(operation.rowKey, operation.written.pack.written(etag));
    }
    this.rememberedRows += rowsIn(view);
    this.trim(partitionKey);
  }

  /** Forgets the least recently used partitions (never `keep`) while more rows are remembered than allowed. */
  private trim(keep: string): void {
    for (const [oldest, view] of this.remembered) {
      if (this.rememberedRows <= this.maxRememberedRows) break;
      if (oldest === keep) continue;
      this.rememberedRows -= rowsIn(view);
      this.remembered.delete(oldest);
    }
  }

  /** A held hunt's partition, from memory or listed once; undefined when memory may not be used for it. */
  private async heldPartition(partitionKey: string): Promise<PartitionView | undefined> {
    const held = this.holds.get(huntOfPartition(partitionKey));
    if (!held || held.count !== 1) return undefined;
    const view = this.remembered.get(partitionKey);
    if (view) {
      // Most recently used last.
      this.remembered.delete(partitionKey);
      this.remembered.set(partitionKey, view);
      return view;
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

  /** The rows of a partition (those alone that are `wanted`, or all, and every pack), in one query paged by the service. */
  private async list(partitionKey: string, wanted?: ReadonlySet<string>): Promise<PartitionView> {
    const view = emptyView();
    for await (const entity of this.client.listEntities<Stored>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` } })) {
      if (isPackKey(entity.rowKey)) view.packs.set(entity.rowKey, packFromEntity(entity));
      else if (!wanted || wanted.has(entity.rowKey)) view.alone.set(entity.rowKey, { entity, etag: entity.etag });
    }
    return view;
  }

  private partition(huntId: string, kind: "b" | "p", bucket: number): string {
    return `${encodeKey(huntId)}~${kind}${String(bucket).padStart(2, "0")}`;
  }

  private statePartition(huntId: string): string {
    return `${encodeKey(huntId)}~state`;
  }

  /** Where a hunt's baselines are: the partition of each entity key. */
  async baselinePartitions(huntId: string): Promise<(entityKey: string) => string> {
    const { buckets } = await this.layout(huntId);
    return (entityKey) => this.partition(huntId, "b", bucketOf(entityKey, buckets));
  }

  private async prevalencePartitions(huntId: string): Promise<(valueKey: string) => string> {
    const { buckets } = await this.layout(huntId);
    return (valueKey) => this.partition(huntId, "p", bucketOf(valueKey, buckets));
  }

  private async read(partitionKey: string, rowKey: string): Promise<Alone | undefined> {
    const entity = await getEntityOrUndefined<Stored>(this.client, partitionKey, rowKey);
    return entity && { entity, etag: entity.etag };
  }

  /**
   * What is stored of the given rows, per partition: a held hunt's from memory, others with point
   * reads (of each row and its pack) for a few, whole partitions for many. `fresh` skips memory (after a lost race).
   */
  private async views(
    rowsByPartition: ReadonlyMap<string, readonly { rowKey: string }[]>,
    fresh = false,
  ): Promise<Map<string, PartitionView>> {
    const out = new Map<string, PartitionView>();
    await pMap(
      rowsByPartition,
      async ([partitionKey, rows]) => {
        const held = fresh ? undefined : await this.heldPartition(partitionKey);
        if (held) return void out.set(partitionKey, held);
        const rowKeys = new Set(rows.map((row) => row.rowKey));
        if (rowKeys.size > 50) return void out.set(partitionKey, await this.list(partitionKey, rowKeys));
        const packs = await this.packsOf(partitionKey);
        const view = emptyView();
        const packKeys = packs ? new Set([...rowKeys].map((rowKey) => placeOf(rowKey, packs).pack)) : new Set<string>();
        await pMap(
          [...rowKeys, ...packKeys],
          async (rowKey) => {
            const row = await this.read(partitionKey, rowKey);
            if (!row) return;
            if (isPackKey(rowKey)) view.packs.set(rowKey, packFromEntity({ ...row.entity, etag: row.etag }));
            else view.alone.set(rowKey, row);
          },
          { concurrency: READ_CONCURRENCY },
        );
        out.set(partitionKey, view);
      },
      { concurrency: READ_CONCURRENCY },
    );
    return out;
  }

  /** Reads the stored entities for `keys`, decoded; keys with nothing stored are left out. */
  private async readDecoded<T>(
    keys: readonly string[],
    partitionOf: (key: string) => string,
    decode: (key: string, entity: Stored) => T,
  ): Promise<Map<string, T>> {
    const located = keys.map((key) => ({ key, partitionKey: partitionOf(key), rowKey: encodeKey(key) }));
    const views = await this.views(byPartition(located));
    const packs = new Map<string, number>();
    for (const partitionKey of views.keys()) packs.set(partitionKey, await this.packsOf(partitionKey));
    const out = new Map<string, T>();
    for (const { key, partitionKey, rowKey } of located) {
      const current = currentIn(views.get(partitionKey)!, partitionKey, rowKey, packs.get(partitionKey)!);
      if (current) out.set(key, decode(key, current.entity));
    }
    return out;
  }

  /**
   * Writes with etag checks in per-partition transactions, recomputing whatever lost a race. Partitions
   * go side by side: one partition's operations are worked out while the storage applies another's.
   */
  private async write(pending: PendingWrite[]): Promise<ApplyResult> {
    const result: ApplyResult = { written: 0, skipped: 0, retries: 0 };
    let todo = pending;
    for (let attempt = 1; todo.length; attempt++) {
      if (attempt > MAX_ATTEMPTS)
        throw new Error(`gave up after ${MAX_ATTEMPTS} attempts: ${todo.length} baseline updates keep conflicting`);
      const partitions = byPartition(todo);
      const views = await this.views(partitions, attempt > 1);
      const retry: PendingWrite[] = [];
      await pMap(
        partitions,
        async ([partitionKey, items]) => {
          const operations = this.operationsFor(partitionKey, items, views.get(partitionKey)!, await this.packsOf(partitionKey), result);
          retry.push(...operations.deferred);
          // Rows alone that exist first, then each pack with the rows created alone from it (see operationsFor): a row leaving
          // its pack is stored alone in the transaction that rewrites the pack without it.
          const failed = await this.submit(
            transactionChunks(
              operations.alone,
              (o) => o.partitionKey,
              (o) => o.bytes,
            ),
            result,
            retry,
          );
          if (failed.size) return void retry.push(...operations.packed.flatMap((group) => group.flatMap((o) => o.items)));
          const chunks = transactionChunks(
            operations.packed,
            (group) => group[0].partitionKey,
            (group) => group.reduce((bytes, o) => bytes + o.bytes, 0),
            (group) => group.length,
          );
          await this.submit(
            chunks.map((chunk) => chunk.flat()),
            result,
            retry,
          );
        },
        { concurrency: PARTITION_CONCURRENCY },
      );
      todo = retry;
    }
    return result;
  }

  /** A partition's operations for its pending writes: rows stored alone, and the packs merged with their rows. */
  private operationsFor(
    partitionKey: string,
    items: readonly PendingWrite[],
    view: PartitionView,
    packs: number,
    result: ApplyResult,
  ): { alone: Operation[]; packed: Operation[][]; deferred: PendingWrite[] } {
    const alone: Operation[] = [];
    /** Rows created alone, by their pack. */
    const created = new Map<string, Operation[]>();
    const edits = new Map<string, PackEdit>();
    const editOf = (pack: string) => {
      let edit = edits.get(pack);
      if (!edit) edits.set(pack, (edit = new PackEdit(partitionKey, pack, view.packs.get(pack))));
      return edit;
    };
    const storeAlone = (item: PendingWrite, next: Stored) => {
      const stored = view.alone.get(item.rowKey);
      // Merge, not Replace: every write carries all of the entity's properties, so the two store the same thing, and
      // Azurite (the backtest's storage) replaces by removing and re-inserting, which costs time in proportion to the table.
      const action: TableAction = stored ? ["update", next, "Merge", { etag: stored.etag }] : ["create", next];
      const operation: Operation = {
        partitionKey,
        rowKey: item.rowKey,
        action,
        bytes: entityBytes(next),
        items: [item],
        written: { alone: next },
      };
      // A row created alone goes in the transaction that writes its pack, conditional on the pack's etag: a run that does not
      // know the row (and would write it into the pack) holds an older etag of the pack, and fails instead of losing an update.
      if (stored || !packs) return void alone.push(operation);
      const pack = placeOf(item.rowKey, packs).pack;
      created.set(pack, [...(created.get(pack) ?? []), operation]);
    };
    for (const item of items) {
      const current = currentIn(view, partitionKey, item.rowKey, packs);
      const next = item.compute(current);
      if (typeof next === "string") {
        // Another run (or an earlier attempt) got here first: memory of this hunt is not to be trusted.
        if (next === "applied") this.distrust(partitionKey);
        result.skipped++;
        continue;
      }
      const place = packs && !view.alone.has(item.rowKey) ? placeOf(item.rowKey, packs) : undefined;
      // A row already packed keeps its slot (one an earlier SLOTS gave it).
      if (place && current?.slot !== undefined) place.slot = current.slot;
      const row = place && packedRowOf(next, place.slot);
      if (place && row && row.json.length <= PACKED_ROW_CHARS) {
        const edit = editOf(place.pack);
        edit.changes.set(item.rowKey, row);
        edit.added.push({ item, next });
        continue;
      }
      storeAlone(item, next);
      // Too large for its pack now, it leaves the pack; a copy left in the pack goes too.
      const left = current?.pack ?? (packs ? placeOf(item.rowKey, packs).pack : undefined);
      if (left && view.packs.get(left)?.rows.has(item.rowKey)) editOf(left).changes.set(item.rowKey, undefined);
    }
    // Full: this window's rows leave it, largest first, and are stored alone.
    for (const edit of [...edits.values()]) for (const { item, next } of edit.overflow()) storeAlone(item, next);
    const packed: Operation[][] = [];
    const deferred: PendingWrite[] = [];
    for (const pack of new Set([...edits.keys(), ...created.keys()])) {
      const edit = editOf(pack);
      // A transaction holds 100 operations and 4 MiB: rows created past that wait for the next attempt (one leaving the pack stays in it).
      const group: Operation[] = [];
      let bytes = 0;
      for (const operation of created.get(pack) ?? []) {
        if (group.length && (group.length === TRANSACTION_LIMIT - 1 || bytes + operation.bytes > TRANSACTION_BYTES / 2)) {
          deferred.push(...operation.items);
          if (edit.base?.rows.has(operation.rowKey)) edit.changes.delete(operation.rowKey);
          continue;
        }
        group.push(operation);
        bytes += operation.bytes;
      }
      const stored = edit.base;
      let entity: Stored;
      let rows: number;
      let action: TableAction;
      if (edit.changes.size) {
        ({ entity, rows } = edit.entity());
        action = !stored
          ? ["create", entity]
          : rows
            ? ["update", entity, "Merge", { etag: stored.etag }]
            : ["delete", { partitionKey, rowKey: pack }, { etag: stored.etag }];
      } else if (stored && group.length) {
        // Nothing of the pack changes, but its etag must: a Merge of what it holds.
        rows = stored.rows.size;
        entity = { partitionKey, rowKey: pack, rows };
        action = ["update", entity, "Merge", { etag: stored.etag }];
      } else if (group.length) {
        // No pack yet: an empty one, which a run creating it with the row fails on. Pruning deletes it like any old pack.
        const lastWindowEnd = Math.min(...group.map((o) => Number((o.action[1] as Stored).lastWindowEnd)));
        rows = 0;
        entity = { partitionKey, rowKey: pack, rows, lastWindowEnd, oldestWindowEnd: lastWindowEnd };
        action = ["create", entity];
      } else continue;
      group.push({
        partitionKey,
        rowKey: pack,
        action,
        bytes: entityBytesAtMost(entity),
        items: edit.added.map((a) => a.item),
        written: { pack: edit, rows },
      });
      packed.push(group);
    }
    return { alone, packed, deferred };
  }

  /**
   * Submits operations in per-partition transactions; the writes of a transaction that lost a race go
   * to `retry`. Returns the partitions where one did.
   */
  private async submit(chunks: readonly Operation[][], result: ApplyResult, retry: PendingWrite[]): Promise<Set<string>> {
    const failed = new Set<string>();
    await pMap(
      chunks,
      async (chunk) => {
        const partitionKey = chunk[0].partitionKey;
        try {
          const response = await submitTransaction(
            this.client,
            chunk.map((o) => o.action),
          );
          for (const operation of chunk) result.written += operation.items.length;
          // A change set's responses come in the order of its operations (an update's carries no row key to match on).
          this.rememberWritten(
            partitionKey,
            chunk.map((operation, i) => ({ operation, etag: response.subResponses[i]?.etag })),
          );
        } catch (error) {
          if (!isLostRace(error)) throw error;
          this.distrust(partitionKey);
          failed.add(partitionKey);
          result.retries++;
          for (const operation of chunk) retry.push(...operation.items);
        }
      },
      { concurrency: TRANSACTION_CONCURRENCY },
    );
    return failed;
  }

  // ---- baselines ----

  async getBaselines(huntId: string, entityKeys: readonly string[]): Promise<Map<string, Baseline>> {
    return this.readDecoded(entityKeys, await this.baselinePartitions(huntId), (_, entity) => baselineOf(huntId, entity));
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
            const next = applyObservation(huntId, current ? baselineOf(huntId, current.entity) : undefined, observation, window, caps);
            if (!next) return "applied";
            const { entity, whole } = encodeBaseline(partitionKey, rowKey, next);
            // What is stored decodes to `next` unless a list had to be shortened to fit.
            if (whole) decoded.set(entity, next);
            return entity;
          },
        };
      }),
    );
  }

  /**
   * Deletes every row of the table, of any hunt (one removed from the catalog too), last written
   * for a window ending before `before`: baselines of entities not seen since, prevalence of values
   * not seen since, and the learning state of a hunt that has not run since (its baselines are as
   * old, so it starts learning afresh). Packs lose those rows (and go when none is left). Each
   * delete or rewrite is conditional on the etag listed: a row a run updates meanwhile stays.
   * Returns how many rows were deleted, packed ones included.
   */
  async prune(before: number, budget?: TimeBudget): Promise<number> {
    const deleted =
      (await this.prunePacks(before, budget)) +
      (await deleteWhere(this.client, `lastWindowEnd lt ${epochMsLiteral(before)}`, { mode: "unchanged", budget }));
    // What held hunts remember may name deleted rows: they list their partitions again when needed.
    if (deleted) {
      for (const partitionKey of [...this.remembered.keys()]) this.dropPartition(partitionKey);
      // A hunt whose state was pruned starts learning afresh, with the current layout.
      this.layouts.clear();
    }
    return deleted;
  }

  /** Rewrites the packs holding rows last written before `before` without them (deletes those left empty); returns the rows removed. */
  private async prunePacks(before: number, budget?: TimeBudget): Promise<number> {
    let removed = 0;
    for await (const page of pagesWithin<Stored>(this.client, `oldestWindowEnd lt ${epochMsLiteral(before)}`, { pageSize: 100, budget }))
      await pMap(
        page.filter((entity) => isPackKey(entity.rowKey)),
        async (entity) => {
          const pack = packFromEntity(entity);
          const kept = new Map([...pack.rows].filter(([, row]) => row.lastWindowEnd >= before));
          const action: TableAction = kept.size
            ? ["update", entityOfPack(entity.partitionKey, entity.rowKey, kept), "Replace", { etag: pack.etag }]
            : ["delete", { partitionKey: entity.partitionKey, rowKey: entity.rowKey }, { etag: pack.etag }];
          try {
            await submitTransaction(this.client, [action]);
            removed += pack.rows.size - kept.size;
          } catch (error) {
            // A run rewrote the pack meanwhile: the next pruning sees it again.
            if (!isLostRace(error)) throw error;
          }
        },
        { concurrency: TRANSACTION_CONCURRENCY },
      );
    return removed;
  }

  // ---- hunt state ----

  async getHuntState(huntId: string): Promise<HuntState> {
    const partitionKey = this.statePartition(huntId);
    const views = await this.views(new Map([[partitionKey, [{ rowKey: "hunt" }]]]));
    const current = views.get(partitionKey)!.alone.get("hunt");
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
    const { buckets, packs } = await this.layout(huntId);
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
            packs,
          };
        },
      },
    ]);
  }

  // ---- prevalence ----

  async getPrevalence(huntId: string, valueKeys: readonly string[]): Promise<Map<string, Prevalence>> {
    return this.readDecoded(valueKeys, await this.prevalencePartitions(huntId), (k, entity) => prevalenceOfEntity(huntId, k, entity));
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
            const stored = current && prevalenceOfEntity(huntId, valueKey, current.entity);
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
            const entity: Stored = {
              partitionKey,
              rowKey,
              valueKey,
              across: JSON.stringify(next.across),
              ...membersProperties(next.members),
              count: next.count,
              lastWindowEnd: next.lastWindowEnd,
            };
            decodedPrevalence.set(entity, next);
            return entity;
          },
        };
      }),
    );
  }
}

/** Rows (pending writes, keys to read) by partition: what `views` reads, and what a write computes per partition. */
function byPartition<T extends { partitionKey: string }>(rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const group = out.get(row.partitionKey);
    if (group) group.push(row);
    else out.set(row.partitionKey, [row]);
  }
  return out;
}

/** Table Storage properties hold at most 64 KiB (32K characters): keep JSON columns under that. */
const MAX_JSON = 30_000;

/** The value as JSON, shortened (`whole` false) when it would not fit a property. */
function boundedJson(value: Record<string, unknown>): { text: string; whole: boolean } {
  let text = JSON.stringify(value);
  if (text.length <= MAX_JSON) return { text, whole: true };
  const copy = JSON.parse(text) as Record<string, unknown[] | { history: number[] }>;
  // Shrink the largest lists first until the document fits.
  while (text.length > MAX_JSON) {
    const [name] = Object.entries(copy).sort(([, a], [, b]) => JSON.stringify(b).length - JSON.stringify(a).length)[0];
    const entry = copy[name];
    if (Array.isArray(entry)) entry.splice(Math.floor(entry.length / 2));
    else entry.history.splice(0, Math.ceil(entry.history.length / 2));
    text = JSON.stringify(copy);
  }
  return { text, whole: false };
}

/** The stored form of a baseline (also what the benchmark's one-request-per-entity path writes). */
export function fromBaseline(partitionKey: string, rowKey: string, b: Baseline): Stored {
  return encodeBaseline(partitionKey, rowKey, b).entity;
}

/** The stored form of a baseline, and whether it holds all of it (no list had to be shortened to fit). */
function encodeBaseline(partitionKey: string, rowKey: string, b: Baseline): { entity: Stored; whole: boolean } {
  const features = boundedJson(b.features);
  const distinct = boundedJson(b.distinct);
  const entity: Stored = {
    partitionKey,
    rowKey,
    entityKey: b.entityKey,
    windows: b.windows,
    firstSeen: new Date(b.firstSeen),
    lastSeen: new Date(b.lastSeen),
    lastWindowEnd: b.lastWindowEnd,
    features: features.text,
    distinct: distinct.text,
    thresholdHits: (b.thresholdHits ?? []).join(""),
  };
  return { entity, whole: features.whole && distinct.whole };
}

/** A stored time (a Date; epoch ms in a packed line; ISO text in one from an older writer) in epoch ms; NaN when absent. */
function timeOf(value: unknown): number {
  return value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(String(value));
}

/** A JSON_TEXT_PROPERTIES value: JSON text in a row alone (or a line from an older writer), the value itself in a packed line. */
function jsonValueOf(value: unknown, absent: object): unknown {
  if (typeof value === "string") return JSON.parse(value) as unknown;
  return typeof value === "object" && value !== null ? value : absent;
}

/**
 * Baselines decoded from stored entities, or that were encoded into them. A held hunt's entities
 * stay in memory from window to window, and decoding each one's JSON on every read (and again to
 * apply the window) was a large share of the replay's work. Baselines are never changed in place.
 */
const decoded = new WeakMap<Stored, Baseline>();

function baselineOf(huntId: string, entity: Stored): Baseline {
  let baseline = decoded.get(entity);
  if (!baseline) decoded.set(entity, (baseline = toBaseline(huntId, entity)));
  return baseline;
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
    features: jsonValueOf(entity.features, {}) as Baseline["features"],
    distinct: jsonValueOf(entity.distinct, {}) as Baseline["distinct"],
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

/** Prevalence decoded from stored entities, or encoded into them (which decodes to the same): as `decoded` for baselines. */
const decodedPrevalence = new WeakMap<Stored, Prevalence>();

function prevalenceOfEntity(huntId: string, valueKey: string, entity: Stored): Prevalence {
  let prevalence = decodedPrevalence.get(entity);
  if (!prevalence) decodedPrevalence.set(entity, (prevalence = toPrevalence(huntId, valueKey, entity)));
  return prevalence;
}

function toPrevalence(huntId: string, valueKey: string, entity: Stored): Prevalence {
  const across = jsonValueOf(entity.across, []) as string[];
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
