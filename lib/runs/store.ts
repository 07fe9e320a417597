/**
 * Run state in Table Storage (table `<prefix>runs`):
 *   PartitionKey <hunt>  RowKey `watermark`        end of the last window applied (etag-guarded)
 *   PartitionKey <hunt>  RowKey `run~<when>`       one run: window, status, counts, errors
 * A scheduled run's id derives from its hunt and window, so a retry finds its own earlier record.
 */
import { odata, type TableClient } from "@azure/data-tables";
import { z } from "zod";
import { encodeKey } from "../state/keys.js";
import { getEntityOrUndefined, isConflict } from "../state/tables.js";

export const RunStatus = z.enum(["running", "scored", "succeeded", "failed"]);

export const RunRecordSchema = z.object({
  runId: z.string(),
  huntId: z.string(),
  kind: z.enum(["scheduled", "on-demand"]),
  status: RunStatus,
  window: z.object({ start: z.iso.datetime(), end: z.iso.datetime() }),
  source: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().optional(),
  rows: z.number().int().default(0),
  entities: z.number().int().default(0),
  findings: z.number().int().default(0),
  alerts: z.number().int().default(0),
  topFindings: z.array(z.object({ fingerprint: z.string(), entity: z.string(), score: z.number() })).default([]),
  partial: z.string().optional(),
  error: z.string().optional(),
  /** Windows skipped because the run was further behind than the hunt's maxLookback. */
  skippedWindows: z.number().int().default(0),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

function compactTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

export function scheduledRunId(huntId: string, windowEnd: number): string {
  return `${huntId}.${compactTime(windowEnd)}`;
}

export function onDemandRunId(huntId: string, now: number, nonce: string): string {
  return `${huntId}.${compactTime(now)}.adhoc-${nonce}`;
}

/** The hunt id is everything before the first dot (hunt ids are kebab-case, no dots). */
export function huntOfRun(runId: string): string {
  return runId.split(".")[0];
}

export class RunStore {
  constructor(private readonly client: TableClient) {}

  async getWatermark(huntId: string): Promise<{ end: number; etag: string } | undefined> {
    const entity = await getEntityOrUndefined<{ end: number }>(this.client, encodeKey(huntId), "watermark");
    return entity && { end: Number(entity.end), etag: entity.etag };
  }

  /**
   * Moves the watermark forward and returns its new etag; undefined when another run moved it
   * first (the caller re-reads).
   */
  async advanceWatermark(huntId: string, end: number, etag: string | undefined): Promise<string | undefined> {
    const entity = { partitionKey: encodeKey(huntId), rowKey: "watermark", end };
    try {
      const written = etag ? await this.client.updateEntity(entity, "Replace", { etag }) : await this.client.createEntity(entity);
      if (!written.etag) throw new Error(`${huntId}: the watermark write returned no etag`);
      return written.etag;
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  async put(run: RunRecord): Promise<void> {
    const record = RunRecordSchema.parse(run);
    await this.client.upsertEntity(
      {
        partitionKey: encodeKey(record.huntId),
        rowKey: `run~${encodeKey(record.runId)}`,
        json: JSON.stringify(record),
        startedAt: new Date(record.startedAt),
        status: record.status,
      },
      "Replace",
    );
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const entity = await getEntityOrUndefined<{ json: string }>(this.client, encodeKey(huntOfRun(runId)), `run~${encodeKey(runId)}`);
    return entity && RunRecordSchema.parse(JSON.parse(entity.json));
  }

  /** The most recent runs of a hunt, newest first. */
  async latest(huntId: string, limit = 1): Promise<RunRecord[]> {
    const filter = odata`PartitionKey eq ${encodeKey(huntId)} and RowKey ge 'run~' and RowKey lt 'run~~'`;
    const runs: RunRecord[] = [];
    for await (const entity of this.client.listEntities<{ json: string }>({ queryOptions: { filter } }))
      runs.push(RunRecordSchema.parse(JSON.parse(entity.json)));
    return runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, limit);
  }
}
