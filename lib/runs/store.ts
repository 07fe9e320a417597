/**
 * Run state in Table Storage (table `<prefix>runs`):
 *   PartitionKey <hunt>  RowKey `watermark`                   end of the last window applied (etag-guarded, only moves forward)
 *   PartitionKey <hunt>  RowKey `r~<inverted time>~<run id>`  one run: window, status, counts, errors, lease
 *   PartitionKey `~prune` RowKey `cursor`                     the step a prune stopped at when its time ran out
 * A scheduled run's id derives from its hunt and window, so a retry finds its own earlier record.
 * Row keys hold the run's time inverted, so the newest runs come first and "the latest run" reads
 * one entity, not the hunt's whole history.
 *
 * A scheduled window is owned by one run at a time: whoever creates its record (or takes over one
 * whose lease expired) holds a lease, and every later write of the record is conditional on the
 * etag that run last wrote. A second instance that finds the lease held leaves the window alone.
 *
 * A scored window's staged observations (lib/runs/staging.ts) ride on its record as binary
 * properties `staged0`, `staged1`, ... when they fit (RECORD_STAGED_PARTS), so marking a window
 * scored and keeping what it adds to the baselines is one write; the record that marks it
 * succeeded replaces them. That record and the watermark share the hunt's partition, so a window's
 * last write marks it succeeded and moves the watermark in one transaction (`finish`).
 */
import { odata, type TableClient } from "@azure/data-tables";
import { z } from "zod";
import { encodeKey } from "../state/keys.js";
import { deleteWhere, getEntityOrUndefined, isConflict, isLostRace, type TimeBudget } from "../state/tables.js";
import { submitTransaction, type TableAction } from "../state/transactions.js";

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
  /** Until when the run that wrote this record owns the window (scheduled runs). */
  leaseUntil: z.iso.datetime().optional(),
  /** Parts of the window's staged observations (written before the status becomes `scored`). */
  stagedParts: z.number().int().optional(),
  /** The staged parts are properties of this record, not rows of the staged table. */
  stagedInRecord: z.boolean().optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** Staged parts a record carries at most: an entity holds 1 MiB, a binary property 64 KiB. */
export const RECORD_STAGED_PARTS = 8;
const stagedProperty = (index: number) => `staged${index}`;

/** Ten thousand years of milliseconds: inverted times sort newest first and stay 15 digits. */
const TIME_CEILING = 99_999_999_999_999;

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

/** The time a run id carries (its window end, or when an on-demand run started). */
function timeOfRun(runId: string): number {
  const compact = runId.split(".")[1] ?? "";
  const m = compact.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : 0;
}

function runRowKey(runId: string): string {
  return `r~${String(TIME_CEILING - timeOfRun(runId)).padStart(15, "0")}~${encodeKey(runId)}`;
}

/** Another run holds the window's lease, or wrote the record since this run last did. */
export class LeaseLostError extends Error {}

/** A window claimed by a run: its record as written, that version's etag, and the staged parts the record carries (a scored window resuming). */
export type ClaimedWindow = { kind: "claimed"; run: RunRecord; etag: string; staged: Uint8Array[] };
export type Claim = ClaimedWindow | { kind: "done"; run: RunRecord } | { kind: "busy"; run: RunRecord };

type StoredRun = { json: string } & Record<string, unknown>;
/** Not a hunt's partition: encoded hunt ids never start with `~`. */
const PRUNE_PARTITION = "~prune";

export class RunStore {
  /** Per hunt, the watermark as last read or written here: an etag names one version, so its end is known without reading it again. */
  private readonly watermarks = new Map<string, { end: number; etag: string }>();

  constructor(private readonly client: TableClient) {}

  async getWatermark(huntId: string): Promise<{ end: number; etag: string } | undefined> {
    const entity = await getEntityOrUndefined<{ end: number }>(this.client, encodeKey(huntId), "watermark");
    const watermark = entity && { end: Number(entity.end), etag: entity.etag };
    if (watermark) this.watermarks.set(huntId, watermark);
    return watermark;
  }

