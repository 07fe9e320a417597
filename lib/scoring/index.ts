/**
 * Scores a finding from 0 to 100 and says why.
 *
 * Four signals, each in [0, 1]:
 *   T  threshold: the hunt's conditions hold (all or any, as the hunt says)         weight 0.65
 *   D  deviation: the largest robust z of a feature against the entity's own recent
 *      history, 1 - exp(-z / 4) for z > 0 (z 3 -> 0.53, z 10 -> 0.92)               weight 0.55
 *   R  rarity: -log2 p of the value in the population, p = (k + 1) / (N + 2) with k
 *      entities that ever showed it out of N, as min(1, bits / 6), times the row's
 *      weight column when the hunt names one                                       weight 0.50
 *   N  novelty: the entity has never been seen before                               weight 0.40
 * combined as a noisy-or: score = 100 * (1 - (1 - 0.65 T)(1 - 0.55 D)(1 - 0.5 R)(1 - 0.4 N)).
 *
 * During a hunt's learning period (fewer windows applied than its learningWindows) only T
 * counts, and D needs at least three past windows of the entity itself.
 */
import type { Baseline, HuntState, Prevalence } from "../baselines/model.js";
import { median, robustZ } from "../baselines/model.js";
import type { Hunt, Threshold } from "../hunts/schema.js";

export const WEIGHTS = { threshold: 0.65, deviation: 0.55, rarity: 0.5, novelty: 0.4 } as const;
export const Z_SCALE = 4;
export const RARITY_BITS = 6;
export const MIN_HISTORY = 3;

export interface ScoreInput {
  hunt: Hunt;
  row: Record<string, unknown>;
  features: Record<string, number>;
  baseline: Baseline | undefined;
  huntState: HuntState;
  prevalence?: { valueKey: string; stats: Prevalence | undefined; population: number };
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
}

function thresholdValue(hunt: Hunt, threshold: Threshold): number {
  return typeof threshold.value === "number" ? threshold.value : Number(hunt.parameters[threshold.value]);
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

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

export function scoreFinding(input: ScoreInput): Score {
  const { hunt, row, baseline, huntState } = input;
  const reasons: string[] = [];
  const learning = huntState.windows < hunt.learningWindows;

  // T: thresholds
  const conditions = hunt.thresholds.conditions;
  const results = conditions.map((t) => {
    const x = Number(row[t.column]);
    const y = thresholdValue(hunt, t);
    return { t, x, y, met: Number.isFinite(x) && compare(x, t.op, y) };
  });
  const thresholdMet =
    conditions.length > 0 && (hunt.thresholds.match === "all" ? results.every((r) => r.met) : results.some((r) => r.met));
  if (thresholdMet) {
    for (const r of results.filter((r) => r.met)) reasons.push(`${r.t.column} ${fmt(r.x)} ${r.t.op} ${fmt(r.y)} (threshold)`);
  }
  const T = thresholdMet ? 1 : 0;

  // D: deviation from the entity's own history
  let D = 0;
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
      D = 1 - Math.exp(-best.z / Z_SCALE);
      if (best.z >= 2)
        reasons.push(
          `${best.column} ${fmt(input.features[best.column])} is ${best.z.toFixed(1)} robust z above its usual ${fmt(best.median)}`,
        );
    }
  }

  // R: population rarity
  let R = 0;
  if (!learning && input.prevalence) {
    const k = input.prevalence.stats?.count ?? 0;
    const n = Math.max(input.prevalence.population, k);
    const p = (k + 1) / (n + 2);
    const bits = -Math.log2(p);
    const weightColumn = hunt.prevalence?.weightColumn;
    const weight = weightColumn && Number.isFinite(Number(row[weightColumn])) ? Number(row[weightColumn]) : 1;
    R = Math.min(1, bits / RARITY_BITS) * Math.max(0, Math.min(1, weight));
    if (k <= 2 && R > 0.3)
      reasons.push(
        `${input.prevalence.valueKey} seen on ${k} of ${n} ${hunt.prevalence!.across.join("/")} before (${bits.toFixed(1)} bits)`,
      );
  }

  // N: novelty
  let N = 0;
  if (!learning && !baseline) {
    N = 1;
    reasons.push(`first time this ${hunt.entity.type} is seen by this hunt`);
  }

  const signals = { threshold: T, deviation: learning ? 0 : D, rarity: R, novelty: N };
  const score = Math.round(
    100 *
      (1 -
        (1 - WEIGHTS.threshold * signals.threshold) *
          (1 - WEIGHTS.deviation * signals.deviation) *
          (1 - WEIGHTS.rarity * signals.rarity) *
          (1 - WEIGHTS.novelty * signals.novelty)),
  );
  if (learning) reasons.push(`learning: ${huntState.windows} of ${hunt.learningWindows} windows seen, only thresholds count`);
  return { score, signals, reasons, learning };
}
