/**
 * Runs hunts. A scheduled run plans the windows from the watermark to now; each window is claimed
 * (one run at a time), evaluated (lib/runs/evaluate.ts), stored with what it adds to the
 * baselines, applied to the baselines, published, and the watermark moves on. Every step can be
 * retried: a window is applied once and never re-scored against baselines that include it.
 */
import { randomBytes } from "node:crypto";
import { BaselineStore } from "../baselines/store.js";
import type { Finding } from "../findings/finding.js";
import { FindingStore } from "../findings/store.js";
import { durationMs, type QueryWindow } from "../hunts/catalog.js";
import type { Hunt } from "../hunts/schema.js";
import { ExceptionStore } from "../exceptions/store.js";
import { IncidentStore } from "../incidents/store.js";
import { NoticePublisher } from "../notify/publisher.js";
import { silentLogger, type Logger } from "../log.js";
import type { Storage } from "../state/storage.js";
import type { QuerySource } from "../sources/types.js";
import { evaluateWindow, peersStateId, type ParameterOverrides, type WindowEvaluation, type WindowObservations } from "./evaluate.js";
import { packObservations, StagedObservations, unpackObservations } from "./staging.js";
import {
  LeaseLostError,
  onDemandRunId,
  RECORD_STAGED_PARTS,
  RunStore,
  scheduledRunId,
  type ClaimedWindow,
  type RunRecord,
} from "./store.js";

export { MAX_FINDINGS_PER_RUN, MIN_FINDING_SCORE } from "./evaluate.js";

/** How long a claimed window is owned without a write; the Functions timeout is 10 minutes. */
export const WINDOW_LEASE_MS = 10 * 60_000;

/** Until when a window claimed or written now is owned. */
const lease = () => new Date(Date.now() + WINDOW_LEASE_MS).toISOString();

/** A run's time window (epoch ms, end exclusive): the same one the hunt's query is bound to. */
export type Window = QueryWindow;

export interface HuntServices {
  source: QuerySource;
  baselines: BaselineStore;
  runs: RunStore;
  findings: FindingStore;
  staged: StagedObservations;
  incidents: IncidentStore;
  exceptions: ExceptionStore;
  publisher: NoticePublisher;
  /** Parameter overrides per hunt id (from settings). */
  parameters?: Record<string, ParameterOverrides>;
  log: Logger;
  /** A replay's order for alerts of hunts run side by side (see AlertOrder); none in production, where timers order them. */
  alertOrder?: AlertOrder;
}

/**
 * The order in which alerts of hunts run side by side join incidents (the only step hunts share): a
 * replay gives each hunt one, so the result does not depend on which hunt computes faster.
 */
export interface AlertOrder {
  /** The windows this scheduled run will go through, in order (told before the first). */
  planned(windows: readonly Window[]): void;
  /** Resolves once this window's alerts may join incidents. */
  turn(window: Window): Promise<void>;
  /** The window is done (its alerts, if it had any, have joined), or left to another instance. */
  done(window: Window): void;
}

export function servicesFor(storage: Storage, source: QuerySource, extra: Partial<Omit<HuntServices, "source">> = {}): HuntServices {
  // Only the stores `extra` does not bring are made here.
  return {
    ...extra,
    source,
    baselines: extra.baselines ?? new BaselineStore(storage.table("baselines")),
    runs: extra.runs ?? new RunStore(storage.table("runs")),
    findings: extra.findings ?? new FindingStore(storage.table("findings")),
    staged: extra.staged ?? new StagedObservations(storage.table("staged")),
    incidents: extra.incidents ?? new IncidentStore(storage.table("incidents")),
    exceptions: extra.exceptions ?? new ExceptionStore(storage.table("exceptions")),
    publisher: extra.publisher ?? new NoticePublisher(storage.queue("findings")),
    log: extra.log ?? silentLogger,
  };
}

/**
 * The windows a scheduled run covers: whole `lookback` periods aligned to the UTC epoch, from the
 * watermark up to now, but no further back than `maxLookback` (older missed windows are skipped
 * and counted).
 */
export function planWindows(hunt: Hunt, watermark: number | undefined, now: number): { windows: Window[]; skipped: number } {
  const length = durationMs(hunt.lookback);
  const lastEnd = Math.floor(now / length) * length;
  let start = watermark ?? lastEnd - length;
  const maxWindows = Math.max(1, Math.floor(durationMs(hunt.maxLookback) / length));
  const behind = Math.floor((lastEnd - start) / length);
  let skipped = 0;
  if (behind > maxWindows) {
    skipped = behind - maxWindows;
    start += skipped * length;
  }
  const windows: Window[] = [];
  for (let end = start + length; end <= lastEnd; end += length) windows.push({ start: end - length, end });
  return { windows, skipped };
}

