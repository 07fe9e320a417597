/**
 * Detection quality on labelled data: did each injected attack surface among its hunt's top
 * findings, and how many alerts did benign entities raise for the entity-windows the hunts scored
 * on the attack day (what a SOC has to read)?
 */
import type { Finding } from "../findings/finding.js";
import type { Hunt } from "../hunts/schema.js";
import { MAX_FINDINGS_PER_RUN } from "../runs/runner.js";
import type { RunRecord } from "../runs/store.js";
import type { ScenarioLabel } from "../synth/org.js";
import { producedBy, type PhenomenonLabel } from "../synth/phenomena.js";

export const TOP_N = 5;

/** What raised a hunt's false alerts: a benign phenomenon of the generator, or everyday activity. */
export interface FalseAlertCause {
  cause: string;
  alerts: number;
  /** The findings' reasons with numbers blanked, most frequent first. */
  reasons: { reason: string; count: number }[];
  example: { entity: string; score: number; reasons: string[] };
}

export interface HuntQuality {
  huntId: string;
  labels: { scenario: string; entity: string; found: boolean; rank: number | null; score: number | null }[];
  recall: number;
  /** Benign entities with at least one alert in the attack period. */
  falsePositives: number;
  falsePositiveEntities: string[];
  highestBenignScore: number;
  alertScore: number;
  /** Entities the hunt's runs scored in the attack period, summed over its runs (0 when runs were not given). */
  entityWindows: number;
  /** Alerting findings on benign entities in the attack period, one per entity and window. */
  falseAlerts: number;
  falseAlertsPer1000: number;
  /**
   * Attack-day runs that kept the most findings a run keeps: lower-scored findings were dropped,
   * so the false alerts (and an attack's rank) may be understated.
   */
  cappedRuns: number;
  causes: FalseAlertCause[];
}

export interface EvaluationContext {
  /** The replay's runs: their entity counts are the denominator of the false alert rate. */
  runs?: readonly RunRecord[];
  /** The generator's benign phenomena, to say which one raised each false alert. */
  phenomena?: readonly PhenomenonLabel[];
}

/** The finding is about the label's entity, or stands for it among others (a folded sweep). */
function matches(label: Pick<ScenarioLabel, "entity">, finding: Finding): boolean {
  const entity = label.entity.toLowerCase();
  return finding.entity.key.toLowerCase() === entity || (finding.members ?? []).some((m) => m.toLowerCase() === entity);
}

function overlaps(window: { start: string; end: string }, period: { start: number; end: number }): boolean {
  return Date.parse(window.end) > period.start && Date.parse(window.start) < period.end;
}

/** A reason with its numbers blanked, so "HostCount 31 >= 20" and "HostCount 27 >= 20" count as one. */
export function reasonPattern(reason: string): string {
  return reason.replace(/\d+(?:\.\d+)*/g, "N");
}

export const EVERYDAY_ACTIVITY = "everyday activity (no labelled phenomenon)";

function causesOf(falseAlerts: readonly Finding[], phenomena: readonly PhenomenonLabel[]): FalseAlertCause[] {
  const groups = new Map<string, Finding[]>();
  for (const f of falseAlerts) {
    const causes = phenomena.filter((p) => producedBy(p, f.entity.key)).map((p) => p.phenomenon);
    const cause = causes.length ? causes.join(" + ") : EVERYDAY_ACTIVITY;
    groups.set(cause, [...(groups.get(cause) ?? []), f]);
  }
  return [...groups.entries()]
    .map(([cause, findings]) => {
      const counts = new Map<string, number>();
      for (const f of findings) for (const r of new Set(f.reasons.map(reasonPattern))) counts.set(r, (counts.get(r) ?? 0) + 1);
      const example = [...findings].sort((a, b) => b.score - a.score)[0];
      return {
        cause,
        alerts: findings.length,
        reasons: [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([reason, count]) => ({ reason, count })),
        example: { entity: example.entity.key, score: example.score, reasons: example.reasons },
      };
    })
    .sort((a, b) => b.alerts - a.alerts);
}

