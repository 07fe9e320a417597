/**
 * What every store in this project does with Table Storage the same way: point reads where a
 * missing entity is an answer, not an error; etag conflicts told apart from failures; writes cut
 * into entity group transactions (at most 100 operations, all of one partition); old rows deleted
 * page by page (retention).
 */
import type { RestError, TableClient, TableEntityResult, TransactionAction } from "@azure/data-tables";
import pMap from "p-map";

export const TRANSACTION_LIMIT = 100;

/** 409 (already exists) or 412 (etag changed): another writer got there first. */
export function isConflict(error: unknown): boolean {
  const status = (error as RestError)?.statusCode;
  return status === 409 || status === 412;
}

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

/** Groups items by partition and cuts each group into transaction-sized chunks. */
export function transactionChunks<T>(items: Iterable<T>, partitionOf: (item: T) => string): T[][] {
  const byPartition = new Map<string, T[]>();
  for (const item of items) {
    const partition = partitionOf(item);
    let group = byPartition.get(partition);
    if (!group) byPartition.set(partition, (group = []));
    group.push(item);
  }
  const chunks: T[][] = [];
  for (const group of byPartition.values())
    for (let i = 0; i < group.length; i += TRANSACTION_LIMIT) chunks.push(group.slice(i, i + TRANSACTION_LIMIT));
  return chunks;
}

const isNotFound = (error: unknown) => (error as RestError)?.statusCode === 404;

/** A row as a query listed it: its keys and the etag it had then. */
export interface ListedRow {
  partitionKey: string;
  rowKey: string;
  etag: string;
}

/** Single conditional deletes in flight at once. */
const DELETE_CONCURRENCY = 16;

/**
 * Deletes rows in entity group transactions of at most 100, one partition each. For rows no other
 * writer changes once they are old: the SDK's transactions delete unconditionally (If-Match: *).
 * A row already gone (a second pruner got there first) fails its whole transaction; that chunk is
 * then deleted row by row and the missing rows skipped. Returns how many this call deleted.
 */
export async function deleteInTransactions(client: TableClient, rows: readonly ListedRow[]): Promise<number> {
  let deleted = 0;
  for (const chunk of transactionChunks(rows, (r) => r.partitionKey)) {
    try {
      await client.submitTransaction(chunk.map((r): TransactionAction => ["delete", { partitionKey: r.partitionKey, rowKey: r.rowKey }]));
      deleted += chunk.length;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const one = await pMap(chunk, (r) => deleteRow(client, r.partitionKey, r.rowKey, "*"), { concurrency: DELETE_CONCURRENCY });
      deleted += one.filter(Boolean).length;
    }
  }
  return deleted;
}

/**
 * Deletes each row only if it still has the etag it was listed with: a row another writer updated
 * since (a baseline that saw its entity again) stays, the update wins. One request per row: the
 * SDK's submitTransaction cannot put an etag on a delete. Returns how many were deleted.
 */
export async function deleteUnchanged(client: TableClient, rows: readonly ListedRow[]): Promise<number> {
  const done = await pMap(rows, (r) => deleteRow(client, r.partitionKey, r.rowKey, r.etag), { concurrency: DELETE_CONCURRENCY });
  return done.filter(Boolean).length;
}

/** True when this call deleted the row; false when it was gone or (with an etag) changed. */
async function deleteRow(client: TableClient, partitionKey: string, rowKey: string, etag: string): Promise<boolean> {
  try {
    await client.deleteEntity(partitionKey, rowKey, { etag });
    return true;
  } catch (error) {
    if (isNotFound(error) || isConflict(error)) return false;
    throw error;
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
}

/**
 * Deletes every row matching an OData filter, a page (at most 1,000 rows) at a time, so a large
 * backlog never sits in memory and whatever was deleted stays deleted if the run stops early.
 * Returns how many rows were deleted.
 */
export async function deleteWhere<T extends object = Record<string, unknown>>(
  client: TableClient,
  filter: string,
  options: DeleteWhereOptions<T>,
): Promise<number> {
  let deleted = 0;
  const select = ["PartitionKey", "RowKey", ...(options.select ?? [])];
  for await (const page of client.listEntities<T>({ queryOptions: { filter, select } }).byPage({ maxPageSize: 1000 })) {
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
