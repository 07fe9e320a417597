/**
 * The hunt catalog: every hunt in `catalog/`, validated on load. The `list` command, the README
 * table and the Functions timers are all generated from here.
 */
import type { z } from "zod";
import { validateQuery, type Diagnostic } from "../kql/index.js";
import { windowLets } from "../kql/build.js";
import { parseTimespan } from "../time.js";
import failedSigninsWithAudit from "./catalog/failed-signins-with-audit.js";
import logonChangepoint from "./catalog/logon-changepoint.js";
import logonGraphRank from "./catalog/logon-graph-rank.js";
import passwordSprayBySource from "./catalog/password-spray-by-source.js";
import rareDeviceConnections from "./catalog/rare-device-connections.js";
import windowsLogonBySourceIp from "./catalog/windows-logon-by-source-ip.js";
import { HuntMetadata, thresholdsOf, type Hunt, type HuntDefinition } from "./schema.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";

const DEFINITIONS: HuntDefinition[] = [
  windowsLogonBySourceIp,
  passwordSprayBySource,
  failedSigninsWithAudit,
  rareDeviceConnections,
  logonGraphRank,
  logonChangepoint,
];

export class HuntDefinitionError extends Error {}

type Issue = z.core.$ZodIssue;

/**
 * Where a value matches no branch of a union (a threshold or an either-of group), the problems of
 * the branch it got furthest into name the field, not "Invalid input" on the whole value.
 */
function closestIssues(issue: Issue): { path: PropertyKey[]; message: string }[] {
  if (issue.code !== "invalid_union" || !issue.errors.length) return [issue];
  // Deepest first; then the branch that took the value's keys (a strict branch rejects others'); then the fewest problems.
  const depth = (branch: Issue[]) => Math.max(...branch.map((i) => i.path.length));
  const rejectsKeys = (branch: Issue[]) => (branch.some((i) => i.code === "unrecognized_keys") ? 1 : 0);
  const rank = (branch: Issue[]) => [-depth(branch), rejectsKeys(branch), branch.length];
  const closer = (a: Issue[], b: Issue[]) => {
    const [x, y] = [rank(a), rank(b)];
    const at = x.findIndex((v, i) => v !== y[i]);
    return at >= 0 && x[at] < y[at];
  };
  const closest = issue.errors.reduce((best, branch) => (closer(branch, best) ? branch : best));
  return closest.flatMap(closestIssues).map((i) => ({ path: [...issue.path, ...i.path], message: i.message }));
}

export function loadHunt(definition: HuntDefinition): Hunt {
  const { analyze, ...metadata } = definition;
  const parsed = HuntMetadata.safeParse(metadata);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .flatMap(closestIssues)
      .map((i) => `${i.path.join(".") || "(hunt)"}: ${i.message}`)
      .join("; ");
    throw new HuntDefinitionError(`hunt '${String(definition.id)}' is invalid: ${problems}`);
  }
  const hunt: Hunt = { ...parsed.data, analyze };
  if (hunt.context && durationMs(hunt.context) < durationMs(hunt.lookback)) {
    throw new HuntDefinitionError(`hunt '${hunt.id}': context (${hunt.context}) must be at least the lookback (${hunt.lookback})`);
  }
  if (durationMs(hunt.maxLookback) < durationMs(hunt.lookback)) {
    throw new HuntDefinitionError(`hunt '${hunt.id}': maxLookback (${hunt.maxLookback}) must be at least the lookback (${hunt.lookback})`);
  }
  for (const [kind, conditions] of [
    ["threshold", thresholdsOf(hunt.thresholds.conditions)],
    ["expectation", hunt.expected],
  ] as const) {
    for (const t of conditions) {
      if (typeof t.value === "string" && typeof hunt.parameters[t.value] !== "number") {
        throw new HuntDefinitionError(`hunt '${hunt.id}': ${kind} on ${t.column} refers to '${t.value}', which is not a numeric parameter`);
      }
    }
  }
  const stray = hunt.source?.columns.find((c) => !hunt.entity.columns.includes(c));
  if (stray !== undefined || (hunt.source && hunt.source.columns.length >= hunt.entity.columns.length)) {
    throw new HuntDefinitionError(
      `hunt '${hunt.id}': source columns must be some, not all, of the entity's columns (${hunt.entity.columns.join(", ")})`,
    );
  }
  return hunt;
}

let builtIn: Hunt[] | undefined;
let imported: Hunt[] = [];

/** The hunts shipped in lib/hunts/catalog (each has its own timer function). */
export function builtInHunts(): Hunt[] {
  builtIn ??= DEFINITIONS.map(loadHunt);
  return builtIn;
}

/** Hunts loaded at start-up from a folder of Sentinel YAML (run by the generic timer). */
export function registerImportedHunts(hunts: readonly Hunt[]): void {
  const clash = hunts.find((h) => builtInHunts().some((b) => b.id === h.id));
  if (clash) throw new HuntDefinitionError(`imported hunt '${clash.id}' has the id of a built-in hunt`);
  imported = [...hunts];
}

export function importedHunts(): Hunt[] {
  return imported;
}

/** Every hunt: built-in, then imported. */
export function huntCatalog(): Hunt[] {
  return [...builtInHunts(), ...imported];
}

export function findHunt(id: string): Hunt | undefined {
  return huntCatalog().find((h) => h.id === id);
}

export function durationMs(duration: string): number {
  return parseTimespan(duration)!;
}

/** The app setting that overrides a hunt's schedule: HUNT_<ID>_SCHEDULE, id upper-cased with underscores. */
export function scheduleSettingName(huntId: string): string {
  return `HUNT_${huntId.toUpperCase().replace(/-/g, "_")}_SCHEDULE`;
}

export interface QueryWindow {
  start: number;
  end: number;
}

/** Where the query must read from: the window, or further back for context. */
export function contextStart(hunt: Hunt, window: QueryWindow): number {
  return window.end - Math.max(durationMs(hunt.context ?? hunt.lookback), window.end - window.start);
}

/**
 * The hunt's KQL with its window and parameters bound as `let` statements in front, so the same
 * text runs unchanged on Log Analytics, Defender and the local engine.
 */
export function composeQuery(
  hunt: Hunt,
  window: QueryWindow,
  overrides: Record<string, number | string | (number | string)[]> = {},
): string {
  const lets = windowLets(window, contextStart(hunt, window), { ...hunt.parameters, ...overrides });
  return `${lets}\n${bindSentinelPlaceholders(hunt.query.trim(), window)}`;
}

/** Sentinel's own placeholders, for imported queries written against them. */
export function bindSentinelPlaceholders(query: string, window: QueryWindow): string {
  return query
    .replace(/\{\{StartTimeISO\}\}/g, new Date(window.start).toISOString())
    .replace(/\{\{EndTimeISO\}\}/g, new Date(window.end).toISOString());
}

/** Official-parser diagnostics for a hunt's composed query against the table schemas. */
export function validateHunt(hunt: Hunt): Diagnostic[] {
  const now = Date.UTC(2024, 0, 2);
  const text = composeQuery(hunt, { start: now - durationMs(hunt.lookback), end: now });
  return validateQuery(text, TABLE_SCHEMAS);
}
