/**
 * Scores a finding from 0 to 100 and says why, every reason a number a person can check.
 *
 * Four signals, each in [0, 1]:
 *   T  threshold: the hunt's conditions hold (all or any, as the hunt says)         weight 0.65
 *      rising to 0.80 as the row passes its thresholds by up to twice: the mean, over the met
 *      lower bounds (>=, >) on a positive threshold, of log2(value / threshold), each capped at 1.
 *      An hour of 30 logons against a threshold of 15 outranks one of 16, where the deviation from
 *      the entity's own history has saturated.
 *      A threshold the entity meets in most of its recent windows (at least half of its last
 *      10, with 3 or more behind it) and without a deviation is usual for it: T counts a quarter
 *      and the finding goes to the digest, not out as an alert.
 *   D  deviation: the largest robust z of a feature against the entity's own recent
 *      history, 1 - exp(-z / 4) for z > 0 (z 3 -> 0.53, z 10 -> 0.92)               weight 0.55
 *   R  rarity: the surprise -log2 p of the value among the population, p = (k + 1) / (N + 2), k
 *      the other entities that showed it before or show it in this window, as a share of the
 *      most surprise this population can show, bits / log2(N + 2) (k 0 -> 1), times the row's
 *      weight column. A value this entity showed before is not rare for it. Where the
 *      hunt has peers (e.g. devices running the same process on the same port), a behaviour
 *      common among peers halves R. A value many entities show for the first time in the same
 *      window is a fleet-wide change: R is 0 here and the change is one finding of its own. weight 0.50
 *   N  novelty: the entity has never been seen before                               weight 0.40
 * combined as a noisy-or: score = 100 * (1 - (1 - (0.65 + 0.15 m) T)(1 - 0.55 D)(1 - 0.5 R)(1 - 0.4 N)).
 *
 * During a hunt's learning period (fewer windows applied than its learningWindows) only T
 * counts, and D needs at least three past windows of the entity itself.
 *
 * Some findings go to the digest whatever their score, each with its reason: a threshold usual
 * for the entity (above), a threshold met on nothing new (every value of the hunt's `distinct`
 * columns seen in the entity's earlier windows, no deviation), a row that meets one of the hunt's expectations (a new account's
 * first-day sign-in trouble), and a new value from a source that reaches new values in most of
 * its recent windows (a scanner's next target), when nothing but rarity and novelty speaks for it.
 * The same holds one level up, for a behaviour among peers: a new value of a peer that showed the
 * behaviour before is explained when, in most of the behaviour's recent windows and in this one,
 * several peers reached values new to them with it (browsers reaching sites no other device
 * visits; a device that never ran the behaviour is not explained by it), unless the row stands out among this
 * window's new values of its peers (a beacon active for hours where new sites are visited for
 * minutes): then no habit, its peers' or its source's, explains it.
 */
import type { Baseline, HuntState, Prevalence } from "../baselines/model.js";
import { isMember, median, robustZ, THRESHOLD_HISTORY } from "../baselines/model.js";
import { membersOf, type Hunt, type ParameterValue, type Threshold } from "../hunts/schema.js";

export const WEIGHTS = { threshold: 0.65, deviation: 0.55, rarity: 0.5, novelty: 0.4 } as const;
/** What the threshold's weight gains when the row passes its thresholds twice over (see thresholdMargin). */
export const THRESHOLD_MARGIN_WEIGHT = 0.15;
export const Z_SCALE = 4;
export const MIN_HISTORY = 3;
/** A deviation at or above this robust z is notable: it is named. */
export const NOTABLE_Z = 2;
/**
 * A usual threshold alerts again only with a deviation at least this large: a busy entity's
 * ordinary days spread to a robust z of 2 and more (23 to 36 hosts a day around a median of 27).
 */
export const USUAL_BREAK_Z = 3;
/** How much a usual threshold, or any signal the scoring has explained, still counts. */
export const USUAL_THRESHOLD_SHARE = 0.25;
/**
 * New values are a behaviour's habit among peers in a window when at least this many peers, and
 * this share of the peers showing the behaviour, reached a value new to them with it.
 */
export const PEER_NOVELTY_MIN_ENTITIES = 5;
export const PEER_NOVELTY_MIN_SHARE = 0.05;
/**
 * A new value stands out among its peers' new values (and is not explained by a habit) when a
 * feature, or how long it was active, is at least this many times what 9 in 10 of theirs stay
 * within: a beacon every five minutes for hours among sites visited for minutes.
 */
