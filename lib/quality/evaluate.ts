/**
 * Detection quality on labelled data: did each injected attack surface among its hunt's top
 * findings, and did benign entities stay below the alert score?
 */
import type { Finding } from "../findings/finding.js";
import type { Hunt } from "../hunts/schema.js";
import type { ScenarioLabel } from "../synth/org.js";

export const TOP_N = 5;

export interface HuntQuality {
  huntId: string;
  labels: { scenario: string; entity: string; found: boolean; rank: number | null; score: number | null }[];
  recall: number;
  /** Alerting findings on entities no label names. */
  falsePositives: number;
  falsePositiveEntities: string[];
  highestBenignScore: number;
  alertScore: number;
}

function matches(label: Pick<ScenarioLabel, "entity">, finding: Finding): boolean {
  return finding.entity.key.toLowerCase() === label.entity.toLowerCase();
}

/** Judges findings from the labelled period's final window(s) (where the scenarios were injected). */
export function evaluate(
  hunts: readonly Hunt[],
  labels: readonly ScenarioLabel[],
  findings: readonly Finding[],
  attackPeriod: { start: number; end: number },
): HuntQuality[] {
  return hunts.map((hunt) => {
    const own = findings
      .filter((f) => f.huntId === hunt.id && Date.parse(f.window.end) > attackPeriod.start && Date.parse(f.window.start) < attackPeriod.end)
      .sort((a, b) => b.score - a.score);
    // Several windows may fall in the attack period (hourly hunts): rank by each entity's best.
    const best = new Map<string, Finding>();
    for (const f of own) if (!best.has(f.entity.key)) best.set(f.entity.key, f);
    const ranked = [...best.values()];
    const expected = labels.filter((l) => l.hunt === hunt.id);
    const results = expected.map((label) => {
      const index = ranked.findIndex((f) => matches(label, f));
      const finding = index >= 0 ? ranked[index] : undefined;
      return {
        scenario: label.scenario,
        entity: label.entity,
        found: !!finding && index < TOP_N && finding.alert,
        rank: index >= 0 ? index + 1 : null,
        score: finding?.score ?? null,
      };
    });
    // Any entity a label names, or lists as touched by its attack, is not benign.
    const touched = new Set(labels.flatMap((l) => [l.entity, ...(l.related ?? [])]).map((e) => e.toLowerCase()));
    const benign = ranked.filter((f) => !touched.has(f.entity.key.toLowerCase()));
    const falsePositives = benign.filter((f) => f.alert);
    return {
      huntId: hunt.id,
      labels: results,
      recall: results.length ? results.filter((r) => r.found).length / results.length : 1,
      falsePositives: falsePositives.length,
      falsePositiveEntities: falsePositives.map((f) => `${f.entity.key} (${f.score})`),
      highestBenignScore: benign.reduce((m, f) => Math.max(m, f.score), 0),
      alertScore: hunt.alertScore,
    };
  });
}

/** All hunts together: labelled attacks, how many were found, alerting benign entities. */
export function qualityTotals(quality: readonly HuntQuality[]): { labels: number; found: number; falsePositives: number; recall: number } {
  const labels = quality.reduce((n, h) => n + h.labels.length, 0);
  const found = quality.reduce((n, h) => n + h.labels.filter((l) => l.found).length, 0);
  return { labels, found, falsePositives: quality.reduce((n, h) => n + h.falsePositives, 0), recall: found / Math.max(1, labels) };
}
