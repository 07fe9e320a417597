/**
 * Replays time: runs every hunt's scheduled path as if the clock stood at the end of each day in
 * turn, so baselines build up over history the way they would in production.
 */
import type { Finding } from "../findings/finding.js";
import type { Hunt } from "../hunts/schema.js";
import { runScheduled, type AlertOrder, type HuntServices } from "./runner.js";
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
 * incidents is shared between hunts, so alerts join in the order timers firing in production would
 * give them, whichever hunt computes faster: by the end of their window, then in the hunts' order. A
 * window's alerts wait until every other hunt has done its windows ending before it (and, for a hunt
 * earlier in the order, those ending with it); an hourly hunt's alerts wait for no daily hunt.
 */
export class AlertTurns {
  /** Per hunt, the ends of its planned windows not done yet, in order; [-Infinity] until it has planned them. */
  private readonly pending = new Map<string, number[]>();
  private readonly rank = new Map<string, number>();
  private waiting: { huntId: string; end: number; resolve: () => void }[] = [];

  constructor(order: readonly string[]) {
    order.forEach((id, i) => {
      this.pending.set(id, [-Infinity]);
      this.rank.set(id, i);
    });
  }

  forHunt(huntId: string): AlertOrder {
    return {
      planned: (windows) =>
        this.update(
          huntId,
          windows.map((w) => w.end),
        ),
      turn: (window) =>
        this.mayJoin(huntId, window.end)
          ? Promise.resolve()
          : new Promise((resolve) => this.waiting.push({ huntId, end: window.end, resolve })),
      done: (window) =>
        this.update(
          huntId,
          this.pending.get(huntId)!.filter((end) => end > window.end),
        ),
    };
  }

  /** The hunt has finished its day (or failed): it holds up no one. */
  finish(huntId: string): void {
    this.update(huntId, []);
  }

  private update(huntId: string, ends: number[]): void {
    this.pending.set(huntId, ends);
    const still: typeof this.waiting = [];
    for (const waiter of this.waiting) {
      if (this.mayJoin(waiter.huntId, waiter.end)) waiter.resolve();
      else still.push(waiter);
    }
    this.waiting = still;
  }

  private mayJoin(huntId: string, end: number): boolean {
    const rank = this.rank.get(huntId)!;
    for (const [other, ends] of this.pending) {
      if (other === huntId || !ends.length) continue;
      if (ends[0] < end || (ends[0] === end && this.rank.get(other)! < rank)) return false;
    }
    return true;
  }
}

export interface ReplayOptions {
  /**
   * One hunt after the other instead of side by side (slower; for timing each hunt): within a day
   * each hunt's alerts join incidents before the next hunt's, so incidents may group otherwise.
   */
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
    // One after the other, each hunt's alerts join before the next hunt runs: nothing to order.
    const turns = options.huntByHunt ? undefined : new AlertTurns(running.map((hunt) => hunt.id));
    const runDay = async (hunt: Hunt) => {
      try {
        return await runScheduled(hunt, turns ? { ...services, alertOrder: turns.forHunt(hunt.id) } : services, now);
      } catch (error) {
        return { error: (error as Error).message };
      } finally {
        turns?.finish(hunt.id);
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
