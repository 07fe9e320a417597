/**
 * State that does not grow forever: once a day (the `prune-state` job, or `hunts prune`) every
 * table drops what is older than its retention. Each store knows its own layout and deletes with
 * its own rule (lib/state/tables.ts deleteWhere); this module decides what is old and in what order.
 *
 *   findings           windows that ended more than `findingsMs` ago (by UTC day)
 *   incidents          last alert more than `incidentsMs` ago, with the entities' links to them
 *   runs               started more than `runsMs` ago
 *   delivery claims    written more than `deliveryClaimsMs` ago
 *   suppression        ran out; digest watermarks older than the findings they would cover
 *   staged             written more than `stagedMs` ago, unless a resume will still read them
 *   baselines          of every hunt, removed ones too: entities, values and learning state not
 *                      seen in a window for `baselinesMs` (conditional deletes: a run wins)
 *
 * A prune has a time budget (the Functions timeout ends an invocation): past it, the step it is
 * in stops between pages and the step's name is stored; the next prune starts there and goes on
 * to the last step (the ones before it were done by the prune that stopped). What was deleted
 * stays deleted and what is left is listed again, so nothing is deleted twice or skipped.
 */
import type { BaselineStore } from "../baselines/store.js";
import type { FindingStore } from "../findings/store.js";
import type { IncidentStore } from "../incidents/store.js";
import type { DeliveryClaims } from "../notify/claims.js";
import type { NotifyState } from "../notify/destination-state.js";
import { TimeBudget } from "../state/tables.js";
import type { StagedObservations } from "./staging.js";
import type { RunStore } from "./store.js";

export interface RetentionPolicy {
  findingsMs: number;
  incidentsMs: number;
  runsMs: number;
  deliveryClaimsMs: number;
  stagedMs: number;
  baselinesMs: number;
  /** How long one prune may run; what is left waits for the next. */
  budgetMs: number;
}

/** The stores whose tables are pruned. */
export interface RetainedState {
  findings: FindingStore;
  incidents: IncidentStore;
  runs: RunStore;
  claims: DeliveryClaims;
  notifyState: NotifyState;
  staged: StagedObservations;
  baselines: BaselineStore;
}

/** Rows deleted per kind of state. */
export interface PruneReport {
  findings: number;
  incidents: number;
  runs: number;
  deliveryClaims: number;
  suppression: number;
  digests: number;
  staged: number;
  baselines: number;
  /** The step the budget ran out in (the next prune starts there); absent when every step finished. */
  stoppedAt?: PruneStep;
}

/** One kind of state could not be pruned; the others were. */
export class PruneError extends Error {
  constructor(
    readonly report: PruneReport,
    readonly failures: string[],
  ) {
    super(`pruning failed for ${failures.join("; ")}`);
  }
}

/**
 * Staged observations a resume will still read: its run was scored but not applied, and its
 * window is ahead of the hunt's watermark (a window behind it is never planned again).
 */
async function stagedStillNeeded(runs: RunStore, runId: string): Promise<boolean> {
  const run = await runs.get(runId);
  if (run?.status !== "scored") return false;
  const watermark = await runs.getWatermark(run.huntId);
  return watermark === undefined || Date.parse(run.window.end) > watermark.end;
}

export const PRUNE_STEPS = ["findings", "incidents", "runs", "delivery claims", "suppression and digests", "staged", "baselines"] as const;
export type PruneStep = (typeof PRUNE_STEPS)[number];

/** The steps this prune takes: from where the last one stopped (a step of a version since renamed: from the first) to the last. */
function stepsFrom(cursor: string | undefined): PruneStep[] {
  return PRUNE_STEPS.slice(Math.max(0, PRUNE_STEPS.indexOf(cursor as PruneStep)));
}

/**
 * Deletes what is older than the policy keeps, within its time budget. Every step is tried even
 * if another fails; the failures are thrown together at the end (a PruneError carrying what was
 * deleted). The first step always runs, so each prune gets further than the last.
 */
export async function pruneState(state: RetainedState, policy: RetentionPolicy, now: number): Promise<PruneReport> {
  const budget = TimeBudget.of(policy.budgetMs);
  const report: PruneReport = {
    findings: 0,
    incidents: 0,
    runs: 0,
    deliveryClaims: 0,
    suppression: 0,
    digests: 0,
    staged: 0,
    baselines: 0,
  };
  const prune: Record<PruneStep, () => Promise<void>> = {
    findings: async () => {
      report.findings = await state.findings.prune(now - policy.findingsMs, budget);
    },
    incidents: async () => {
      report.incidents = await state.incidents.prune(now - policy.incidentsMs, budget);
    },
    runs: async () => {
      report.runs = await state.runs.prune(now - policy.runsMs, budget);
    },
    "delivery claims": async () => {
      report.deliveryClaims = await state.claims.prune(now - policy.deliveryClaimsMs, budget);
    },
    "suppression and digests": async () => {
      // A digest watermark older than the findings it would cover says nothing any more.
      const pruned = await state.notifyState.prune(now, now - policy.findingsMs, budget);
      report.suppression = pruned.suppression;
      report.digests = pruned.digests;
    },
    staged: async () => {
      report.staged = await state.staged.prune(now - policy.stagedMs, (runId) => stagedStillNeeded(state.runs, runId), budget);
    },
    baselines: async () => {
      report.baselines = await state.baselines.prune(now - policy.baselinesMs, budget);
    },
  };
  const failures: string[] = [];
  const cursor = await state.runs.getPruneCursor().catch((error: Error): undefined => {
    failures.push(`where the last prune stopped: ${error.message}`);
  });
  const steps = stepsFrom(cursor);
  for (const [i, step] of steps.entries()) {
    if (i > 0 && budget.spent) budget.stopped = true;
    if (!budget.stopped) {
      try {
        await prune[step]();
      } catch (error) {
        failures.push(`${step}: ${(error as Error).message}`);
      }
    }
    if (budget.stopped) {
      report.stoppedAt = step;
      break;
    }
  }
  await state.runs.setPruneCursor(report.stoppedAt).catch((error: Error) => failures.push(`where this prune stopped: ${error.message}`));
  if (failures.length) throw new PruneError(report, failures);
  return report;
}

/** One line for a log: what was deleted. */
export function describePrune(report: PruneReport): string {
  const { stoppedAt, ...counts } = report;
  const parts = Object.entries(counts).map(([kind, count]) => `${count} ${kind}`);
  return `pruned ${parts.join(", ")}${stoppedAt ? `; time budget spent in ${stoppedAt}, the next prune resumes there` : ""}`;
}
