/**
 * Evaluating one window of one hunt, as named steps: query the source, check the columns and
 * rows it returned, keep one row per entity, read what is remembered about those entities, score
 * each one and build its finding. The result also holds what the window adds to the baselines,
 * so a resumed run can apply it without asking the source again.
 */
import { z } from "zod";
import type { Observation, Prevalence } from "../baselines/model.js";
import type { BaselineStore } from "../baselines/store.js";
import { buildFinding, byScore, type Finding, type FindingInput } from "../findings/finding.js";
import { composeQuery, contextStart, type QueryWindow } from "../hunts/catalog.js";
import type { Hunt, ParameterValue } from "../hunts/schema.js";
import { toJsonRecords } from "../kql/index.js";
import type { Table, Value } from "../kql/types.js";
import type { Logger } from "../log.js";
import {
  NOTABLE_Z,
  isRareValue,
  peersReachNew,
  scoreFinding,
  valueSpread,
  Z_SCALE,
  type PeerNovelty,
  type PrevalenceContext,
  type Score,
} from "../scoring/index.js";
import type { QuerySource } from "../sources/types.js";
import { applyException, exceptionFor, type Exception } from "../exceptions/exception.js";

/**
 * Findings below this score are not kept at all, except a threshold hit the scoring explained (usual
 * for the entity, nothing new, expected): that goes to the digest whatever it scores, saying why.
 */
export const MIN_FINDING_SCORE = 25;
/** At most this many findings per run are kept, highest scores first. */
export const MAX_FINDINGS_PER_RUN = 500;

export type EntityRow = Record<string, Value>;
export type ParameterOverrides = Record<string, ParameterValue>;

/** Fleet-wide changes are digest findings with this score: below any alert, above the floor. */
export const FLEET_SCORE = 40;
/** Up to this many entities are named on a fleet-wide finding. */
const FLEET_SAMPLE = 10;

/** Up to this many entities are listed on a finding folded from a source's new values. */
const FOLD_MEMBERS = 100;

/** Where peer counts are remembered: beside the hunt's own prevalence, under their own name. */
export const peersStateId = (huntId: string) => `${huntId}~peers`;

/** What one window adds to the baselines: stored with the run until it is applied. */
export interface WindowObservations {
  observations: Observation[];
  /** For hunts with prevalence: each value and the `across` values (e.g. devices) that showed it. */
  prevalenceSeen: [string, string[]][];
  /** For hunts with peers: the same for the peer behaviour. */
  peersSeen?: [string, string[]][];
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
  /** Active exceptions: findings they cover are kept but never alert. */
  exceptions?: readonly Exception[];
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
    ...(hunt.peers ? [...hunt.peers.value, ...hunt.peers.across] : []),
  ];
  const missing = [...new Set(required.filter((c) => !names.has(c)))];
  if (missing.length)
    throw new Error(
      `hunt '${hunt.id}': its query returned no column ${missing.map((m) => `'${m}'`).join(", ")} (needed for entities, features, prevalence or peers)`,
    );
}

/** What a hunt needs of each result row: entity columns with a value, features as numbers. */
function huntRowSchema(hunt: Hunt) {
  let schema = rowSchemas.get(hunt);
  if (!schema) {
    const shape: Record<string, z.ZodType> = {};
    for (const column of hunt.entity.columns) shape[column] = z.union([z.string().min(1, "empty entity value"), z.number(), z.boolean()]);
    for (const feature of hunt.features) shape[feature.column] = z.number().nullable();
    // Only checked, never used as parsed: the other columns need not be copied into the result (what `loose` does).
    rowSchemas.set(hunt, (schema = z.object(shape)));
  }
  return schema;
}

/** Per hunt: zod builds (and compiles) an object schema's parser once, not on every window. */
const rowSchemas = new WeakMap<Hunt, z.ZodObject>();

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

interface SpreadSpec {
  value: readonly string[];
  across: readonly string[];
}

/** A row's value and what it is counted across, as keys. */
interface SpreadKeys {
  value: string;
  across: string;
}

/** The value a row shows (e.g. a remote endpoint) and what it is counted across (e.g. a device). */
export function prevalenceKeys(spec: SpreadSpec | undefined, row: EntityRow): SpreadKeys | undefined {
  if (!spec) return undefined;
  return {
    value: spec.value.map((c) => cellText(row[c])).join("|"),
    across: spec.across.map((c) => cellText(row[c])).join("|"),
  };
}

/** Step 5: which `across` values showed each value in this window. */
export function prevalenceInWindow(
  spec: SpreadSpec | undefined,
  rows: Iterable<EntityRow>,
): { seen: Map<string, string[]>; acrossCount: number } {
  const seen = new Map<string, string[]>();
  const across = new Set<string>();
  for (const row of rows) {
    const keys = prevalenceKeys(spec, row);
    if (!keys) continue;
    across.add(keys.across);
    const list = seen.get(keys.value) ?? [];
    if (!list.includes(keys.across)) list.push(keys.across);
    seen.set(keys.value, list);
  }
  return { seen, acrossCount: across.size };
}