function newRun(hunt: Hunt, kind: RunRecord["kind"], runId: string, window: Window, services: HuntServices, now: number): RunRecord {
  return {
    runId,
    huntId: hunt.id,
    kind,
    status: "running",
    window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
    source: services.source.name,
    startedAt: new Date(now).toISOString(),
    rows: 0,
    entities: 0,
    findings: 0,
    alerts: 0,
    topFindings: [],
    skippedWindows: 0,
  };
}

/** The run record once its window is evaluated: counts and the top findings. */
function withEvaluation(run: RunRecord, evaluation: WindowEvaluation): RunRecord {
  return {
    ...run,
    rows: evaluation.rows,
    entities: evaluation.entities,
    findings: evaluation.findings.length,
    alerts: evaluation.findings.filter((f) => f.alert).length,
    topFindings: evaluation.findings.slice(0, 10).map((f) => ({ fingerprint: f.fingerprint, entity: f.entity.key, score: f.score })),
    ...(evaluation.partial ? { partial: evaluation.partial } : {}),
  };
}

async function evaluate(hunt: Hunt, window: Window, runId: string, services: HuntServices, now: number): Promise<WindowEvaluation> {
  return evaluateWindow(
    hunt,
    window,
    runId,
    {
      source: services.source,
      baselines: services.baselines,
      exceptions: await services.exceptions.list(now),
      parameters: services.parameters?.[hunt.id],
      log: services.log,
    },
    now,
  );
}

/**
 * Puts the alerts in incidents, stores them with their incident ids and queues the notices. Safe
 * to repeat: assignment is idempotent and the notifier delivers each notice once.
 */
async function raiseAlerts(findings: Finding[], runId: string, services: HuntServices, now: number, window?: Window): Promise<Finding[]> {
  const alerts = findings.filter((f) => f.alert);
  if (!alerts.length) return findings;
  if (window) await services.alertOrder?.turn(window);
  const assigned = await services.incidents.assign(alerts, runId, now);
  const byFingerprint = new Map(assigned.alerts.map((f) => [f.fingerprint, f]));
  const updated = findings.map((f) => byFingerprint.get(f.fingerprint) ?? f);
  await services.findings.putAll(assigned.alerts);
  await services.publisher.publish(assigned.notices);
  return updated;
}

/** Adds the window to the baselines: idempotent per entity and window, so a retry applies nothing twice. */
async function applyWindow(hunt: Hunt, window: Window, observed: WindowObservations, services: HuntServices): Promise<void> {
  const caps = Object.fromEntries(hunt.distinct.map((d) => [d.column, d.cap]));
  // Side by side, one round trip instead of up to four: each lives in partitions of its own and is
  // applied once whatever else a crash left applied (it checks its own last window), so a retry
  // finishes whichever did not land. All are settled before a failure is thrown: none is still
  // being written when the window is given up.
  const outcomes = await Promise.allSettled([
    services.baselines.applyObservations(hunt.id, observed.observations, window, caps),
    hunt.prevalence && services.baselines.applyPrevalence(hunt.id, new Map(observed.prevalenceSeen), window.end),
    observed.peersSeen && services.baselines.applyPrevalence(peersStateId(hunt.id), new Map(observed.peersSeen), window.end),
    services.baselines.applyHuntWindow(hunt.id, window.end, observed.population),
  ]);
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
}

/**
 * One structured line per finished window, the contract the hunt-health workbook and alert rules
 * read (infra/modules/hunt-health.bicep): hunt, run, window, counts, duration, partial, status.
 */
export function logRun(run: RunRecord, log: Logger, durationMs: number): void {
  const properties = {
    huntId: run.huntId,
    runId: run.runId,
    status: run.status === "failed" ? "failed" : "succeeded",
    windowStart: run.window.start,
    windowEnd: run.window.end,
    rows: run.rows,
    entities: run.entities,
    findings: run.findings,
    alerts: run.alerts,
    durationMs,
    partial: run.partial ?? "",
  };
  if (run.status === "failed") log.error(`hunt run ${run.runId} failed: ${run.error ?? ""}`, properties);
  else
    log.info(
      `hunt run ${run.runId}: ${run.rows} rows, ${run.entities} entities, ${run.findings} findings, ${run.alerts} alerts`,
      properties,
    );
}

/** A window run to its end, or one another instance holds (`busy`). */
export type WindowResult = WindowDone | { busy: RunRecord };

interface WindowDone {
  run: RunRecord;
  findings: Finding[];
  /** Set when this run moved the watermark with its last write: the new etag, or undefined when another run had moved it. */
  watermark?: { etag: string | undefined };
  /** The next window, when that write also claimed it. */
  next?: ClaimedWindow;
}

/** How a window of a scheduled run goes on from the one before: its claim, made by that one's last write, and the window after it. */
export interface WindowChain {
  claimed?: ClaimedWindow;
  next?: Window;
}

