/**
 * What every store in this project does with Table Storage the same way: point reads where a
 * missing entity is an answer, not an error; etag conflicts told apart from failures; writes cut
 * into entity group transactions (at most 100 operations, all of one partition).
 */
import type { RestError, TableClient, TableEntityResult } from "@azure/data-tables";

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