/** The source a row's entity acts from (the hunt's `source` columns), keyed beside the entities it remembers. */
function sourceOf(hunt: Hunt, row: EntityRow): { key: string; label: string } | undefined {
  if (!hunt.source) return undefined;
  const values = hunt.source.columns.map((c) => cellText(row[c]));
  return { key: `source|${values.join("|")}`, label: `${hunt.source.columns.join("/")} ${values.join("|")}` };
}

/** A behaviour among peers (the hunt's `peers` value), keyed beside the entities it remembers, as a source is. */
function peerBehaviourKey(valueKey: string): string {
  return `peers|${valueKey}`;
}

/** What this window shows of one behaviour among peers: who reached a rare value new to them with it, and how those entities looked. */
interface PeersNewValues {
  across: Set<string>;
  features: Record<string, number[]>;
  activeMinutes: number[];
}

/** One entity of a window as scoring reads it: its row, what it adds to its baseline, the spread of its value and of its behaviour among peers. */
interface EntityInWindow {
  row: EntityRow;
  observation: Observation;
  context: PrevalenceContext | undefined;
  /** Its behaviour among peers (the hunt's `peers` value and the peer showing it), and that behaviour's spread. */
  peerKeys: SpreadKeys | undefined;
  peers: PrevalenceContext | undefined;
}

/**
 * Per behaviour among peers: the peers whose entity with it is new in this window (`isNew`) and
 * shows a rare value (not one other entities share, not a fleet-wide change), with those entities'
 * features and active minutes.
 */
function peersWithNewValues(
  entities: ReadonlyMap<string, EntityInWindow>,
  isNew: (entityKey: string) => boolean,
): Map<string, PeersNewValues> {
  const out = new Map<string, PeersNewValues>();
  for (const [entityKey, { observation, context, peerKeys }] of entities) {
    if (!peerKeys || !isNew(entityKey) || (context && !isRareValue(context))) continue;
    let entry = out.get(peerKeys.value);
    if (!entry) out.set(peerKeys.value, (entry = { across: new Set(), features: {}, activeMinutes: [] }));
    entry.across.add(peerKeys.across);
    for (const [column, value] of Object.entries(observation.features)) (entry.features[column] ??= []).push(value);
    entry.activeMinutes.push(activeMinutes(observation));
  }
  return out;
}

/** How long an entity was active in the window, in minutes: from its first to its last activity (the hunt's `activity` columns). */
function activeMinutes(observation: Observation): number {
  return Math.max(0, Math.round((observation.lastSeen - observation.firstSeen) / 60_000));
}

/**
 * What a window adds to the memory of something that is not an entity of the hunt: a source (how
 * many values it reached for the first time) or a behaviour among peers (how many of its peers
 * reached a value new to them with it, of how many). Only after the hunt's learning period: while
 * the hunt learns, every value is new to it.
 */
function memoryObservation(entityKey: string, features: Record<string, number>, thresholdMet: boolean, window: QueryWindow): Observation {
  return { entityKey, features, distinct: {}, firstSeen: window.start, lastSeen: window.end, thresholdMet };
}

/**
 * Step 8: a source that reached `foldAt` or more new values in this window is one finding that
 * lists them (a sweep is one alert, not one per target); it alerts when any of them would.
 */
