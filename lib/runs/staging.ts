/**
 * What a scored window will add to the baselines, kept until it is applied: gzip'd JSON of the
 * window's observations, cut into parts that each fit a binary property. A small window's parts
 * ride on its run record (written in the same request that marks it `scored`, see RunStore);
 * a large window's go to their own table (`<prefix>staged`):
 *   PartitionKey <run id>  RowKey `part~<nnnn>`   one part
 * A run that crashed after scoring resumes from here instead of querying the source again: with
 * Log Analytics' ingestion delay a second query is not the same answer, and scores must never be
 * recomputed against baselines that may already include the window.
 */
import { promisify } from "node:util";
import { gunzipSync, gzip } from "node:zlib";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { decodeKey, encodeKey } from "../state/keys.js";
import { deleteWhere, TRANSACTION_LIMIT, type TimeBudget } from "../state/tables.js";
import { submitTransaction } from "../state/transactions.js";
import type { WindowObservations } from "./evaluate.js";

/** A binary property holds at most 64 KiB. */
const PART_BYTES = 60_000;
/** A transaction's body is at most 4 MiB; base64 makes each part about 80 KB. */
const PARTS_PER_TRANSACTION = 40;

const partKey = (index: number) => `part~${String(index).padStart(4, "0")}`;

/** The window's observations as parts (at least one). */
export async function packObservations(observations: WindowObservations): Promise<Uint8Array[]> {
  // The fastest level: the parts live for one window, so the time spent on them matters more than their size. Compressed
  // on libuv's thread pool, not on the thread that runs the hunts.
  const packed = await gzipAsync(JSON.stringify(observations), { level: 1 });
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < packed.length || parts.length === 0; offset += PART_BYTES)
    parts.push(packed.subarray(offset, offset + PART_BYTES));
  return parts;
}

/** The observations back from their parts; every part must be there. */
export function unpackObservations(runId: string, parts: readonly (Uint8Array | undefined)[], expected: number): WindowObservations {
  const missing = Array.from({ length: expected }, (_, i) => i).find((i) => parts[i] === undefined);
  if (missing !== undefined) throw new Error(`run ${runId}: staged observations are incomplete (part ${missing} of ${expected} missing)`);
  return JSON.parse(gunzipSync(Buffer.concat(parts.slice(0, expected) as Uint8Array[])).toString("utf8")) as WindowObservations;
}

const gzipAsync = promisify(gzip);

export class StagedObservations {
  constructor(private readonly client: TableClient) {}

  /** Stores a window's parts in the staged table. */
  async put(runId: string, parts: readonly Uint8Array[]): Promise<void> {
    const partitionKey = encodeKey(runId);
    const actions = parts.map((data, index): TransactionAction => ["upsert", { partitionKey, rowKey: partKey(index), data }, "Replace"]);
    for (let i = 0; i < actions.length; i += PARTS_PER_TRANSACTION)
      await submitTransaction(this.client, actions.slice(i, i + PARTS_PER_TRANSACTION));
  }

  async get(runId: string, parts: number): Promise<WindowObservations> {
    const pieces: Uint8Array[] = [];
    const filter = odata`PartitionKey eq ${encodeKey(runId)}`;
    for await (const entity of this.client.listEntities<{ data: Uint8Array }>({ queryOptions: { filter } })) {
      const index = Number(entity.rowKey?.slice("part~".length));
      if (index < parts) pieces[index] = entity.data;
    }
    return unpackObservations(runId, pieces, parts);
  }

  /**
   * Deletes parts written before `before`, except those of runs `stillNeeded` says a resume will
   * read; returns how many. Parts are left behind by runs that crashed and never resumed.
   */
  async prune(before: number, stillNeeded: (runId: string) => Promise<boolean>, budget?: TimeBudget): Promise<number> {
    const answers = new Map<string, Promise<boolean>>();
    const needed = (runId: string) => answers.get(runId) ?? answers.set(runId, stillNeeded(runId)).get(runId)!;
    return deleteWhere(this.client, odata`Timestamp lt ${new Date(before)}`, {
      mode: "transactions",
      keep: (row) => needed(decodeKey(row.partitionKey)),
      budget,
    });
  }

  /** Deletes the `parts` written for a run (the count kept on its record). */
  async delete(runId: string, parts: number): Promise<void> {
    const partitionKey = encodeKey(runId);
    const actions: TransactionAction[] = Array.from({ length: parts }, (_, i) => ["delete", { partitionKey, rowKey: partKey(i) }]);
    for (let i = 0; i < actions.length; i += TRANSACTION_LIMIT)
      await submitTransaction(this.client, actions.slice(i, i + TRANSACTION_LIMIT));
  }
}
