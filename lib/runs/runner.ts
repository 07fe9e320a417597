/**
 * Runs hunts: picks the windows to look at, queries the source, scores every entity against its
 * baseline and the population, stores findings, applies the window to the baselines, puts alerts
 * on the queue and moves the watermark. Every step can be retried: a window is applied once.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { BaselineStore } from "../baselines/store.js";
import type { Observation, Prevalence } from "../baselines/model.js";
import { FindingPublisher } from "../findings/publisher.js";
import { FindingStore } from "../findings/store.js";
import { fingerprint, trimDetails, type Finding } from "../findings/index.js";
import { composeQuery, contextStart, durationMs, type QueryWindow } from "../hunts/catalog.js";
import type { Hunt } from "../hunts/schema.js";
import { toJsonRecords } from "../kql/index.js";
import type { Value } from "../kql/types.js";
import { scoreFinding } from "../scoring/index.js";
import type { Storage } from "../state/storage.js";
import type { QuerySource } from "../sources/types.js";
import { onDemandRunId, RunStore, scheduledRunId, type RunRecord } from "./store.js";

const DAY = 86_400_000;
export const DEFAULT_RETENTION_MS = 90 * DAY;

/** Findings below this score are not kept at all. */
export const MIN_FINDING_SCORE = 25;
/** At most this many findings per run are kept, highest scores first. */
export const MAX_FINDINGS_PER_RUN = 500;

/** A run's time window (epoch ms, end exclusive): the same one the hunt's query is bound to. */
export type Window = QueryWindow;

export interface HuntServices {
  source: QuerySource;
  baselines: BaselineStore;
  runs: RunStore;
  findings: FindingStore;
  publisher: FindingPublisher;
  /** Baselines not seen for this long are deleted (once a day, after the day's last window). */
  retentionMs?: number;
  /** Parameter overrides per hunt id (from settings). */
  parameters?: Record<string, Record<string, number | string | (number | string)[]>>;
  log?: (message: string) => void;
}