function foldSources(
  hunt: Hunt,
  findings: Finding[],
  rowsByKey: Map<string, EntityRow>,
  sourceByEntity: Map<string, { key: string; label: string }>,
  isNew: (key: string) => boolean,
  base: Omit<FindingInput, "hunt" | "entityKey" | "row" | "score" | "entity">,
): Finding[] {
  if (!hunt.source) return findings;
  const groups = new Map<string, { source: { key: string; label: string }; members: Finding[] }>();
  for (const finding of findings) {
    const source = isNew(finding.entity.key) ? sourceByEntity.get(finding.entity.key) : undefined;
    if (!source) continue;
    const group = groups.get(source.key) ?? { source, members: [] };
    group.members.push(finding);
    groups.set(source.key, group);
  }
  const folded = new Set<Finding>();
  const out: Finding[] = [];
  for (const { source, members } of groups.values()) {
    if (members.length < hunt.source.foldAt) continue;
    members.sort(byScore);
    for (const m of members) folded.add(m);
    const alerting = members.filter((m) => m.alert);
    const best = alerting[0] ?? members[0];
    const bestRow = rowsByKey.get(best.entity.key)!;
    const valueColumns = hunt.prevalence?.value ?? hunt.entity.columns.filter((c) => !hunt.source!.columns.includes(c));
    const listed = members.slice(0, FOLD_MEMBERS).map((m) => rowsByKey.get(m.entity.key)!);
    const row: EntityRow = {
      ...bestRow,
      ...Object.fromEntries(valueColumns.map((c) => [c, [...new Set(listed.map((r) => cellText(r[c])))]])),
      NewValues: members.length,
      Alerting: alerting.length,
    };
    const why = `${source.label} reached ${members.length} ${valueColumns.join("/")} for the first time in this window: one finding instead of ${members.length}`;
    const digestOnly = alerting.length ? undefined : best.digestOnly;
    out.push(
      buildFinding({
        ...base,
        hunt,
        // Keyed by the source (one finding per source and window), shown as its most telling
        // member, an entity of the hunt's own kind: what consumers match on stays what the hunt keys.
        entityKey: source.key,
        entity: best.entity,
        members: [best, ...members.filter((m) => m !== best)].slice(0, FOLD_MEMBERS).map((m) => m.entity.key),
        row,
        score: {
          score: best.score,
          signals: best.signals,
          reasons: [why, ...best.reasons],
          learning: false,
          thresholdMet: false,
          ...(digestOnly ? { digestOnly } : {}),
        },
      }),
    );
  }
  return [...findings.filter((f) => !folded.has(f)), ...out];
}

/** A deviation at least this large keeps a finding of its own even inside a fleet-wide change. */
const NOTABLE_DEVIATION = 1 - Math.exp(-NOTABLE_Z / Z_SCALE);

/** Only fleet-wide spread speaks for this entity (no threshold, no deviation): the fleet finding stands for it. */
function explainedByFleet(score: Score): boolean {
  return !!score.fleetWide && score.signals.threshold === 0 && score.signals.deviation < NOTABLE_DEVIATION;
}

