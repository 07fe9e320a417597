/**
 * Evaluating one window of one hunt, as named steps: query the source, check the columns and
 * rows it returned, keep one row per entity, read what is remembered about those entities, score
 * each one and build its finding. The result also holds what the window adds to the baselines,
 * so a resumed run can apply it without asking the source again.
 */
import { z } from "zod";
import type { Observation, Prevalence } from "../baselines/model.js";
import type { BaselineStore } from "../baselines/store.js";
import { buildFinding, byScore, type Finding } from "../findings/finding.js";
import { composeQuery, contextStart, type QueryWindow } from "../hunts/catalog.js";
import type { Hunt } from "../hunts/schema.js";
import { toJsonRecords } from "../kql/index.js";
import type { Table, Value } from "../kql/types.js";
import type { Logger } from "../log.js";
import { scoreFinding } from "../scoring/index.js";
import type { QuerySource } from "../sources/types.js";

/** Findings below this score are not kept at all. */
export const MIN_FINDING_SCORE = 25;
/** At most this many findings per run are kept, highest scores first. */
export const MAX_FINDINGS_PER_RUN = 500;

export type EntityRow = Record<string, Value>;
export type ParameterOverrides = Record<string, number | string | (number | string)[]>;

/** What one window adds to the baselines: stored with the run until it is applied. */
export interface WindowObservations {
  observations: Observation[];
  /** For hunts with prevalence: each value and the `across` values (e.g. devices) that showed it. */
  prevalenceSeen: [string, string[]][];
  /** Distinct `across` values seen in the window, or remembered from earlier windows if more. */
  population: number;
}

export interface WindowEvaluation extends WindowObservations {
  rows: number;
  entities: number;
  findings: Finding[];
  partial?: string;
}

export interface EvaluateOptions {
  source: QuerySource;
  baselines: BaselineStore;
  parameters?: ParameterOverrides;
  log?: Logger;
}

/** Step 1: the hunt's query over its window (and context), post-processed by its analyzer. */
export async function queryWindow(
  hunt: Hunt,
  window: QueryWindow,
  runId: string,
  source: QuerySource,
  parameters?: ParameterOverrides,
): Promise<{ table: Table; partial?: string }> {
  if (!hunt.sources.includes(source.kind)) {
    throw new Error(`hunt '${hunt.id}' runs on ${hunt.sources.join(", ")}, not on ${source.kind} (its tables are not there)`);
  }
  const contextFrom = contextStart(hunt, window);
  const response = await source.query({
    query: composeQuery(hunt, window, parameters),
    timespan: { start: contextFrom, end: window.end },
    queryId: runId,
  });
  const table = hunt.analyze
    ? hunt.analyze(response.table, { windowStart: window.start, windowEnd: window.end, contextStart: contextFrom })
    : response.table;
  return { table, partial: response.partial };
}

/** Step 2: the query must return every column the hunt keys, scores and counts prevalence on. */
export function requireColumns(hunt: Hunt, table: Table): void {
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
}

/** What a hunt needs of each result row: entity columns with a value, features as numbers. */
function huntRowSchema(hunt: Hunt) {
  const shape: Record<string, z.ZodType> = {};
  for (const column of hunt.entity.columns) shape[column] = z.union([z.string().min(1, "empty entity value"), z.number(), z.boolean()]);
  for (const feature of hunt.features) shape[feature.column] = z.number().nullable();
  return z.object(shape).loose();
}

