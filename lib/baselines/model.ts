/**
 * What the project remembers about an entity, and how one window's observation updates it.
 * Pure functions: storage lives in store.ts.
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";

export const EWMA_ALPHA = 0.2;
export const HISTORY_LENGTH = 30;
/** Windows of threshold outcomes remembered per entity ("met in 9 of its last 10 windows"). */
export const THRESHOLD_HISTORY = 10;

export interface FeatureState {
  /** Exponentially weighted mean and variance (alpha 0.2, about the last ten windows). */
  mean: number;
  variance: number;
  /** The most recent values (up to 30), for median/MAD-based robust z. */
  history: number[];
}

export interface Baseline {
  huntId: string;
  entityKey: string;
  /** Windows in which the entity appeared. */
  windows: number;
  firstSeen: number;
  lastSeen: number;
  /** End of the last window applied: a window is applied to an entity at most once. */
  lastWindowEnd: number;
  features: Record<string, FeatureState>;
  distinct: Record<string, string[]>;
  /** Whether the hunt's threshold held in each of the entity's last windows (1 met, 0 not), oldest first. */
  thresholdHits?: number[];
}

export interface Observation {
  entityKey: string;
  features: Record<string, number>;
  distinct: Record<string, string[]>;
  firstSeen: number;
  lastSeen: number;
  /** The hunt's threshold held in this window. */
  thresholdMet?: boolean;
}

export function updateFeature(state: FeatureState | undefined, value: number): FeatureState {
  if (!state) return { mean: value, variance: 0, history: [value] };
  const delta = value - state.mean;
  const mean = state.mean + EWMA_ALPHA * delta;
  const variance = (1 - EWMA_ALPHA) * (state.variance + EWMA_ALPHA * delta * delta);
  const history = state.history.slice(Math.max(0, state.history.length + 1 - HISTORY_LENGTH));
  history.push(value);
  return { mean, variance, history };
}

/** Adds values to a capped distinct set, keeping the oldest (first seen) ones when full. */
export function mergeDistinct(current: readonly string[] | undefined, values: readonly string[], cap: number): string[] {
  const out = [...(current ?? [])];
  const seen = new Set(out);
  for (const value of values) {
    if (out.length >= cap) break;
    const v = value.slice(0, 200);
    if (!seen.has(v)) {
      seen.add(v);
      out.push(v);
    }
  }
  return out;
}

/**
 * The baseline after one window, or undefined when this window was already applied (a retried
 * or concurrent run): applying is idempotent per entity and window.
 */
export function applyObservation(
  huntId: string,
  current: Baseline | undefined,
  observation: Observation,
  window: { start: number; end: number },
  caps: Record<string, number>,
): Baseline | undefined {
  if (current && current.lastWindowEnd >= window.end) return undefined;
  // Copied key by key: this runs for every entity of every window, and spreading records decoded
  // from JSON takes V8's slow path.
  const features: Record<string, FeatureState> = {};
  if (current) for (const name in current.features) features[name] = current.features[name];
  for (const name in observation.features) {
    const value = observation.features[name];
    if (Number.isFinite(value)) features[name] = updateFeature(features[name], value);
  }
  const distinct: Record<string, string[]> = {};
  if (current) for (const name in current.distinct) distinct[name] = current.distinct[name];
  for (const name in observation.distinct) distinct[name] = mergeDistinct(distinct[name], observation.distinct[name], caps[name] ?? 50);
  const hits = current?.thresholdHits ?? [];
  const thresholdHits = hits.slice(Math.max(0, hits.length + 1 - THRESHOLD_HISTORY));
  thresholdHits.push(observation.thresholdMet ? 1 : 0);
  return {
    huntId,
    entityKey: observation.entityKey,
    windows: (current?.windows ?? 0) + 1,
    firstSeen: Math.min(current?.firstSeen ?? observation.firstSeen, observation.firstSeen),
    lastSeen: Math.max(current?.lastSeen ?? observation.lastSeen, observation.lastSeen),
    lastWindowEnd: window.end,
    features,
    distinct,
    thresholdHits,
  };
}

export function median(values: readonly number[]): number {
  return medianOf(values, (v) => v);
}

