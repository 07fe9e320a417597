/**
 * What a scored window will add to the baselines, kept until it is applied (table `<prefix>staged`):
 *   PartitionKey <run id>  RowKey `part~<nnnn>`   gzip'd JSON of the window's observations, in pieces
 * A run that crashed after scoring resumes from here instead of querying the source again: with
 * Log Analytics' ingestion delay a second query is not the same answer, and scores must never be
 * recomputed against baselines that may already include the window.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { decodeKey, encodeKey } from "../state/keys.js";
import { deleteWhere } from "../state/tables.js";
import type { WindowObservations } from "./evaluate.js";

/** A binary property holds at most 64 KiB. */
const PART_BYTES = 60_000;
/** A transaction's body is at most 4 MiB; base64 makes each part about 80 KB. */
const PARTS_PER_TRANSACTION = 40;

const partKey = (index: number) => `part~${String(index).padStart(4, "0")}`;

export class StagedObservations {
  constructor(private readonly client: TableClient) {}

  /** Stores the window's observations; returns how many parts were written (kept on the run record). */
  async put(runId: string, observations: WindowObservations): Promise<number> {
    const packed = gzipSync(JSON.stringify(observations));
    const partitionKey = encodeKey(runId);
    const actions: TransactionAction[] = [];
    for (let offset = 0, index = 0; offset < packed.length || index === 0; offset += PART_BYTES, index++)
      actions.push(["upsert", { partitionKey, rowKey: partKey(index), data: packed.subarray(offset, offset + PART_BYTES) }, "Replace"]);
    for (let i = 0; i < actions.length; i += PARTS_PER_TRANSACTION)
      await this.client.submitTransaction(actions.slice(i, i + PARTS_PER_TRANSACTION));
    return actions.length;
  }

  async get(runId: string, parts: number): Promise<WindowObservations> {
    const pieces: Uint8Array[] = new Array<Uint8Array>(parts);
    const filter = odata`PartitionKey eq ${encodeKey(runId)}`;
    for await (const entity of this.client.listEntities<{ data: Uint8Array }>({ queryOptions: { filter } })) {
      const index = Number(entity.rowKey?.slice("part~".length));
      if (index < parts) pieces[index] = entity.data;
    }
    const missing = pieces.findIndex((p) => p === undefined);
    if (pieces.length !== parts || missing >= 0)
      throw new Error(`run ${runId}: staged observations are incomplete (part ${missing} of ${parts} missing)`);
    return JSON.parse(gunzipSync(Buffer.concat(pieces)).toString("utf8")) as WindowObservations;
  }

  /**
   * Deletes parts written before `before`, except those of runs `stillNeeded` says a resume will
   * read; returns how many. Parts are left behind by runs that crashed and never resumed.
   */
  async prune(before: number, stillNeeded: (runId: string) => Promise<boolean>): Promise<number> {
    const answers = new Map<string, Promise<boolean>>();
    const needed = (runId: string) => answers.get(runId) ?? answers.set(runId, stillNeeded(runId)).get(runId)!;
    return deleteWhere(this.client, odata`Timestamp lt ${new Date(before)}`, {
      mode: "transactions",
      keep: (row) => needed(decodeKey(row.partitionKey)),
    });
  }

  /** Deletes the `parts` written for a run (the count kept on its record). */
  async delete(runId: string, parts: number): Promise<void> {
    const partitionKey = encodeKey(runId);
    const actions: TransactionAction[] = Array.from({ length: parts }, (_, i) => ["delete", { partitionKey, rowKey: partKey(i) }]);
    for (let i = 0; i < actions.length; i += 100) await this.client.submitTransaction(actions.slice(i, i + 100));
  }
}