/** Step 7: one digest finding per value that spread across the fleet in this window. */
function fleetFindings(
  hunt: Hunt,
  fleet: Map<string, { context: PrevalenceContext; rows: EntityRow[] }>,
  base: Omit<FindingInput, "hunt" | "entityKey" | "row" | "score" | "entity">,
): Finding[] {
  const spec = hunt.prevalence;
  if (!spec || fleet.size === 0) return [];
  const others = hunt.entity.columns.filter((c) => !spec.value.includes(c) && !spec.across.includes(c));
  return [...fleet].map(([valueKey, { context, rows }]) => {
    const { fresh } = valueSpread(context);
    const also = Object.fromEntries(others.map((c) => [c, [...new Set(rows.map((r) => cellText(r[c])))].slice(0, FLEET_SAMPLE)]));
    const reasons = [
      `${spec.value.join("/")} ${valueKey} reached by ${fresh.length} of ${context.population} ${spec.across.join("/")} for the first time in this window: a fleet-wide change, one finding instead of ${fresh.length} alerts`,
      ...others.map((c) => `${c}: ${also[c].join(", ")}`),
    ];
    const values = Object.fromEntries(spec.value.map((c) => [c, rows[0][c]]));
    return buildFinding({
      ...base,
      hunt,
      entityKey: `fleet|${valueKey}`,
      entity: { type: "fleet-change", key: valueKey, values },
      row: { ...values, Entities: fresh.length, Population: context.population, Sample: fresh.slice(0, FLEET_SAMPLE), ...also },
      score: {
        score: FLEET_SCORE,
        signals: { threshold: 0, deviation: 0, rarity: 0, novelty: 0 },
        reasons,
        learning: false,
        thresholdMet: false,
        digestOnly: "a fleet-wide change goes to the digest",
      },
    });
  });
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

  // Step 6: what is remembered about these entities, their values and their peers.
  const keys = [...byEntity.keys()];
  const prevalenceNow = prevalenceInWindow(hunt.prevalence, byEntity.values());
  const peersNow = prevalenceInWindow(hunt.peers, byEntity.values());
  const sourceByEntity = new Map<string, { key: string; label: string }>();
  for (const [entityKey, row] of byEntity) {
    const source = sourceOf(hunt, row);
    if (source) sourceByEntity.set(entityKey, source);
  }
  const sourceKeys = new Set([...sourceByEntity.values()].map((source) => source.key));
  const behaviourKeys = [...peersNow.seen.keys()].map(peerBehaviourKey);
  const [baselines, huntState, prevalence, peers] = await Promise.all([
    options.baselines.getBaselines(hunt.id, [...keys, ...sourceKeys, ...behaviourKeys]),
    options.baselines.getHuntState(hunt.id),
    hunt.prevalence ? options.baselines.getPrevalence(hunt.id, [...prevalenceNow.seen.keys()]) : new Map<string, Prevalence>(),
    hunt.peers ? options.baselines.getPrevalence(peersStateId(hunt.id), [...peersNow.seen.keys()]) : new Map<string, Prevalence>(),
  ]);
  const population = Math.max(huntState.population, prevalenceNow.acrossCount);
  const contextOf = (
    k: SpreadKeys | undefined,
    now: { seen: Map<string, string[]> },
    stored: Map<string, Prevalence>,
  ): PrevalenceContext | undefined =>
    k && { valueKey: k.value, stats: stored.get(k.value), population, inWindow: now.seen.get(k.value) ?? [], across: k.across };
  const parameters = { ...hunt.parameters, ...options.parameters };

  const partial = [sourcePartial, problem].filter(Boolean).join("; ") || undefined;
  const base = { runId, window, source: options.source.name, partial: sourcePartial, createdAt };
  const observations: Observation[] = [];
  const findings: Finding[] = [];
  const fleet = new Map<string, { context: PrevalenceContext; rows: EntityRow[] }>();
  const newValuesBySource = new Map<string, number>();
  const isNew = (entityKey: string) => !baselines.has(entityKey);
  // Worked out once per entity: the peers' new values read them before each entity is scored.
  const entitiesInWindow = new Map<string, EntityInWindow>();
  for (const [entityKey, row] of byEntity) {
    const peerKeys = prevalenceKeys(hunt.peers, row);
    entitiesInWindow.set(entityKey, {
      row,
      observation: observe(hunt, entityKey, row, window),
      context: contextOf(prevalenceKeys(hunt.prevalence, row), prevalenceNow, prevalence),
      peerKeys,
      peers: contextOf(peerKeys, peersNow, peers),
    });
  }
  const peersNew = hunt.peers ? peersWithNewValues(entitiesInWindow, isNew) : new Map<string, PeersNewValues>();
  const peerNoveltyOf = (keys: SpreadKeys | undefined): PeerNovelty | undefined => {
    const fresh = keys && peersNew.get(keys.value);
    return (
      fresh && {
        label: `${hunt.peers!.value.join("/")} ${keys.value}`,
        newAcross: fresh.across.size,
        across: peersNow.seen.get(keys.value)?.length ?? fresh.across.size,
        features: fresh.features,
        activeMinutes: fresh.activeMinutes,
        baseline: baselines.get(peerBehaviourKey(keys.value)),
      }
    );
  };
  for (const [entityKey, { row, observation, context, peerKeys, peers: behaviour }] of entitiesInWindow) {
    const source = sourceByEntity.get(entityKey);
    if (source) newValuesBySource.set(source.key, (newValuesBySource.get(source.key) ?? 0) + (isNew(entityKey) ? 1 : 0));
    const score = scoreFinding({
      hunt,
      row,
      features: observation.features,
      distinct: observation.distinct,
      baseline: baselines.get(entityKey),
      huntState,
      parameters,
      prevalence: context,
      peers: behaviour,
      ...(source ? { source: { label: source.label, baseline: baselines.get(source.key) } } : {}),
      peerNovelty: peerNoveltyOf(peerKeys),
      activeMinutes: hunt.peers ? activeMinutes(observation) : undefined,
    });
    observations.push({ ...observation, thresholdMet: score.thresholdMet });
    if (context && score.fleetWide) {
      const entry = fleet.get(context.valueKey) ?? { context, rows: [] };
      entry.rows.push(row);
      fleet.set(context.valueKey, entry);
      if (explainedByFleet(score)) continue;
    }
    if (score.score < MIN_FINDING_SCORE && !(score.thresholdMet && score.digestOnly)) continue;
    const finding = buildFinding({ ...base, hunt, entityKey, row, score });
    const exception = options.exceptions && exceptionFor(options.exceptions, finding, createdAt);
    findings.push(exception ? applyException(finding, exception) : finding);
  }
  findings.push(...fleetFindings(hunt, fleet, base));
  const kept = foldSources(hunt, findings, byEntity, sourceByEntity, isNew, base).sort(byScore);
  const entities = observations.length;
  if (huntState.windows >= hunt.learningWindows) {
    for (const [key, newValues] of newValuesBySource)
      observations.push(memoryObservation(key, { NewValues: newValues }, newValues > 0, window));
    for (const [valueKey, across] of peersNow.seen) {
      const newAcross = peersNew.get(valueKey)?.across.size ?? 0;
      observations.push(
        memoryObservation(
          peerBehaviourKey(valueKey),
          { NewAcross: newAcross, Across: across.length },
          peersReachNew(newAcross, across.length),
          window,
        ),
      );
    }
  }
  return {
    rows,
    entities,
    findings: kept.slice(0, MAX_FINDINGS_PER_RUN),
    observations,
    prevalenceSeen: [...prevalenceNow.seen],
    ...(hunt.peers ? { peersSeen: [...peersNow.seen] } : {}),
    population,
    ...(partial ? { partial } : {}),
  };
}