  /**
   * Moves the watermark forward and returns its new etag; undefined when another run wrote it
   * first (the caller re-reads). It never moves backwards: a stalled instance that resumes with a
   * stale plan cannot undo what others applied.
   */
  async advanceWatermark(huntId: string, end: number, etag: string | undefined): Promise<string | undefined> {
    const entity = { partitionKey: encodeKey(huntId), rowKey: "watermark", end };
    try {
      if (etag) {
        // The write is conditional on `etag`, so only that version's end matters: known, or read.
        const known = this.watermarks.get(huntId);
        const current = known?.etag === etag ? known : await this.getWatermark(huntId);
        if (!current || current.etag !== etag || current.end >= end) return undefined;
      }
      const written = etag ? await this.client.updateEntity(entity, "Replace", { etag }) : await this.client.createEntity(entity);
      if (!written.etag) throw new Error(`${huntId}: the watermark write returned no etag`);
      this.watermarks.set(huntId, { end, etag: written.etag });
      return written.etag;
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  private entityOf(run: RunRecord, staged: readonly Uint8Array[] = []) {
    const record = RunRecordSchema.parse(run);
    if (staged.length > RECORD_STAGED_PARTS) throw new Error(`run ${run.runId}: ${staged.length} staged parts do not fit on its record`);
    return {
      partitionKey: encodeKey(record.huntId),
      rowKey: runRowKey(record.runId),
      json: JSON.stringify(record),
      startedAt: new Date(record.startedAt),
      status: record.status,
      ...Object.fromEntries(staged.map((part, i) => [stagedProperty(i), part])),
    };
  }

  /**
   * Writes a run record's fields unconditionally (on-demand runs, which nobody else writes); staged
   * parts already on the stored record stay.
   */
  async put(run: RunRecord): Promise<void> {
    await this.client.upsertEntity(this.entityOf(run), "Merge");
  }

  /**
   * Takes the window for `run` (a new record, status `running`, with its lease): creates the record,
   * or takes over one whose lease ran out. A succeeded window is `done`; a live lease is `busy`.
   * Creating comes first: a window is usually new, and then that is the only request.
   */
  async claim(run: RunRecord, now: number): Promise<Claim> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const written = await this.client.createEntity(this.entityOf(run));
        return { kind: "claimed", run, etag: written.etag!, staged: [] };
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      const existing = await this.getWithEtag(run.runId);
      if (!existing) continue;
      if (existing.run.status === "succeeded") return { kind: "done", run: existing.run };
      const leaseUntil = existing.run.leaseUntil ? Date.parse(existing.run.leaseUntil) : 0;
      if (leaseUntil > now && existing.run.status !== "failed") return { kind: "busy", run: existing.run };
      // The previous attempt crashed or failed: take the record over as it stands (its status says
      // how far it got, its staged parts stay with it), with a new lease.
      const takenOver: RunRecord = { ...existing.run, leaseUntil: run.leaseUntil, error: undefined };
      try {
        const etag = await this.update(takenOver, existing.etag, existing.staged);
        return { kind: "claimed", run: takenOver, etag, staged: existing.staged };
      } catch (error) {
        if (error instanceof LeaseLostError) continue;
        throw error;
      }
    }
    const current = await this.get(run.runId);
    return current?.status === "succeeded" ? { kind: "done", run: current } : { kind: "busy", run: current ?? run };
  }

  /**
   * Writes the record if nobody else has since `etag`; returns the new etag. The record keeps
   * exactly the `staged` parts given (none: what the stored record carried is gone).
   */
  async update(run: RunRecord, etag: string, staged: readonly Uint8Array[] = []): Promise<string> {
    try {
      const written = await this.client.updateEntity(this.entityOf(run, staged), "Replace", { etag });
      return written.etag!;
    } catch (error) {
      if (isLostRace(error)) throw new LeaseLostError(`run ${run.runId}: another instance took the window over`);
      throw error;
    }
  }

  /**
   * A window's last write: its record (`run`, written if nobody else has since `etag`) and the
   * watermark moved to `watermark.end` from the version `watermark.etag` (none: the first), in one
   * transaction, so a window costs one round trip fewer. Returns the watermark's new etag, or
   * undefined when it did not move (another run wrote it; the caller re-reads, as after
   * advanceWatermark). When the watermark is not known to be movable, or the transaction is refused,
   * the two writes go one after the other (update, then advanceWatermark), each as it would alone.
   */
  async finish(run: RunRecord, etag: string, watermark: { end: number; etag: string | undefined }): Promise<string | undefined> {
    return (await this.finishWith(run, etag, watermark)).watermark;
  }

  /**
   * `finish`, and in the same transaction the claim of the hunt's next window (`next`, a new record
   * with its lease), so a run going through several windows costs one round trip fewer for each.
   * When the transaction is refused (the next window's record exists already, or a write lost a
   * race) the window is finished as `finish` does on its own, and the next one is left to `claim`.
   */
  async finishAndClaim(
    run: RunRecord,
    etag: string,
    watermark: { end: number; etag: string | undefined },
    next: RunRecord,
  ): Promise<{ watermark: string | undefined; next?: ClaimedWindow }> {
    return this.finishWith(run, etag, watermark, next);
  }