export const PEER_STANDOUT_FACTOR = 10;
/** Fleet-wide: at least this many entities, and this share of the population, show a value for the first time in one window. */
export const FLEET_MIN_ENTITIES = 10;
export const FLEET_MIN_SHARE = 0.05;

/** How widely a value is shown: remembered counts plus who shows it in this window. */
export interface PrevalenceContext {
  valueKey: string;
  stats: Prevalence | undefined;
  population: number;
  /** The `across` values (e.g. devices) that show the value in this window. */
  inWindow?: readonly string[];
  /** This entity's own `across` value. */
  across?: string;
}

export interface ScoreInput {
  hunt: Hunt;
  row: Record<string, unknown>;
  features: Record<string, number>;
  baseline: Baseline | undefined;
  huntState: HuntState;
  /** The parameters in force (the hunt's defaults with the settings' overrides); thresholds read them. */
  parameters?: Record<string, ParameterValue>;
  prevalence?: PrevalenceContext;
  /** The same behaviour among the entity's peers (the hunt's `peers`). */
  peers?: PrevalenceContext;
  /** This window's values of the hunt's `distinct` columns (e.g. the accounts a source failed on). */
  distinct?: Record<string, string[]>;
  /** The part of the entity that acts (the hunt's `source`): who it is and what is remembered of it. */
  source?: { label: string; baseline: Baseline | undefined };
  /** The entity's behaviour among its peers (the hunt's `peers` value) and who reached new values with it. */
  peerNovelty?: PeerNovelty;
  /** How long the entity was active in the window, in minutes (first to last activity). */
  activeMinutes?: number;
}

/** Peers that reached values new to them with one behaviour (e.g. msedge.exe on 443) in this window, and what is remembered of that. */
export interface PeerNovelty {
  /** The behaviour, as a person reads it (`InitiatingProcessFileName/RemotePort msedge.exe|443`). */
  label: string;
  /** Peers (`across` values) whose entity with this behaviour is new in this window, with a rare value (isRareValue), this entity's own included. */
  newAcross: number;
  /** Peers that show the behaviour in this window. */
  across: number;
  /** The new entities' features in this window, by feature column, and their active minutes. */
  features: Readonly<Record<string, readonly number[]>>;
  activeMinutes: readonly number[];
  /** The behaviour's memory: in which recent windows its peers' new values were habitual (peersReachNew). */
  baseline: Baseline | undefined;
}

/** Whether, in one window, enough peers reached values new to them with a behaviour for that to be its habit. */
export function peersReachNew(newAcross: number, across: number): boolean {
  return newAcross >= PEER_NOVELTY_MIN_ENTITIES && newAcross >= PEER_NOVELTY_MIN_SHARE * across;
}

export interface ScoreSignals {
  threshold: number;
  deviation: number;
  rarity: number;
  novelty: number;
}

export interface Score {
  score: number;
  signals: ScoreSignals;
  reasons: string[];
  learning: boolean;
  /** The hunt's threshold conditions hold in this window (remembered per entity). */
  thresholdMet: boolean;
  /** Why this finding goes to the digest whatever its score (a threshold usual for the entity). */
  digestOnly?: string;
  /** The value is part of a fleet-wide change in this window. */
  fleetWide?: boolean;
}

function thresholdValue(threshold: Threshold, parameters: Record<string, ParameterValue>): number {
  return typeof threshold.value === "number" ? threshold.value : Number(parameters[threshold.value]);
}

/** A result cell as a number; an empty cell is no number (not 0, which would meet `<=` conditions). */
function cellNumber(value: unknown): number {
  return value === null || value === undefined || value === "" ? Number.NaN : Number(value);
}

/** Each condition with the row's value, the value it is held to, and whether it holds. */
function evaluateConditions<T extends Threshold>(
  conditions: readonly T[],
  row: Record<string, unknown>,
  parameters: Record<string, ParameterValue>,
) {
  return conditions.map((t) => {
    const x = cellNumber(row[t.column]);
    const y = thresholdValue(t, parameters);
    return { t, x, y, met: Number.isFinite(x) && compare(x, t.op, y) };
  });
}

function compare(x: number, op: Threshold["op"], y: number): boolean {
  switch (op) {
    case ">=":
      return x >= y;
    case ">":
      return x > y;
    case "<=":
      return x <= y;
    case "<":
      return x < y;
    case "==":
      return x === y;
    default:
      return x !== y;
  }
}

