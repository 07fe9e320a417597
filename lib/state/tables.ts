/**
 * What every store in this project does with Table Storage the same way: point reads where a
 * missing entity is an answer, not an error; etag conflicts told apart from failures; writes cut
 * into entity group transactions (at most 100 operations, all of one partition); old rows deleted
 * page by page (retention).
 */
import type { RestError, TableClient, TableEntityResult } from "@azure/data-tables";
import pMap from "p-map";
import { ESCAPED_IN_JSON } from "../json.js";
import { submitTransaction, type TableAction } from "./transactions.js";

export const TRANSACTION_LIMIT = 100;

/** 409 (already exists) or 412 (etag changed): another writer got there first. */
export function isConflict(error: unknown): boolean {
  const status = (error as RestError)?.statusCode;
  return status === 409 || status === 412;
}

/** A conflict (see isConflict), or 404: a row the writer knew of was deleted meanwhile. */
export function isLostRace(error: unknown): boolean {
  return isConflict(error) || isNotFound(error);
}

const isNotFound = (error: unknown) => (error as RestError)?.statusCode === 404;

/** The entity, or undefined when there is none (404); other errors are thrown. */
export async function getEntityOrUndefined<T extends object>(
  client: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await client.getEntity<T>(partitionKey, rowKey);
  } catch (error) {
    if ((error as RestError).statusCode === 404) return undefined;
    throw error;
  }
}

/**
 * What a transaction's operations may carry: the service refuses a body over 4 MiB, and each
 * operation adds its own headers to the multipart body.
 */
export const TRANSACTION_BYTES = 3.5 * 2 ** 20;
const OPERATION_OVERHEAD_BYTES = 1_024;

/**
 * About what an entity weighs in a request body: its properties' names and values as UTF-8 JSON, text as sent (a quote or
 * backslash escaped takes two bytes, so text of JSON, escaped again, can take nearly twice its length).
 */
export function entityBytes(entity: Record<string, unknown>): number {
  let bytes = OPERATION_OVERHEAD_BYTES;
  for (const [name, value] of Object.entries(entity)) bytes += name.length + 8 + (typeof value === "string" ? jsonTextBytes(value) : 32);
  return bytes;
}

/**
 * What an entity weighs at most, for cutting transactions: an entity light enough that
 * TRANSACTION_LIMIT like it fit one whatever its text holds is weighed by a bound, every character
 * at its heaviest (six bytes, `\u001f`); a heavier one exactly (entityBytes). Counting every
 * character of every pack a replay writes was a share of its time.
 */
export function entityBytesAtMost(entity: Record<string, unknown>): number {
  let bound = OPERATION_OVERHEAD_BYTES;
  for (const name in entity) {
    const value = entity[name];
    bound += name.length + 8 + (typeof value === "string" ? 6 * value.length + 2 : 32);
  }
  return bound <= BOUNDED_ENTITY_BYTES ? bound : entityBytes(entity);
}

/** Entities up to this bound are weighed by it: TRANSACTION_LIMIT of them still fit a transaction. */
const BOUNDED_ENTITY_BYTES = Math.floor(TRANSACTION_BYTES / TRANSACTION_LIMIT);

/** UTF-8 bytes of `text` as a JSON string; without escapes, counted without writing it out (packs weigh up to 400K characters). */
function jsonTextBytes(text: string): number {
  return ESCAPED_IN_JSON.test(text) ? Buffer.byteLength(JSON.stringify(text)) : Buffer.byteLength(text) + 2;
}

/**
 * Groups items by partition and cuts each group into transaction-sized chunks: at most 100
 * operations (`operationsOf` an item, one unless told) and, when `bytesOf` weighs the items, at most
 * TRANSACTION_BYTES (an item heavier than that goes alone, and the service says what it thinks of it).
 */
