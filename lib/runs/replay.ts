/**
 * Replays time: runs every hunt's scheduled path as if the clock stood at the end of each day in
 * turn, so baselines build up over history the way they would in production.
 */
import type { Finding } from "../findings/finding.js";
import type { Hunt } from "../hunts/schema.js";
import { runScheduled, type HuntServices } from "./runner.js";
import type { RunRecord } from "./store.js";

const DAY = 86_400_000;

export interface ReplayProgress {
  day: number;
  days: number;
  huntId: string;
  runs: number;
  alerts: number;
}

export interface ReplayResult {
  runs: RunRecord[];
  findings: Finding[];
  /** Hunts that failed, with why: a failed hunt sits out the days after, the others go on. */
  failures: { huntId: string; error: string }[];
}

/**
 * Day by day, every hunt in turn, as their timers would fire: alerts of different hunts reach
 * incidents in the order of their windows, as they would in production.
 */
export async function replay(
  hunts: readonly Hunt[],
  services: HuntServices,
  period: { start: number; end: number },
  onProgress?: (p: ReplayProgress) => void,
): Promise<ReplayResult> {
  const runs: RunRecord[] = [];
  const findings: Finding[] = [];
  const failures: ReplayResult["failures"] = [];
  const days = Math.ceil((period.end - period.start) / DAY);
  for (let day = 1; day <= days; day++) {
    // Shortly after midnight, as a scheduled trigger would fire.
    const now = Math.min(period.start + day * DAY, period.end) + 60_000;
    for (const hunt of hunts) {
      if (failures.some((f) => f.huntId === hunt.id)) continue;
      try {
        const result = await runScheduled(hunt, services, now);
        runs.push(...result.runs);
        findings.push(...result.findings);
        onProgress?.({ day, days, huntId: hunt.id, runs: result.runs.length, alerts: result.findings.filter((f) => f.alert).length });
      } catch (error) {
        failures.push({ huntId: hunt.id, error: (error as Error).message });
      }
    }
  }
  return { runs, findings, failures };
}