/** A new record for a scheduled window, with its lease: what claiming the window writes. */
function scheduledRun(hunt: Hunt, window: Window, services: HuntServices, now: number): RunRecord {
  return { ...newRun(hunt, "scheduled", scheduledRunId(hunt.id, window.end), window, services, now), leaseUntil: lease() };
}

/**
 * One scheduled window, resumable: a retry picks up where the last attempt stopped. Returns
 * `busy` when another instance holds the window. Given the watermark the caller read (its etag, or
 * undefined for none yet), the window's last write also moves it to the window's end. In a run
 * of several windows (`chain`), that write also claims the next window when it can, and the next
 * window starts from that claim.
 */
export async function runScheduledWindow(
  hunt: Hunt,
  window: Window,
  services: HuntServices,
  now: number,
  watermark?: { etag: string | undefined },
  chain: WindowChain = {},
): Promise<WindowResult> {
  const startedAt = Date.now();
  const runId = scheduledRunId(hunt.id, window.end);
  const claim =
    chain.claimed?.run.runId === runId ? chain.claimed : await services.runs.claim(scheduledRun(hunt, window, services, now), Date.now());
  if (claim.kind === "done") return { run: claim.run, findings: await services.findings.ofRun(runId, window.end) };
  if (claim.kind === "busy") return { busy: claim.run };

  // Holding the lease, this run is the hunt's only baseline writer: the store may answer from memory.
  await services.baselines.hold(hunt.id);
  let finished = false;
  try {
    const result = await runClaimedWindow(hunt, window, claim, services, now, startedAt, watermark, chain.next);
    finished = true;
    return result;
  } finally {
    services.baselines.release(hunt.id, finished);
  }
}

async function runClaimedWindow(
  hunt: Hunt,
  window: Window,
  claim: ClaimedWindow,
  services: HuntServices,
  now: number,
  startedAt: number,
  watermark: { etag: string | undefined } | undefined,
  next: Window | undefined,
): Promise<WindowDone> {
  let { run, etag } = claim;
  const runId = run.runId;
  let findings: Finding[];
  let observed: WindowObservations;
  if (run.status === "scored" && run.stagedParts !== undefined) {
    // Scored before a crash: the stored findings and observations stand; the source is not asked again.
    findings = await services.findings.ofRun(runId, window.end);
    observed = run.stagedInRecord
      ? unpackObservations(runId, claim.staged, run.stagedParts)
      : await services.staged.get(runId, run.stagedParts);
  } else {
    let evaluation: WindowEvaluation;
    try {
      evaluation = await evaluate(hunt, window, runId, services, now);
    } catch (error) {
      const failed: RunRecord = { ...run, status: "failed", error: (error as Error).message, finishedAt: new Date().toISOString() };
      await services.runs.update(failed, etag);
      logRun(failed, services.log, Date.now() - startedAt);
      throw error;
    }
    findings = evaluation.findings;
    observed = evaluation;
    // Small windows' observations go on the record in the write that marks it scored; larger ones to the staged table first.
    // The findings are stored meanwhile: both must land before the record says scored, and neither needs the other.
    const [parts] = await Promise.all([
      packObservations(evaluation).then(async (packed) => {
        if (packed.length > RECORD_STAGED_PARTS) await services.staged.put(runId, packed);
        return packed;
      }),
      services.findings.putAll(findings),
    ]);
    const inRecord = parts.length <= RECORD_STAGED_PARTS;
    run = {
      ...withEvaluation(run, evaluation),
      status: "scored",
      stagedParts: parts.length,
      stagedInRecord: inRecord || undefined,
      leaseUntil: lease(),
    };
    etag = await services.runs.update(run, etag, inRecord ? parts : []);
  }

  await applyWindow(hunt, window, observed, services);
  findings = await raiseAlerts(findings, runId, services, now, window);
  const { stagedParts, stagedInRecord } = run;
  run = {
    ...run,
    status: "succeeded",
    finishedAt: new Date().toISOString(),
    leaseUntil: undefined,
    stagedParts: undefined,
    stagedInRecord: undefined,
  };
  // Replacing the record drops the parts it carried; the staged table's are deleted.
  let moved: { etag: string | undefined } | undefined;
  let claimedNext: ClaimedWindow | undefined;
  if (watermark && next) {
    const finished = await services.runs.finishAndClaim(
      run,
      etag,
      { end: window.end, etag: watermark.etag },
      scheduledRun(hunt, next, services, now),
    );
    moved = { etag: finished.watermark };
    claimedNext = finished.next;
  } else if (watermark) moved = { etag: await services.runs.finish(run, etag, { end: window.end, etag: watermark.etag }) };
  else await services.runs.update(run, etag);
  if (stagedParts && !stagedInRecord) await services.staged.delete(runId, stagedParts);
  logRun(run, services.log, Date.now() - startedAt);
  return { run, findings, ...(moved ? { watermark: moved } : {}), ...(claimedNext ? { next: claimedNext } : {}) };
}

