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
 *   baselines          entities and values not seen for `baselinesMs` (conditional deletes: a run wins)
 */
import type { BaselineStore } from "../baselines/store.js";
import type { FindingStore } from "../findings/store.js";
import type { Hunt } from "../hunts/schema.js";
import type { IncidentStore } from "../incidents/store.js";
import type { DeliveryClaims } from "../notify/claims.js";
import type { NotifyState } from "../notify/destination-state.js";
import { peersStateId } from "./evaluate.js";
import type { StagedObservations } from "./staging.js";
import type { RunStore } from "./store.js";

export interface RetentionPolicy {
  findingsMs: number;
  incidentsMs: number;
  runsMs: number;
  deliveryClaimsMs: number;
  stagedMs: number;
  baselinesMs: number;
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

/**
 * Deletes what is older than the policy keeps. Every kind is tried even if another fails; the
 * failures are thrown together at the end (a PruneError carrying what was deleted).
 */
export async function pruneState(state: RetainedState, policy: RetentionPolicy, hunts: readonly Hunt[], now: number): Promise<PruneReport> {
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
  const failures: string[] = [];
  const step = async (name: string, prune: () => Promise<void>) => {
    try {
      await prune();
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
    }
  };
  await step("findings", async () => {
    report.findings = await state.findings.prune(now - policy.findingsMs);
  });
  await step("incidents", async () => {
    report.incidents = await state.incidents.prune(now - policy.incidentsMs);
  });
  await step("runs", async () => {
    report.runs = await state.runs.prune(now - policy.runsMs);
  });
  await step("delivery claims", async () => {
    report.deliveryClaims = await state.claims.prune(now - policy.deliveryClaimsMs);
  });
  await step("suppression and digests", async () => {
    // A digest watermark older than the findings it would cover says nothing any more.
    const pruned = await state.notifyState.prune(now, now - policy.findingsMs);
    report.suppression = pruned.suppression;
    report.digests = pruned.digests;
  });
  await step("staged observations", async () => {
    report.staged = await state.staged.prune(now - policy.stagedMs, (runId) => stagedStillNeeded(state.runs, runId));
  });
  for (const hunt of hunts) {
    await step(`baselines of ${hunt.id}`, async () => {
      const before = now - policy.baselinesMs;
      report.baselines += await state.baselines.prune(hunt.id, before);
      report.baselines += await state.baselines.prunePrevalence(hunt.id, before);
      if (hunt.peers) report.baselines += await state.baselines.prunePrevalence(peersStateId(hunt.id), before);
    });
  }
  if (failures.length) throw new PruneError(report, failures);
  return report;
}

/** One line for a log: what was deleted. */
export function describePrune(report: PruneReport): string {
  const parts = Object.entries(report).map(([kind, count]) => `${count} ${kind}`);
  return `pruned ${parts.join(", ")}`;
}