export function transactionChunks<T>(
  items: Iterable<T>,
  partitionOf: (item: T) => string,
  bytesOf?: (item: T) => number,
  operationsOf?: (item: T) => number,
): T[][] {
  const byPartition = new Map<string, T[]>();
  for (const item of items) {
    const partition = partitionOf(item);
    let group = byPartition.get(partition);
    if (!group) byPartition.set(partition, (group = []));
    group.push(item);
  }
  const chunks: T[][] = [];
  for (const group of byPartition.values()) {
    let chunk: T[] = [];
    let bytes = 0;
    let operations = 0;
    for (const item of group) {
      const weight = bytesOf ? bytesOf(item) : 0;
      const count = operationsOf ? operationsOf(item) : 1;
      if (chunk.length && (operations + count > TRANSACTION_LIMIT || bytes + weight > TRANSACTION_BYTES)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
        operations = 0;
      }
      chunk.push(item);
      bytes += weight;
      operations += count;
    }
    if (chunk.length) chunks.push(chunk);
  }
  return chunks;
}

/** A row as a query listed it: its keys and the etag it had then. */
export interface ListedRow {
  partitionKey: string;
  rowKey: string;
  etag: string;
}

/** Rows listed (and deleted) per page. */
export const DELETE_PAGE_SIZE = 1000;
/** Single conditional deletes in flight at once. */
const DELETE_CONCURRENCY = 16;
/** Delete transactions in flight at once. */
const TRANSACTION_CONCURRENCY = 8;

/**
 * Deletes rows in entity group transactions of at most 100, one partition each, unconditionally
 * (If-Match: *): for rows no other writer changes once they are old.
 * A row already gone (a second pruner got there first) fails its whole transaction; that chunk is
 * then deleted row by row and the missing rows skipped. Returns how many this call deleted.
 */
export async function deleteInTransactions(client: TableClient, rows: readonly ListedRow[]): Promise<number> {
  let deleted = 0;
  for (const chunk of transactionChunks(rows, (r) => r.partitionKey)) {
    try {
      await submitTransaction(
        client,
        chunk.map((r): TableAction => ["delete", { partitionKey: r.partitionKey, rowKey: r.rowKey }]),
      );
      deleted += chunk.length;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const one = await pMap(chunk, (r) => deleteRow(client, r.partitionKey, r.rowKey, "*"), { concurrency: DELETE_CONCURRENCY });
      deleted += one.filter(Boolean).length;
    }
  }
  return deleted;
}

/** Deletes one partition's rows in one transaction, each only if it still has its listed etag; any changed or missing row fails it all. */
async function deleteUnchangedTransaction(client: TableClient, rows: readonly ListedRow[]): Promise<void> {
  await submitTransaction(
    client,
    rows.map((r): TableAction => ["delete", { partitionKey: r.partitionKey, rowKey: r.rowKey }, { etag: r.etag }]),
  );
}

/**
 * Deletes each row only if it still has the etag it was listed with: a row another writer updated
 * since (a baseline that saw its entity again) stays, the update wins. Rows go in transactions of
 * at most 100 of one partition; one changed (412) or missing (404) row fails its whole
 * transaction, and that chunk is then deleted row by row, each still conditional, so the others
 * are deleted and the changed one kept. Returns how many were deleted.
 */
export async function deleteUnchanged(client: TableClient, rows: readonly ListedRow[]): Promise<number> {
  const done = await pMap(
    transactionChunks(rows, (r) => r.partitionKey),
    async (chunk) => {
      try {
        await deleteUnchangedTransaction(client, chunk);
        return chunk.length;
      } catch (error) {
        if (!isLostRace(error)) throw error;
        const one = await pMap(chunk, (r) => deleteRow(client, r.partitionKey, r.rowKey, r.etag), { concurrency: DELETE_CONCURRENCY });
        return one.filter(Boolean).length;
      }
    },
    { concurrency: TRANSACTION_CONCURRENCY },
  );
  return done.reduce((sum, n) => sum + n, 0);
}

