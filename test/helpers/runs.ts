import { scheduledRunId, type RunRecord } from "../../lib/runs/store.js";

const HOUR = 3_600_000;

/** A scheduled run's record for the hour-long window ending at `windowEnd`, nothing found. */
export function runRecord(huntId: string, windowEnd: number, status: RunRecord["status"] = "succeeded"): RunRecord {
  return {
    runId: scheduledRunId(huntId, windowEnd),
    huntId,
    kind: "scheduled",
    status,
    window: { start: new Date(windowEnd - HOUR).toISOString(), end: new Date(windowEnd).toISOString() },
    source: "local",
    startedAt: new Date(windowEnd + 60_000).toISOString(),
    rows: 0,
    entities: 0,
    findings: 0,
    alerts: 0,
    topFindings: [],
    skippedWindows: 0,
  };
}