/** A result cell as text for keys: strings as they are, null as empty, arrays and bags as JSON. */
function cellText(value: Value | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function entityKeyOf(hunt: Hunt, row: EntityRow): string {
  return hunt.entity.columns.map((c) => cellText(row[c])).join("|");
}

/**
 * Step 3: rows from a source are outside input. Rows the hunt cannot use are left out and
 * counted; an entity returned more than once keeps its first row.
 */
export function entityRows(hunt: Hunt, table: Table): { byEntity: Map<string, EntityRow>; rows: number; problem?: string } {
  const rowSchema = huntRowSchema(hunt);
  const byEntity = new Map<string, EntityRow>();
  let rows = 0;
  let badRows = 0;
  let firstProblem = "";
  for (const record of toJsonRecords(table)) {
    const checked = rowSchema.safeParse(record);
    if (!checked.success) {
      badRows++;
      const issue = checked.error.issues[0];
      firstProblem ||= `${issue.path.join(".")}: ${issue.message} (got ${JSON.stringify(record[String(issue.path[0])])})`;
      continue;
    }
    rows++;
    const key = entityKeyOf(hunt, record);
    if (!byEntity.has(key)) byEntity.set(key, record);
  }
  return { byEntity, rows, ...(badRows ? { problem: `${badRows} row(s) the hunt could not use were left out (${firstProblem})` } : {}) };
}

function asStrings(value: Value): string[] {
  if (Array.isArray(value)) return value.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
  const text = cellText(value);
  return text ? [text] : [];
}

function firstTime(row: EntityRow, columns: readonly string[]): number | undefined {
  for (const column of columns) {
    const ms = Date.parse(cellText(row[column]));
    if (Number.isFinite(ms)) return ms;
  }
  return undefined;
}

/** Step 4: what the window says about one entity, as its baseline will remember it. */
export function observe(hunt: Hunt, entityKey: string, row: EntityRow, window: QueryWindow): Observation {
  const features: Record<string, number> = {};
  for (const f of hunt.features) {
    const v = Number(row[f.column]);
    if (Number.isFinite(v)) features[f.column] = v;
  }
  const distinct: Record<string, string[]> = {};
  for (const d of hunt.distinct) distinct[d.column] = asStrings(row[d.column] ?? null);
  return {
    entityKey,
    features,
    distinct,
    firstSeen: firstTime(row, hunt.activity.first) ?? window.start,
    lastSeen: firstTime(row, hunt.activity.last) ?? window.end,
  };
}

/** The prevalence value a row shows (e.g. a remote endpoint) and what it is counted across (e.g. a device). */
export function prevalenceKeys(hunt: Hunt, row: EntityRow): { value: string; across: string } | undefined {
  if (!hunt.prevalence) return undefined;
  return {
    value: hunt.prevalence.value.map((c) => cellText(row[c])).join("|"),
    across: hunt.prevalence.across.map((c) => cellText(row[c])).join("|"),
  };
}

/** Step 5: which `across` values showed each prevalence value in this window. */
export function prevalenceInWindow(hunt: Hunt, rows: Iterable<EntityRow>): { seen: Map<string, string[]>; acrossCount: number } {
  const seen = new Map<string, string[]>();
  const across = new Set<string>();
  for (const row of rows) {
    const keys = prevalenceKeys(hunt, row);
    if (!keys) continue;
    across.add(keys.across);
    const list = seen.get(keys.value) ?? [];
    if (!list.includes(keys.across)) list.push(keys.across);
    seen.set(keys.value, list);
  }
  return { seen, acrossCount: across.size };
}

/** Every step for one window: the findings (highest first) and what the window adds to the baselines. */
export async function evaluateWindow(
  hunt: Hunt,
  window: QueryWindow,
  runId: string,
  options: EvaluateOptions,
  createdAt: number,
): Promise<WindowEvaluation> {
  const { table, partial: sourcePartial } = await queryWindow(hunt, window, runId, options.source, options.parameters);
  requireColumns(hunt, table);
  const { byEntity, rows, problem } = entityRows(hunt, table);
  if (problem) options.log?.warn(`${hunt.id}: ${problem}`, { huntId: hunt.id, runId });

  const keys = [...byEntity.keys()];
  const [baselines, huntState] = await Promise.all([
    options.baselines.getBaselines(hunt.id, keys),
    options.baselines.getHuntState(hunt.id),
  ]);
  const { seen, acrossCount } = prevalenceInWindow(hunt, byEntity.values());
  const population = Math.max(huntState.population, acrossCount);
  const prevalence = hunt.prevalence ? await options.baselines.getPrevalence(hunt.id, [...seen.keys()]) : new Map<string, Prevalence>();

  const partial = [sourcePartial, problem].filter(Boolean).join("; ") || undefined;
  const observations: Observation[] = [];
  const findings: Finding[] = [];
  for (const [entityKey, row] of byEntity) {
    const observation = observe(hunt, entityKey, row, window);
    observations.push(observation);
    const valueKey = prevalenceKeys(hunt, row)?.value;
    const score = scoreFinding({
      hunt,
      row,
      features: observation.features,
      baseline: baselines.get(entityKey),
      huntState,
      prevalence: valueKey === undefined ? undefined : { valueKey, stats: prevalence.get(valueKey), population },
    });
    if (score.score < MIN_FINDING_SCORE) continue;
    findings.push(
      buildFinding({ hunt, runId, window, entityKey, row, score, source: options.source.name, partial: sourcePartial, createdAt }),
    );
  }
  findings.sort(byScore);
  return {
    rows,
    entities: observations.length,
    findings: findings.slice(0, MAX_FINDINGS_PER_RUN),
    observations,
    prevalenceSeen: [...seen],
    population,
    ...(partial ? { partial } : {}),
  };
}