  private async finishWith(
    run: RunRecord,
    etag: string,
    watermark: { end: number; etag: string | undefined },
    next?: RunRecord,
  ): Promise<{ watermark: string | undefined; next?: ClaimedWindow }> {
    const known = this.watermarks.get(run.huntId);
    const movable = watermark.etag === undefined ? known === undefined : known?.etag === watermark.etag && known.end < watermark.end;
    if (movable) {
      const entity = { partitionKey: encodeKey(run.huntId), rowKey: "watermark", end: watermark.end };
      try {
        const actions: TableAction[] = [
          ["update", this.entityOf(run), "Replace", { etag }],
          watermark.etag === undefined ? ["create", entity] : ["update", entity, "Replace", { etag: watermark.etag }],
        ];
        if (next) actions.push(["create", this.entityOf(next)]);
        const { subResponses } = await submitTransaction(this.client, actions);
        const written = subResponses[1].etag;
        if (!written) throw new Error(`${run.huntId}: the watermark write returned no etag`);
        this.watermarks.set(run.huntId, { end: watermark.end, etag: written });
        if (!next) return { watermark: written };
        const claimed = subResponses[2].etag;
        if (!claimed) throw new Error(`run ${next.runId}: its claim returned no etag`);
        return { watermark: written, next: { kind: "claimed", run: next, etag: claimed, staged: [] } };
      } catch (error) {
        // None of the writes happened: one of them lost a race, and alone each says which.
        if (!isLostRace(error)) throw error;
        // Most likely the next window's record exists (another run claimed it): finish this one in one transaction still.
        if (next) return this.finishWith(run, etag, watermark);
      }
    }
    await this.update(run, etag);
    return { watermark: await this.advanceWatermark(run.huntId, watermark.end, watermark.etag) };
  }

  private async getWithEtag(runId: string): Promise<{ run: RunRecord; etag: string; staged: Uint8Array[] } | undefined> {
    const entity = await getEntityOrUndefined<StoredRun>(this.client, encodeKey(huntOfRun(runId)), runRowKey(runId));
    if (!entity) return undefined;
    const run = RunRecordSchema.parse(JSON.parse(entity.json));
    const staged: Uint8Array[] = [];
    for (let i = 0; run.stagedInRecord && i < (run.stagedParts ?? 0); i++) {
      const part = entity[stagedProperty(i)];
      if (!(part instanceof Uint8Array)) break;
      staged.push(part);
    }
    return { run, etag: entity.etag, staged };
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    return (await this.getWithEtag(runId))?.run;
  }

  /** The most recent runs of a hunt, newest first: reads only as many records as asked for. */
  async latest(huntId: string, limit = 1): Promise<RunRecord[]> {
    const filter = odata`PartitionKey eq ${encodeKey(huntId)} and RowKey ge 'r~' and RowKey lt 'r~~'`;
    const runs: RunRecord[] = [];
    const pages = this.client.listEntities<{ json: string }>({ queryOptions: { filter } }).byPage({ maxPageSize: limit });
    for await (const page of pages) {
      for (const entity of page) if (runs.length < limit) runs.push(RunRecordSchema.parse(JSON.parse(entity.json)));
      if (runs.length >= limit) break;
    }
    return runs;
  }

  /** The step the last prune stopped at when its time budget ran out; undefined when it got through every step. */
  async getPruneCursor(): Promise<string | undefined> {
    const entity = await getEntityOrUndefined<{ step: string }>(this.client, PRUNE_PARTITION, "cursor");
    return typeof entity?.step === "string" ? entity.step : undefined;
  }

  /** Where the next prune starts (undefined: from the first step). Last writer wins: a prune that stopped anywhere is resumed. */
  async setPruneCursor(step: string | undefined): Promise<void> {
    if (step !== undefined) await this.client.upsertEntity({ partitionKey: PRUNE_PARTITION, rowKey: "cursor", step }, "Replace");
    else
      await this.client.deleteEntity(PRUNE_PARTITION, "cursor").catch((error: unknown) => {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      });
  }

  /** Deletes run records started before `before` (never a watermark); returns how many. */
  prune(before: number, budget?: TimeBudget): Promise<number> {
    const filter = odata`RowKey ge 'r~' and RowKey lt 'r~~' and startedAt lt ${new Date(before)}`;
    // A window behind its hunt's watermark is never planned again, so nobody writes these records.
    return deleteWhere(this.client, filter, { mode: "transactions", budget });
  }
}