/** Judges findings from the labelled period's final window(s) (where the scenarios were injected). */
export function evaluate(
  hunts: readonly Hunt[],
  labels: readonly ScenarioLabel[],
  findings: readonly Finding[],
  attackPeriod: { start: number; end: number },
  context: EvaluationContext = {},
): HuntQuality[] {
  // Any entity a label names, or lists as touched by its attack, is not benign.
  const touched = new Set(labels.flatMap((l) => [l.entity, ...(l.related ?? [])]).map((e) => e.toLowerCase()));
  return hunts.map((hunt) => {
    const own = findings.filter((f) => f.huntId === hunt.id && overlaps(f.window, attackPeriod)).sort((a, b) => b.score - a.score);
    // Several windows may fall in the attack period (hourly hunts): rank by each entity's best.
    const best = new Map<string, Finding>();
    for (const f of own) if (!best.has(f.entity.key)) best.set(f.entity.key, f);
    const ranked = [...best.values()];
    const expected = labels.filter((l) => l.hunt === hunt.id);
    const results = expected.map((label) => {
      const finding = ranked.find((f) => matches(label, f));
      // Ties count against the attack: a SOC reading the top N cannot tell it from an equal score.
      const rank = finding ? ranked.filter((f) => f !== finding && f.score >= finding.score).length + 1 : null;
      return {
        scenario: label.scenario,
        entity: label.entity,
        found: !!finding && rank !== null && rank <= TOP_N && finding.alert,
        rank,
        score: finding?.score ?? null,
      };
    });
    const isBenign = (f: Finding) => ![f.entity.key, ...(f.members ?? [])].some((k) => touched.has(k.toLowerCase()));
    const benign = ranked.filter(isBenign);
    const falsePositives = benign.filter((f) => f.alert);
    const falseAlerts = own.filter((f) => f.alert && isBenign(f));
    const attackDayRuns = (context.runs ?? []).filter((r) => r.huntId === hunt.id && overlaps(r.window, attackPeriod));
    const entityWindows = attackDayRuns.reduce((n, r) => n + r.entities, 0);
    return {
      huntId: hunt.id,
      labels: results,
      recall: results.length ? results.filter((r) => r.found).length / results.length : 1,
      falsePositives: falsePositives.length,
      falsePositiveEntities: falsePositives.map((f) => `${f.entity.key} (${f.score})`),
      highestBenignScore: benign.reduce((m, f) => Math.max(m, f.score), 0),
      alertScore: hunt.alertScore,
      entityWindows,
      falseAlerts: falseAlerts.length,
      falseAlertsPer1000: per1000(falseAlerts.length, entityWindows),
      cappedRuns: attackDayRuns.filter((r) => r.findings >= MAX_FINDINGS_PER_RUN).length,
      causes: causesOf(falseAlerts, context.phenomena ?? []),
    };
  });
}

function per1000(alerts: number, entityWindows: number): number {
  return entityWindows ? Number(((1000 * alerts) / entityWindows).toFixed(2)) : 0;
}

export interface QualityTotals {
  labels: number;
  found: number;
  falsePositives: number;
  recall: number;
  entityWindows: number;
  falseAlerts: number;
  falseAlertsPer1000: number;
}

/** All hunts together: labelled attacks, how many were found, alerting benign entities and the false alert rate. */
export function qualityTotals(quality: readonly HuntQuality[]): QualityTotals {
  const sum = (f: (h: HuntQuality) => number) => quality.reduce((n, h) => n + f(h), 0);
  const labels = sum((h) => h.labels.length);
  const found = sum((h) => h.labels.filter((l) => l.found).length);
  const entityWindows = sum((h) => h.entityWindows);
  const falseAlerts = sum((h) => h.falseAlerts);
  return {
    labels,
    found,
    falsePositives: sum((h) => h.falsePositives),
    recall: found / Math.max(1, labels),
    entityWindows,
    falseAlerts,
    falseAlertsPer1000: per1000(falseAlerts, entityWindows),
  };
}