export function servicesFor(storage: Storage, source: QuerySource, extra: Partial<HuntServices> = {}): HuntServices {
  return {
    source,
    baselines: new BaselineStore(storage.table("baselines")),
    runs: new RunStore(storage.table("runs")),
    findings: new FindingStore(storage.table("findings")),
    publisher: new FindingPublisher(storage.queue("findings")),
    ...extra,
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

/** What a hunt needs of each result row: entity columns with a value, features as numbers. */
function huntRowSchema(hunt: Hunt) {
  const shape: Record<string, z.ZodType> = {};
  for (const column of hunt.entity.columns) shape[column] = z.union([z.string().min(1, "empty entity value"), z.number(), z.boolean()]);
  for (const feature of hunt.features) shape[feature.column] = z.number().nullable();
  return z.object(shape).loose();
}

function entityKeyOf(hunt: Hunt, row: Record<string, Value>): string {
  return hunt.entity.columns.map((c) => (row[c] === null || row[c] === undefined ? "" : String(row[c]))).join("|");
}

function asStrings(value: Value): string[] {
  if (Array.isArray(value)) return value.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
  if (value === null || value === undefined || value === "") return [];
  return [String(value)];
}

interface Scored {
  rows: number;
  findings: Finding[];
  observations: Observation[];
  prevalenceSeen: Map<string, string[]>;
  population: number;
  partial?: string;
}

async function queryAndScore(hunt: Hunt, window: Window, runId: string, services: HuntServices, createdAt: number): Promise<Scored> {
  if (!hunt.sources.includes(services.source.kind)) {
    throw new Error(`hunt '${hunt.id}' runs on ${hunt.sources.join(", ")}, not on ${services.source.kind} (its tables are not there)`);
  }
  const contextFrom = contextStart(hunt, window);
  const response = await services.source.query({
    query: composeQuery(hunt, window, services.parameters?.[hunt.id]),
    timespan: { start: contextFrom, end: window.end },
    queryId: runId,
  });
  const table = hunt.analyze
    ? hunt.analyze(response.table, { windowStart: window.start, windowEnd: window.end, contextStart: contextFrom })
    : response.table;
  const names = new Set(table.columns.map((c) => c.name));
  const required = [
    ...hunt.entity.columns,
    ...hunt.features.map((f) => f.column),
    ...(hunt.prevalence ? [...hunt.prevalence.value, ...hunt.prevalence.across] : []),
  ];
  const missing = required.filter((c) => !names.has(c));
  if (missing.length)
    throw new Error(
      `hunt '${hunt.id}': its query returned no column ${missing.map((m) => `'${m}'`).join(", ")} (needed for entities, features or prevalence)`,
    );
  // Rows from a source are outside input: check the columns the hunt keys and scores on.
  const rowSchema = huntRowSchema(hunt);
  const records: Record<string, Value>[] = [];
  let badRows = 0;
  let firstProblem = "";
  for (const record of toJsonRecords(table)) {
    const checked = rowSchema.safeParse(record);
    if (checked.success) records.push(record);
    else {
      badRows++;
      const issue = checked.error.issues[0];
      firstProblem ||= `${issue.path.join(".")}: ${issue.message} (got ${JSON.stringify(record[String(issue.path[0])])})`;
    }
  }
  if (badRows) services.log?.(`${hunt.id}: ${badRows} row(s) left out, e.g. ${firstProblem}`);

  // One observation per entity (a query may return an entity more than once; the first row wins).
  const byEntity = new Map<string, Record<string, Value>>();
  for (const row of records) {
    const key = entityKeyOf(hunt, row);
    if (!byEntity.has(key)) byEntity.set(key, row);
  }
  const keys = [...byEntity.keys()];
  const [baselines, huntState] = await Promise.all([
    services.baselines.getBaselines(hunt.id, keys),
    services.baselines.getHuntState(hunt.id),
  ]);

  const prevalenceSeen = new Map<string, string[]>();
  const valueKeyOf = (row: Record<string, Value>) => hunt.prevalence!.value.map((c) => String(row[c] ?? "")).join("|");
  const acrossOf = (row: Record<string, Value>) => hunt.prevalence!.across.map((c) => String(row[c] ?? "")).join("|");
  let population = huntState.population;
  let prevalence = new Map<string, Prevalence>();
  if (hunt.prevalence) {
    const acrossInWindow = new Set<string>();
    for (const row of byEntity.values()) {
      const valueKey = valueKeyOf(row);
      const across = acrossOf(row);
      acrossInWindow.add(across);
      const list = prevalenceSeen.get(valueKey) ?? [];
      if (!list.includes(across)) list.push(across);
      prevalenceSeen.set(valueKey, list);
    }
    population = Math.max(population, acrossInWindow.size);
    prevalence = await services.baselines.getPrevalence(hunt.id, [...prevalenceSeen.keys()]);
  }

  const observations: Observation[] = [];
  const findings: Finding[] = [];
  for (const [entityKey, row] of byEntity) {
    const features: Record<string, number> = {};
    for (const f of hunt.features) {
      const v = Number(row[f.column]);
      if (Number.isFinite(v)) features[f.column] = v;
    }
    const distinct: Record<string, string[]> = {};
    for (const d of hunt.distinct) distinct[d.column] = asStrings(row[d.column] ?? null);
    const firstSeen = Date.parse(String(row.FirstSeen ?? row.FirstFailure ?? "")) || window.start;
    const lastSeen = Date.parse(String(row.LastSeen ?? row.LastFailure ?? "")) || window.end;
    observations.push({ entityKey, features, distinct, firstSeen, lastSeen });

    const valueKey = hunt.prevalence ? valueKeyOf(row) : undefined;
    const score = scoreFinding({
      hunt,
      row,
      features,
      baseline: baselines.get(entityKey),
      huntState,
      prevalence: valueKey === undefined ? undefined : { valueKey, stats: prevalence.get(valueKey), population },
    });
    if (score.score < MIN_FINDING_SCORE) continue;
    findings.push({
      fingerprint: fingerprint(hunt.id, entityKey, window),
      huntId: hunt.id,
      huntTitle: hunt.titleFor ? hunt.titleFor(row) || hunt.title : hunt.title,
      runId,
      severity: hunt.severity,
      score: score.score,
      alert: score.score >= hunt.alertScore,
      entity: { type: hunt.entity.type, key: entityKey, values: Object.fromEntries(hunt.entity.columns.map((c) => [c, row[c]])) },
      window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
      reasons: score.reasons,
      signals: score.signals,
      mitre: { tactics: hunt.mitre.tactics, techniques: hunt.mitre.techniques },
      details: trimDetails(row),
      source: services.source.name,
      ...(response.partial ? { partial: response.partial } : {}),
      createdAt: new Date(createdAt).toISOString(),
    });
  }
  findings.sort((a, b) => b.score - a.score || a.entity.key.localeCompare(b.entity.key));
  const partial =
    [response.partial, badRows ? `${badRows} row(s) the hunt could not use were left out (${firstProblem})` : undefined]
      .filter(Boolean)
      .join("; ") || undefined;
  return { rows: records.length, findings: findings.slice(0, MAX_FINDINGS_PER_RUN), observations, prevalenceSeen, population, partial };
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

function summary(run: RunRecord, findings: readonly Finding[]): RunRecord {
  return {
    ...run,
    findings: findings.length,
    alerts: findings.filter((f) => f.alert).length,
    topFindings: findings.slice(0, 10).map((f) => ({ fingerprint: f.fingerprint, entity: f.entity.key, score: f.score })),
  };
}

/** One scheduled window, resumable: a retry picks up where the last attempt stopped. */
export async function runScheduledWindow(
  hunt: Hunt,
  window: Window,
  services: HuntServices,
  now: number,
): Promise<{ run: RunRecord; findings: Finding[] }> {
  const runId = scheduledRunId(hunt.id, window.end);
  const existing = await services.runs.get(runId);
  if (existing?.status === "succeeded") return { run: existing, findings: await services.findings.ofRun(runId, window.end) };

  let run: RunRecord;
  let findings: Finding[];
  let scored: Scored;
  if (existing?.status === "scored") {
    // Scored before a crash: reuse those findings (the baselines may already include this window),
    // and re-derive what to apply (observations are deterministic for the window).
    run = existing;
    findings = await services.findings.ofRun(runId, window.end);
    scored = await queryAndScore(hunt, window, runId, services, now);
  } else {
    run = newRun(hunt, "scheduled", runId, window, services, now);
    await services.runs.put(run);
    try {
      scored = await queryAndScore(hunt, window, runId, services, now);
    } catch (error) {
      await services.runs.put({ ...run, status: "failed", error: (error as Error).message, finishedAt: new Date().toISOString() });
      throw error;
    }
    findings = scored.findings;
    await services.findings.putAll(findings);
    run = summary(
      {
        ...run,
        status: "scored",
        rows: scored.rows,
        entities: scored.observations.length,
        ...(scored.partial ? { partial: scored.partial } : {}),
      },
      findings,
    );
    await services.runs.put(run);
  }

  const caps = Object.fromEntries(hunt.distinct.map((d) => [d.column, d.cap]));
  await services.baselines.applyObservations(hunt.id, scored.observations, window, caps);
  if (hunt.prevalence) await services.baselines.applyPrevalence(hunt.id, scored.prevalenceSeen, window.end);
  await services.baselines.applyHuntWindow(hunt.id, window.end, scored.population);
  await services.publisher.publish(findings.filter((f) => f.alert));
  run = { ...run, status: "succeeded", finishedAt: new Date().toISOString() };
  await services.runs.put(run);
  return { run, findings };
}

/** A scheduled run: every window from the watermark to now, in order. */
export async function runScheduled(
  hunt: Hunt,
  services: HuntServices,
  now: number,
): Promise<{ runs: RunRecord[]; findings: Finding[]; skipped: number }> {
  const watermark = await services.runs.getWatermark(hunt.id);
  const { windows, skipped } = planWindows(hunt, watermark?.end, now);
  if (skipped) services.log?.(`${hunt.id}: ${skipped} missed window(s) older than maxLookback ${hunt.maxLookback} skipped`);
  const runs: RunRecord[] = [];
  const findings: Finding[] = [];
  const retentionMs = services.retentionMs ?? DEFAULT_RETENTION_MS;
  let etag = watermark?.etag;
  for (const window of windows) {
    const result = await runScheduledWindow(hunt, window, services, now);
    runs.push(skipped && runs.length === 0 ? { ...result.run, skippedWindows: skipped } : result.run);
    findings.push(...result.findings);
    let moved = await services.runs.advanceWatermark(hunt.id, window.end, etag);
    if (moved === undefined) {
      // Another instance moved the watermark: continue from what it wrote.
      const fresh = await services.runs.getWatermark(hunt.id);
      if (fresh && fresh.end >= window.end) {
        etag = fresh.etag;
        continue;
      }
      moved = await services.runs.advanceWatermark(hunt.id, window.end, fresh?.etag);
      if (moved === undefined) throw new Error(`${hunt.id}: could not move the watermark to ${new Date(window.end).toISOString()}`);
    }
    etag = moved;
    if (window.end % DAY === 0) {
      const pruned = await services.baselines.prune(hunt.id, window.end - retentionMs);
      if (pruned) services.log?.(`${hunt.id}: pruned ${pruned} baseline(s) not seen for ${Math.round(retentionMs / DAY)} days`);
    }
  }
  return { runs, findings, skipped };
}

/** One line for a log: what a scheduled run did. */
export function describeScheduledRun(
  huntId: string,
  result: { runs: readonly RunRecord[]; findings: readonly Finding[]; skipped: number },
): string {
  return `${huntId}: ${result.runs.length} window(s), ${result.findings.filter((f) => f.alert).length} alert(s)${result.skipped ? `, ${result.skipped} skipped` : ""}`;
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
  let run = newRun(hunt, "on-demand", runId, options.window, services, now);
  let scored: Scored;
  try {
    scored = await queryAndScore(hunt, options.window, runId, services, now);
  } catch (error) {
    if (!options.dryRun)
      await services.runs.put({ ...run, status: "failed", error: (error as Error).message, finishedAt: new Date().toISOString() });
    throw error;
  }
  run = summary(
    {
      ...run,
      status: "succeeded",
      rows: scored.rows,
      entities: scored.observations.length,
      finishedAt: new Date().toISOString(),
      ...(scored.partial ? { partial: scored.partial } : {}),
    },
    scored.findings,
  );
  if (!options.dryRun) {
    await services.findings.putAll(scored.findings);
    await services.runs.put(run);
    if (options.notify) await services.publisher.publish(scored.findings.filter((f) => f.alert));
  }
  return { run, findings: scored.findings };
}