/**
 * How far past its thresholds a row is, from 0 (at them) to 1 (twice over or more): the mean over
 * the met lower bounds (>=, >) on a positive threshold of log2(value / threshold), each capped at 1.
 * Upper bounds and equalities shape what a hunt reports (at most 10 successes, at most 3 attempts
 * per account) rather than how much of it there is, and a threshold of 0 has no scale: neither
 * counts, whatever the row's value, so the margin only grows with the measures it reads.
 */
export function thresholdMargin(results: readonly { t: Threshold; x: number; y: number; met: boolean }[]): number {
  let sum = 0;
  let counted = 0;
  for (const { t, x, y, met } of results) {
    if (!met || (t.op !== ">=" && t.op !== ">") || !(y > 0)) continue;
    sum += Math.min(1, Math.max(0, Math.log2(x / y)));
    counted++;
  }
  return counted ? sum / counted : 0;
}

type ConditionResult = ReturnType<typeof evaluateConditions>[number];

/**
 * The met conditions worth saying: of several bounds a column passes the same way (a burst of
 * 3 times its past, and at least 1.5 times), the strongest says all the others do.
 */
function strongestMet(results: readonly ConditionResult[]): ConditionResult[] {
  const direction = (op: Threshold["op"]) => (op === ">=" || op === ">" ? "up" : op === "<=" || op === "<" ? "down" : op);
  const met = results.filter((r) => r.met);
  return met.filter(
    (r) =>
      !met.some(
        (o) =>
          o !== r &&
          o.t.column === r.t.column &&
          direction(o.t.op) === direction(r.t.op) &&
          (direction(r.t.op) === "up" ? o.y > r.y : direction(r.t.op) === "down" ? o.y < r.y : false),
      ),
  );
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

/** How many of the entity's recent windows met the threshold, of how many. */
export function thresholdHistory(baseline: Baseline | undefined): { met: number; of: number } {
  const hits = (baseline?.thresholdHits ?? []).slice(-THRESHOLD_HISTORY);
  return { met: hits.filter((h) => h === 1).length, of: hits.length };
}

/**
 * When an entity with history shows only values it showed before in every `distinct` column
 * (the same accounts, the same hosts), says so ("its 5 Accounts were all seen in its earlier
 * windows"); undefined when anything is new or the remembered set is full (then nobody can tell).
 */
function familiarValues(hunt: Hunt, baseline: Baseline | undefined, distinct: Record<string, string[]> | undefined): string | undefined {
  if (!baseline || !distinct || baseline.windows < MIN_HISTORY || hunt.distinct.length === 0) return undefined;
  const said: string[] = [];
  for (const { column, cap } of hunt.distinct) {
    const known = baseline.distinct[column] ?? [];
    const values = distinct[column] ?? [];
    if (known.length >= cap || values.length === 0) return undefined;
    const seen = new Set(known);
    if (values.some((v) => !seen.has(v.slice(0, 200)))) return undefined;
    said.push(`its ${values.length} ${column} were all seen in its earlier windows`);
  }
  return said.join("; ");
}

/** Met in at least half of the last windows, with enough of them behind it to say so. */
function isHabitual({ met, of }: { met: number; of: number }): boolean {
  return of >= MIN_HISTORY && met * 2 >= of;
}

/** Who shows a value for the first time in this window (the `across` values the stored prevalence does not hold). */
export interface ValueSpread {
  fresh: readonly string[];
  freshSet: ReadonlySet<string>;
}

const NO_STATS = {};
/**
 * Every entity that shows a value shares its context's stats and in-window list: work out the
 * spread once per value and window, not once per entity (a value on 400 devices would
 * otherwise rebuild the same sets 400 times).
 */
const spreads = new WeakMap<object, WeakMap<object, ValueSpread>>();

export function valueSpread(context: PrevalenceContext): ValueSpread {
  const inWindow = context.inWindow ?? [];
  const statsKey = context.stats ?? NO_STATS;
  let byStats = spreads.get(inWindow);
  if (!byStats) spreads.set(inWindow, (byStats = new WeakMap()));
  let spread = byStats.get(statsKey);
  if (!spread) {
    const fresh = inWindow.filter((a) => !isMember(context.stats, a));
    spread = { fresh, freshSet: new Set(fresh) };
    byStats.set(statsKey, spread);
  }
  return spread;
}

/** Whether a value is spreading across the fleet in this window: many entities show it for the first time. */
export function isFleetWide(context: PrevalenceContext): boolean {
  const fresh = valueSpread(context).fresh.length;
  return fresh >= Math.max(FLEET_MIN_ENTITIES, Math.ceil(FLEET_MIN_SHARE * context.population));
}

/** At most this many other entities show a value that is rare: its reasons name how many. */
export const RARE_OTHERS = 2;

/** A value few other entities show (RARE_OTHERS at most), before or in this window, and no fleet-wide change. */
export function isRareValue(context: PrevalenceContext): boolean {
  return !isFleetWide(context) && spread(context).others <= RARE_OTHERS;
}

/** Other entities that show the value (before or now), the population, and whether this entity showed it before. */
function spread(context: PrevalenceContext): { others: number; population: number; seenHereBefore: boolean } {
  const { fresh, freshSet } = valueSpread(context);
  const total = (context.stats?.count ?? 0) + fresh.length;
  const seenHereBefore = context.across !== undefined && isMember(context.stats, context.across);
  const self = seenHereBefore || (context.across !== undefined && freshSet.has(context.across)) ? 1 : 0;
  return {
    others: Math.max(0, total - self),
    population: Math.max(context.population, total),
    seenHereBefore,
  };
}

function rarityBits(others: number, population: number): number {
  return -Math.log2((others + 1) / (population + 2));
}

/** Surprise as a share of the most this population can show (a value no other entity shows). */
function rarityShare(others: number, population: number): number {
  return Math.min(1, rarityBits(others, population) / Math.log2(population + 2));
}

/** Each list of the peers' new values, sorted once however many of its entities are scored against it. */
const sortedPeerValues = new WeakMap<readonly number[], Float64Array>();

/**
 * The other new entities' values of one measure, as `standsOutAmongPeers` reads them: how many there
 * are, and the value at or below which a share `q` of them lie (nearest rank). `all` holds the
 * entity's own value when the entity is one of them; that one occurrence is left out.
 */
function othersAtShare(all: readonly number[], own: number, q: number): { count: number; value: number } {
  let sorted = sortedPeerValues.get(all);
  if (!sorted) sortedPeerValues.set(all, (sorted = Float64Array.from(all).sort()));
  // The first occurrence of the entity's own value, if it is there (a lower bound).
  let lo = 0;
  for (let hi = sorted.length; lo < hi;) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < own) lo = mid + 1;
    else hi = mid;
  }
  const ownAt = sorted[lo] === own ? lo : -1;
  const count = ownAt < 0 ? sorted.length : sorted.length - 1;
  const rank = Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1));
  // Past the entity's own value, the others' rank is one further on in the whole list.
  return { count, value: ownAt < 0 || rank < ownAt ? sorted[rank] : sorted[rank + 1] };
}