/**
 * Sorting space for medianOf. Every entity's every feature is scored each window, and copying its
 * history to sort it (twice, for the MAD) was a good share of a replay's garbage.
 */
let sortSpace = new Float64Array(64);

/** The median of `f` over the values (NaN for none); histories are finite numbers, which a typed array sorts as numbers. */
function medianOf(values: readonly number[], f: (v: number) => number): number {
  const n = values.length;
  if (!n) return NaN;
  if (sortSpace.length < n) sortSpace = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) sortSpace[i] = f(values[i]);
  const sorted = sortSpace.subarray(0, n).sort();
  const mid = n >> 1;
  return n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Robust z of x against the history: (x - median) / (1.4826 * MAD), with a floor on the scale
 * so a perfectly steady history (MAD 0) does not turn a change of one into infinity.
 */
export function robustZ(x: number, history: readonly number[]): number | undefined {
  if (history.length === 0) return undefined;
  const m = median(history);
  const mad = medianOf(history, (v) => Math.abs(v - m));
  const scale = Math.max(1.4826 * mad, 1, 0.1 * Math.abs(m));
  return (x - m) / scale;
}

/** Population-level state of a hunt: how many windows it has applied (its learning period). */
export interface HuntState {
  huntId: string;
  windows: number;
  lastWindowEnd: number;
  /** For prevalence: the largest number of distinct `across` values seen in a window. */
  population: number;
}

/** How many distinct entities (e.g. devices) have shown a value (e.g. a remote endpoint), and which. */
export interface Prevalence {
  huntId: string;
  valueKey: string;
  /** The first PREVALENCE_CAP of them by name, for people reading the row. */
  across: string[];
  /** Every one of them (up to MEMBERS_CAP), as memberToken: whether an entity showed the value before is never a guess. */
  members: ReadonlySet<string>;
  count: number;
  lastWindowEnd: number;
}

/** Names kept on a prevalence row. */
export const PREVALENCE_CAP = 100;
/**
 * Members remembered per value: past this many (a value on more devices than most fleets have),
 * further ones are counted each time they show it, as if new.
 */
export const MEMBERS_CAP = 50_000;

/** Characters of a member token (48 bits in base64url). */
export const MEMBER_TOKEN_LENGTH = 8;

/**
 * A member of a prevalence set in 8 characters: 48 bits of its SHA-256 in base64url. Names the
 * data chooses (device names) would take 20 or more, and with 48 bits a collision among a fleet's
 * devices is not to be expected (about 1 in 10^7 at 50,000).
 */
export function memberToken(name: string): string {
  return memberTokens.memo(name);
}

/** Tokens of names seen lately: a fleet's device names come back every window. */
const memberTokens = new LRUCache<string, string>({
  max: 200_000,
  memoMethod: (name) => createHash("sha256").update(name).digest("base64url").slice(0, MEMBER_TOKEN_LENGTH),
});

/** A prevalence as stored by earlier versions (names only, at most PREVALENCE_CAP of them) or built by hand. */
export function prevalenceOf(huntId: string, valueKey: string, across: string[], count = across.length, lastWindowEnd = 0): Prevalence {
  return { huntId, valueKey, across, members: new Set(across.map(memberToken)), count, lastWindowEnd };
}

/** Whether `name` showed the value before. */
export function isMember(prevalence: Prevalence | undefined, name: string): boolean {
  return prevalence !== undefined && prevalence.members.has(memberToken(name));
}

export function applyPrevalence(
  huntId: string,
  current: Prevalence | undefined,
  valueKey: string,
  across: readonly string[],
  windowEnd: number,
): Prevalence | undefined {
  if (current && current.lastWindowEnd >= windowEnd) return undefined;
  const members = new Set(current?.members ?? []);
  let count = current?.count ?? 0;
  const kept = [...(current?.across ?? [])];
  for (const a of across) {
    const token = memberToken(a);
    if (members.has(token)) continue;
    count++;
    if (members.size < MEMBERS_CAP) members.add(token);
    if (kept.length < PREVALENCE_CAP) kept.push(a);
  }
  return { huntId, valueKey, across: kept, members, count, lastWindowEnd: windowEnd };
}