export interface ScheduledRunResult {
  runs: RunRecord[];
  findings: Finding[];
  skipped: number;
  /** Set when another instance held a window: this run stopped there and left the rest to it. */
  busy?: string;
}

/** A scheduled run: every window from the watermark to now, in order. */
export async function runScheduled(hunt: Hunt, services: HuntServices, now: number): Promise<ScheduledRunResult> {
  const watermark = await services.runs.getWatermark(hunt.id);
  const { windows, skipped } = planWindows(hunt, watermark?.end, now);
  if (skipped)
    services.log.warn(`${hunt.id}: ${skipped} missed window(s) older than maxLookback ${hunt.maxLookback} skipped`, {
      huntId: hunt.id,
      skippedWindows: skipped,
    });
  const result: ScheduledRunResult = { runs: [], findings: [], skipped };
  services.alertOrder?.planned(windows);
  let applied = watermark?.end ?? -Infinity;
  let etag = watermark?.etag;
  let claimed: ClaimedWindow | undefined;
  for (const [i, window] of windows.entries()) {
    // Another instance moved the watermark past this window while this one waited: its plan is stale.
    if (window.end <= applied) {
      services.alertOrder?.done(window);
      continue;
    }
    let outcome: WindowResult;
    try {
      outcome = await runScheduledWindow(hunt, window, services, now, { etag }, { claimed, next: windows[i + 1] });
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      outcome = { busy: (await services.runs.get(scheduledRunId(hunt.id, window.end)))! };
    }
    if ("busy" in outcome) {
      result.busy = `window ending ${outcome.busy.window.end} is being run by another instance`;
      services.log.info(`${hunt.id}: ${result.busy}; leaving it and later windows to it`, { huntId: hunt.id, runId: outcome.busy.runId });
      break;
    }
    result.runs.push(skipped && result.runs.length === 0 ? { ...outcome.run, skippedWindows: skipped } : outcome.run);
    result.findings.push(...outcome.findings);
    services.alertOrder?.done(window);
    claimed = outcome.next;
    // Moved with the window's last write, unless the window was done before (then it is moved here).
    const moved = outcome.watermark ? outcome.watermark.etag : await services.runs.advanceWatermark(hunt.id, window.end, etag);
    if (moved === undefined) {
      // Someone else wrote the watermark: re-read it, and only move it if it is still behind.
      const fresh = await services.runs.getWatermark(hunt.id);
      applied = fresh?.end ?? applied;
      etag = fresh?.etag;
      if (applied < window.end) {
        etag = await services.runs.advanceWatermark(hunt.id, window.end, etag);
        if (etag === undefined) throw new Error(`${hunt.id}: could not move the watermark to ${new Date(window.end).toISOString()}`);
        applied = window.end;
      }
    } else {
      etag = moved;
      applied = window.end;
    }
  }
  return result;
}

/** One line for a log: what a scheduled run did. */
export function describeScheduledRun(huntId: string, result: ScheduledRunResult): string {
  return `${huntId}: ${result.runs.length} window(s), ${result.findings.filter((f) => f.alert).length} alert(s)${result.skipped ? `, ${result.skipped} skipped` : ""}${result.busy ? `; ${result.busy}` : ""}`;
}

export interface OnDemandOptions {
  window: Window;
  /** Do not store the run or its findings, and notify nobody. */
  dryRun?: boolean;
  /** Put alerting findings on the queue. */
  notify?: boolean;
}

/**
 * An on-demand run: scores a window against the baselines without changing them (a
 * responder's look at any time range must not skew what is normal).
 */
export async function runOnDemand(
  hunt: Hunt,
  services: HuntServices,
  options: OnDemandOptions,
  now: number,
): Promise<{ run: RunRecord; findings: Finding[] }> {
  const runId = onDemandRunId(hunt.id, now, randomBytes(3).toString("hex"));
  const started = newRun(hunt, "on-demand", runId, options.window, services, now);
  let evaluation: WindowEvaluation;
  try {
    evaluation = await evaluate(hunt, options.window, runId, services, now);
  } catch (error) {
    if (!options.dryRun)
      await services.runs.put({ ...started, status: "failed", error: (error as Error).message, finishedAt: new Date().toISOString() });
    throw error;
  }
  const run: RunRecord = { ...withEvaluation(started, evaluation), status: "succeeded", finishedAt: new Date().toISOString() };
  let findings = evaluation.findings;
  if (!options.dryRun) {
    await services.findings.putAll(findings);
    await services.runs.put(run);
    if (options.notify) findings = await raiseAlerts(findings, runId, services, now);
  }
  return { run, findings };
}