/**
 * What a new entity shows far beyond its peers' other new entities in this window (a feature, or
 * how long it was active): at least PEER_STANDOUT_FACTOR times what 9 in 10 of theirs stay within
 * (and that at least 1). Heavy-tailed measures (an admin's sessions last seconds or hours) make a
 * robust z useless here; a multiple of their 90th percentile is not fooled by them.
 */
function standsOutAmongPeers(input: ScoreInput, novelty: PeerNovelty): { what: string; value: number; within: number } | undefined {
  const measures = input.hunt.features
    .filter((f) => f.direction !== "down")
    .map((f) => ({ what: f.column, value: input.features[f.column], all: novelty.features[f.column] ?? [] }));
  measures.push({ what: "active minutes", value: input.activeMinutes ?? Number.NaN, all: novelty.activeMinutes });
  let best: { what: string; value: number; within: number; ratio: number } | undefined;
  for (const { what, value, all } of measures) {
    if (!Number.isFinite(value)) continue;
    const others = othersAtShare(all, value, 0.9);
    if (others.count < PEER_NOVELTY_MIN_ENTITIES) continue;
    const within = Math.max(1, others.value);
    const ratio = value / within;
    if (ratio >= PEER_STANDOUT_FACTOR && (!best || ratio > best.ratio)) best = { what, value, within, ratio };
  }
  return best && { what: best.what, value: best.value, within: best.within };
}