/** True when this call deleted the row; false when it was gone or (with an etag) changed. */
async function deleteRow(client: TableClient, partitionKey: string, rowKey: string, etag: string): Promise<boolean> {
  try {
    await client.deleteEntity(partitionKey, rowKey, { etag });
    return true;
  } catch (error) {
    if (isLostRace(error)) return false;
    throw error;
  }
}

/**
 * How long a long delete may go on (the prune job has to end before the Functions timeout). It is
 * checked before each page after the first, so every call that finds rows deletes some: a run
 * always gets further than the last.
 */
export class TimeBudget {
  /** Set once work stopped because the budget was spent: rows matching are left for the next run. */
  stopped = false;

  constructor(private readonly until: number) {}

  static of(ms: number): TimeBudget {
    return new TimeBudget(Date.now() + ms);
  }

  get spent(): boolean {
    return Date.now() >= this.until;
  }
}

export interface DeleteWhereOptions<T> {
  /**
   * `unchanged`: rows other writers may still update (deleted only if their etag is the listed one);
   * `transactions`: rows nobody writes once they match the filter (batched, unconditional).
   */
  mode: "unchanged" | "transactions";
  /** Properties `keep` reads, besides the keys. */
  select?: string[];
  /** Rows this returns true for stay. */
  keep?: (row: T & ListedRow) => Promise<boolean> | boolean;
  /** Stop between pages once it is spent (nothing at all once it has stopped). */
  budget?: TimeBudget;
}

/**
 * The pages of rows matching an OData filter, for work done page by page within a time budget: the
 * first page always comes (unless the budget has stopped work already); another page means there is
 * more to do, and the budget says whether it is this run's (once spent, it is marked stopped).
 */
export async function* pagesWithin<T extends object>(
  client: TableClient,
  filter: string,
  options: { select?: string[]; pageSize: number; budget?: TimeBudget },
): AsyncGenerator<TableEntityResult<T>[]> {
  const { budget } = options;
  if (budget?.stopped) return;
  let first = true;
  const queryOptions = { filter, ...(options.select ? { select: options.select } : {}) };
  for await (const page of client.listEntities<T>({ queryOptions }).byPage({ maxPageSize: options.pageSize })) {
    if (!first && budget?.spent) {
      budget.stopped = true;
      return;
    }
    first = false;
    yield page;
  }
}

/**
 * Deletes every row matching an OData filter, a page (at most 1,000 rows) at a time, so a large
 * backlog never sits in memory and whatever was deleted stays deleted if the run stops early: the
 * next one lists what is left. Returns how many rows were deleted.
 */
export async function deleteWhere<T extends object = Record<string, unknown>>(
  client: TableClient,
  filter: string,
  options: DeleteWhereOptions<T>,
): Promise<number> {
  let deleted = 0;
  const select = ["PartitionKey", "RowKey", ...(options.select ?? [])];
  for await (const page of pagesWithin<T>(client, filter, { select, pageSize: DELETE_PAGE_SIZE, budget: options.budget })) {
    let rows = page.map((e) => ({ ...e, partitionKey: e.partitionKey!, rowKey: e.rowKey!, etag: e.etag }));
    if (options.keep) {
      const keep = options.keep;
      const kept = await pMap(rows, (r) => keep(r), { concurrency: DELETE_CONCURRENCY });
      rows = rows.filter((_, i) => !kept[i]);
    }
    deleted += options.mode === "unchanged" ? await deleteUnchanged(client, rows) : await deleteInTransactions(client, rows);
  }
  return deleted;
}

/**
 * An OData literal for a property holding epoch milliseconds. Such numbers are too big for Int32,
 * so Table Storage keeps them as Edm.Double, and a filter only matches a literal of the same type.
 */
export function epochMsLiteral(ms: number): string {
  if (!Number.isFinite(ms)) throw new Error(`not a time: ${ms}`);
  return Number.isInteger(ms) ? `${ms}.0` : String(ms);
}
