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
 * The hunts of one day side by side: while one waits for storage another computes. Only joining
 * incidents is shared between hunts, so that step goes in the hunts' order (`alertTurn`): a hunt's
 * alerts wait until every hunt before it has finished its day. The result is the one running them
 * one after the other would give.
 */
class DayTurns {
  private readonly finished = new Map<string, { promise: Promise<void>; resolve: () => void }>();

  constructor(private readonly order: readonly string[]) {
    for (const id of order) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.finished.set(id, { promise, resolve });
    }
  }

  /** Resolves once every hunt before `huntId` has finished its day. */
  async before(huntId: string): Promise<void> {
    await Promise.all(this.order.slice(0, this.order.indexOf(huntId)).map((id) => this.finished.get(id)!.promise));
  }

  done(huntId: string): void {
    this.finished.get(huntId)!.resolve();
  }
}

export interface ReplayOptions {
  /** One hunt after the other instead of side by side (the same result, slower; for timing each hunt). */
  huntByHunt?: boolean;
}

/**
 * Day by day, every hunt as its timer would fire: alerts of different hunts reach incidents in the
 * order of their windows, as they would in production.
 */
export async function replay(
  hunts: readonly Hunt[],
  services: HuntServices,
  period: { start: number; end: number },
  onProgress?: (p: ReplayProgress) => void,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const runs: RunRecord[] = [];
  const findings: Finding[] = [];
  const failures: ReplayResult["failures"] = [];
  const days = Math.ceil((period.end - period.start) / DAY);
  for (let day = 1; day <= days; day++) {
    // Shortly after midnight, as a scheduled trigger would fire.
    const now = Math.min(period.start + day * DAY, period.end) + 60_000;
    const running = hunts.filter((hunt) => !failures.some((f) => f.huntId === hunt.id));
    const turns = new DayTurns(running.map((hunt) => hunt.id));
    const runDay = async (hunt: Hunt) => {
      try {
        return await runScheduled(hunt, { ...services, alertTurn: () => turns.before(hunt.id) }, now);
      } catch (error) {
        return { error: (error as Error).message };
      } finally {
        turns.done(hunt.id);
      }
    };
    const record = (hunt: Hunt, outcome: Awaited<ReturnType<typeof runDay>>) => {
      if ("error" in outcome) {
        failures.push({ huntId: hunt.id, error: outcome.error });
        return;
      }
      runs.push(...outcome.runs);
      findings.push(...outcome.findings);
      onProgress?.({ day, days, huntId: hunt.id, runs: outcome.runs.length, alerts: outcome.findings.filter((f) => f.alert).length });
    };
    if (options.huntByHunt) for (const hunt of running) record(hunt, await runDay(hunt));
    else {
      const outcomes = await Promise.all(running.map(runDay));
      // In the hunts' order, whatever order they finished in.
      running.forEach((hunt, i) => record(hunt, outcomes[i]));
    }
  }
  return { runs, findings, failures };
}