export function scoreFinding(input: ScoreInput): Score {
  const { hunt, row, baseline, huntState } = input;
  const parameters = input.parameters ?? hunt.parameters;
  const reasons: string[] = [];
  const learning = huntState.windows < hunt.learningWindows;

  // T: thresholds
  const conditions = hunt.thresholds.conditions;
  // Each condition's thresholds (one, or the members of an either-of group) and whether it holds.
  const groups = conditions.map((c) => evaluateConditions(membersOf(c), row, parameters));
  const results = groups.flat();
  const held = groups.map((g) => g.some((r) => r.met));
  const thresholdMet = conditions.length > 0 && (hunt.thresholds.match === "all" ? held.every(Boolean) : held.some(Boolean));
  // Of several bounds a column passes the same way, the strongest is said and counts, once (see strongestMet).
  const passed = thresholdMet ? strongestMet(results) : [];
  for (const r of passed) reasons.push(`${r.t.column} ${fmt(r.x)} ${r.t.op} ${fmt(r.y)} (threshold)`);
  let T = thresholdMet ? 1 : 0;
  const thresholdWeight = WEIGHTS.threshold + (thresholdMet ? THRESHOLD_MARGIN_WEIGHT * thresholdMargin(passed) : 0);

  // D: deviation from the entity's own history
  let D = 0;
  let bestZ = 0;
  if (!learning && baseline) {
    let best: { column: string; z: number; median: number } | undefined;
    for (const feature of hunt.features) {
      const value = input.features[feature.column];
      const history = baseline.features[feature.column]?.history ?? [];
      if (value === undefined || history.length < MIN_HISTORY) continue;
      const z0 = robustZ(value, history);
      if (z0 === undefined) continue;
      const z = feature.direction === "up" ? z0 : feature.direction === "down" ? -z0 : Math.abs(z0);
      if (!best || z > best.z) best = { column: feature.column, z, median: median(history) };
    }
    if (best && best.z > 0) {
      bestZ = best.z;
      D = 1 - Math.exp(-best.z / Z_SCALE);
      if (best.z >= NOTABLE_Z)
        reasons.push(
          `${best.column} ${fmt(input.features[best.column])} is ${best.z.toFixed(1)} robust z above its usual ${fmt(best.median)}`,
        );
    }
  }

  // A threshold this entity meets most of the time, with nothing else changed, is its normal.
  let digestOnly: string | undefined;
  if (thresholdMet && !learning && bestZ < USUAL_BREAK_Z) {
    const { met, of } = thresholdHistory(baseline);
    const familiar = familiarValues(hunt, baseline, input.distinct);
    if (isHabitual({ met, of })) {
      T = USUAL_THRESHOLD_SHARE;
      digestOnly = `usual for this ${hunt.entity.type}: the threshold was met in ${met} of its last ${of} windows, with no deviation`;
      reasons.push(digestOnly);
    } else if (familiar) {
      // A scan's last minutes in a window of their own look like a spray, on the accounts it always probes.
      T = USUAL_THRESHOLD_SHARE;
      digestOnly = `nothing new for this ${hunt.entity.type}: ${familiar}, with no deviation`;
      reasons.push(digestOnly);
    }
  }

  // R: population rarity (and peers)
  let R = 0;
  let fleetWide = false;
  if (!learning && input.prevalence) {
    const context = input.prevalence;
    const across = hunt.prevalence!.across.join("/");
    const { others, population, seenHereBefore } = spread(context);
    fleetWide = isFleetWide(context);
    if (fleetWide) {
      const fresh = valueSpread(context).fresh.length;
      reasons.push(`${context.valueKey} is a fleet-wide change: ${fresh} ${across} showed it for the first time in this window`);
    } else if (seenHereBefore) {
      // Not rare for this entity: it has shown the value before.
    } else {
      const bits = rarityBits(others, population);
      const weightColumn = hunt.prevalence?.weightColumn;
      const weight = weightColumn && Number.isFinite(Number(row[weightColumn])) ? Number(row[weightColumn]) : 1;
      R = rarityShare(others, population) * Math.max(0, Math.min(1, weight));
      if (others <= RARE_OTHERS && R > 0.3)
        reasons.push(`${context.valueKey} seen on ${others} other ${across} of ${population} (${bits.toFixed(1)} bits)`);
      if (R > 0 && input.peers && hunt.peers) {
        const peer = spread(input.peers);
        const peerRarity = rarityShare(peer.others, peer.population);
        const peerLabel = `${hunt.peers.value.join("/")} ${input.peers.valueKey}`;
        if (peerRarity < 0.5) {
          R *= 0.5 + 0.5 * peerRarity;
          reasons.push(`${peerLabel} is common among peers: ${peer.others} other ${hunt.peers.across.join("/")} of ${peer.population}`);
        } else if (peer.others <= 2) {
          reasons.push(`${peerLabel} is rare among peers: ${peer.others} other ${hunt.peers.across.join("/")} of ${peer.population}`);
        }
      }
    }
  }

  // N: novelty
  let N = 0;
  if (!learning && !baseline && !fleetWide) {
    N = 1;
    reasons.push(`first time this ${hunt.entity.type} is seen by this hunt`);
  }

  // A new value that stands out among its peers' new values in this window (a beacon active for hours where new sites are
  // visited for minutes) is explained by no habit, its peers' or its source's.
  const standout = N > 0 && input.peerNovelty ? standsOutAmongPeers(input, input.peerNovelty) : undefined;
  const notExplained = () => {
    const said = `${standout!.what} ${fmt(standout!.value)} is more than ${PEER_STANDOUT_FACTOR} times the ${fmt(standout!.within)} that 9 in 10 new values of ${input.peerNovelty!.label} among peers stay within: not explained by a habit`;
    if (!reasons.includes(said)) reasons.push(said);
  };

  // A new value is its behaviour's habit among peers, unless it stands out among their new values.
  if (!digestOnly && input.peerNovelty && T === 0 && bestZ < NOTABLE_Z && N > 0) {
    const novelty = input.peerNovelty;
    const history = thresholdHistory(novelty.baseline);
    // The habit is its practitioners': only a peer that showed the behaviour before (its browser, its admin console) shares it.
    const practised = !!input.peers && spread(input.peers).seenHereBefore;
    // The others: this entity is one of the new ones.
    if (practised && peersReachNew(novelty.newAcross - 1, novelty.across) && isHabitual(history)) {
      if (standout) notExplained();
      else {
        const across = hunt.peers?.across.join("/") ?? "peers";
        digestOnly = `usual among peers: ${novelty.newAcross - 1} other ${across} of ${novelty.across} with ${novelty.label} reached a value new to them in this window, as in ${history.met} of its last ${history.of} windows`;
        reasons.push(digestOnly);
        R *= USUAL_THRESHOLD_SHARE;
        N *= USUAL_THRESHOLD_SHARE;
      }
    }
  }

  // A new value from a source that reaches new values in most of its windows is its habit.
  if (!digestOnly && input.source && T === 0 && bestZ < NOTABLE_Z && (R > 0 || N > 0)) {
    const history = thresholdHistory(input.source.baseline);
    if (isHabitual(history) && standout) notExplained();
    else if (isHabitual(history)) {
      const what = hunt.prevalence?.value.join("/") ?? "values";
      digestOnly = `usual for ${input.source.label}: it reached a new ${what} in ${history.met} of its last ${history.of} windows`;
      reasons.push(digestOnly);
      // Explained signals count a quarter, as a usual threshold does: the finding ranks below unexplained ones.
      R *= USUAL_THRESHOLD_SHARE;
      N *= USUAL_THRESHOLD_SHARE;
    }
  }

  // A row the hunt expects (e.g. a new account's first-day trouble) is explained, whatever it scores: its conditions say
  // what the ordinary form is (a forgotten password is a lockout's worth of failures, far above the account's usual).
  const expectation = evaluateConditions(hunt.expected, row, parameters).find((e) => e.met);
  if (expectation && !digestOnly) {
    digestOnly = `expected: ${expectation.t.column} ${fmt(expectation.x)} ${expectation.t.op} ${fmt(expectation.y)}, ${expectation.t.reason}`;
    reasons.push(digestOnly);
    // The expectation explains the whole row: every signal counts a quarter.
    [T, D, R, N] = [T, D, R, N].map((signal) => signal * USUAL_THRESHOLD_SHARE);
  }

  const signals = { threshold: T, deviation: learning ? 0 : D, rarity: R, novelty: N };
  const score = Math.round(
    100 *
      (1 -
        (1 - thresholdWeight * signals.threshold) *
          (1 - WEIGHTS.deviation * signals.deviation) *
          (1 - WEIGHTS.rarity * signals.rarity) *
          (1 - WEIGHTS.novelty * signals.novelty)),
  );
  if (learning) reasons.push(`learning: ${huntState.windows} of ${hunt.learningWindows} windows seen, only thresholds count`);
  return {
    score,
    signals,
    reasons,
    learning,
    thresholdMet,
    ...(digestOnly ? { digestOnly } : {}),
    ...(fleetWide ? { fleetWide } : {}),
  };
}
