/**
 * Every scheduled job as one table: a timer per built-in hunt, the generic timer for imported
 * hunts, the digest, and the daily prune of old state. The Functions app registers each as a timer on `%<setting>%`; `hunts
 * serve` arms the same jobs on the schedules the settings give.
 */
import { builtInHunts, importedHunts, scheduleSettingName } from "../hunts/catalog.js";
import type { Logger } from "../log.js";
import { describeDigests, sendDigest } from "../notify/notifier.js";
import { describeScheduledRun, runScheduled } from "../runs/runner.js";
import { describePrune, PruneError } from "../runs/retention.js";
import { pruneRuntimeState, type Runtime } from "../runtime.js";

export interface ScheduledJob {
  /** The function's name in Azure. */
  name: string;
  /** The app setting that holds its NCRONTAB schedule. */
  scheduleSetting: string;
  /** The schedule in force for these settings. */
  scheduleFor(runtime: Runtime): string;
  run(runtime: Runtime, log: Logger, now: number): Promise<void>;
}

/** Imported hunts cannot have timers of their own (function names are fixed at deploy time): one timer runs every due one. */
async function runImportedHunts(runtime: Runtime, log: Logger, now: number): Promise<void> {
  const failures: string[] = [];
  for (const hunt of importedHunts()) {
    try {
      // Due or not, the watermark decides: a hunt whose next window is not complete does nothing.
      const result = await runScheduled(hunt, { ...runtime.services, log }, now);
      if (result.runs.length) log.info(describeScheduledRun(hunt.id, result), { huntId: hunt.id });
    } catch (error) {
      failures.push(`${hunt.id}: ${(error as Error).message}`);
      log.error(`${hunt.id}: ${(error as Error).message}`, { huntId: hunt.id, status: "failed" });
    }
  }
  // The others ran; the invocation still fails so the host records it and alerts can fire.
  if (failures.length) throw new Error(`${failures.length} imported hunt(s) failed: ${failures.join("; ")}`);
}

/** Deletes what the retention settings no longer keep; what one kind could not prune is logged with what the others did. */
async function pruneOldState(runtime: Runtime, log: Logger, now: number): Promise<void> {
  try {
    log.info(describePrune(await pruneRuntimeState(runtime, now)));
  } catch (error) {
    if (error instanceof PruneError) log.error(`${describePrune(error.report)}; ${error.message}`);
    throw error;
  }
}

export function scheduledJobs(): ScheduledJob[] {
  return [
    ...builtInHunts().map((hunt): ScheduledJob => ({
      name: `hunt-${hunt.id}`,
      scheduleSetting: scheduleSettingName(hunt.id),
      scheduleFor: (runtime) => runtime.settings.schedules[hunt.id] ?? hunt.schedule,
      run: async (runtime, log, now) => {
        const result = await runScheduled(hunt, { ...runtime.services, log }, now);
        log.info(describeScheduledRun(hunt.id, result), { huntId: hunt.id });
      },
    })),
    {
      name: "digest",
      scheduleSetting: "DIGEST_SCHEDULE",
      scheduleFor: (runtime) => runtime.settings.DIGEST_SCHEDULE,
      run: async (runtime, log) => {
        const results = await sendDigest(runtime.findings, { ...runtime.notifier, log });
        log.info(`digest: ${describeDigests(results)}`);
      },
    },
    {
      name: "imported-hunts",
      scheduleSetting: "IMPORTED_HUNTS_SCHEDULE",
      scheduleFor: (runtime) => runtime.settings.IMPORTED_HUNTS_SCHEDULE,
      run: runImportedHunts,
    },
    {
      name: "prune-state",
      scheduleSetting: "RETENTION_SCHEDULE",
      scheduleFor: (runtime) => runtime.settings.RETENTION_SCHEDULE,
      run: pruneOldState,
    },
  ];
}
