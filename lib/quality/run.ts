/**
 * The two detection-quality exercises, shared by the tests and `npm run bench quality`:
 * labelled generated logs replayed day by day, and the real samples scored on demand.
 */
import { findHunt, builtInHunts } from "../hunts/catalog.js";
import { runQuery } from "../kql/index.js";
import { datetimeToMs } from "../kql/values.js";
import { loadLogs } from "../readers/index.js";
import { replay } from "../runs/replay.js";
import { runOnDemand, servicesFor } from "../runs/runner.js";
import { LocalSource } from "../sources/local.js";
import type { Storage } from "../state/storage.js";
import { generatedTables, generateOrgLogs, type GenerateOptions } from "../synth/org.js";
import type { PhenomenonLabel } from "../synth/phenomena.js";
import { evaluate, qualityTotals, type HuntQuality, type QualityTotals } from "./evaluate.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";

const DAY = 86_400_000;

export interface GeneratedQuality {
  hunts: HuntQuality[];
  totals: QualityTotals;
  /** The phenomena with this seed's parameters (their entity lists left out). */
  phenomena: Omit<PhenomenonLabel, "entities">[];
  rows: Record<string, number>;
  /** Wall times, and this process's CPU time for the replay (Azurite's own is not included): wall time swings with the machine's load. */
  seconds: { generate: number; replay: number; replayCpu: number };
}

/** Generates a labelled organisation, replays it day by day through the scheduled path, and judges the last day. */
export async function measureGenerated(storage: Storage, options: GenerateOptions): Promise<GeneratedQuality> {
  const started = performance.now();
  const logs = generateOrgLogs(options);
  const tables = generatedTables(logs);
  const generated = performance.now();
  const services = servicesFor(storage, new LocalSource(tables, "generated"));
  const cpu = process.cpuUsage();
  const { findings, runs, failures } = await replay(builtInHunts(), services, { start: logs.start, end: logs.end });
  // A hunt that failed would count as one that found nothing: say why instead.
  if (failures.length) throw new Error(`replay failed: ${failures.map((f) => `${f.huntId}: ${f.error}`).join("; ")}`);
  const replayed = performance.now();
  const replayCpu = process.cpuUsage(cpu);
  const hunts = evaluate(
    builtInHunts(),
    logs.labels,
    findings,
    { start: logs.end - DAY, end: logs.end },
    { runs, phenomena: logs.phenomena },
  );
  return {
    hunts,
    totals: qualityTotals(hunts),
    phenomena: logs.phenomena.map(({ phenomenon, description, parameters }) => ({ phenomenon, description, parameters })),
    rows: Object.fromEntries(Object.entries(tables).map(([name, t]) => [name, t.rows.length])),
    seconds: {
      generate: Number(((generated - started) / 1000).toFixed(2)),
      replay: Number(((replayed - generated) / 1000).toFixed(2)),
      replayCpu: Number(((replayCpu.user + replayCpu.system) / 1e6).toFixed(2)),
    },
  };
}

export async function evaluateGenerated(storage: Storage, options: GenerateOptions): Promise<HuntQuality[]> {
  return (await measureGenerated(storage, options)).hunts;
}

export interface SampleCheck {
  sample: string;
  huntId: string;
  expectedEntity: string;
  found: boolean;
  rank: number | null;
  score: number | null;
}

/** A responder's view: a hunt run on demand over a real sample's own time range, no history. */
export async function checkRealSample(
  storage: Storage,
  path: string,
  huntId: string,
  expectedEntity: (key: string) => boolean,
  label: string,
): Promise<SampleCheck> {
  const hunt = findHunt(huntId)!;
  const { tables } = await loadLogs([path]);
  const range = runQuery("SecurityEvent | summarize First = min(TimeGenerated), Last = max(TimeGenerated)", {
    tables,
    schemas: TABLE_SCHEMAS,
  }).table.rows[0];
  const [first, last] = [datetimeToMs(Number(range[0])), datetimeToMs(Number(range[1]))];
  const window = { start: Math.floor(first / 60_000) * 60_000, end: Math.ceil((last + 1) / 60_000) * 60_000 };
  const services = servicesFor(storage, new LocalSource(tables, path));
  const { findings } = await runOnDemand(hunt, services, { window, dryRun: true }, window.end);
  const index = findings.findIndex((f) => expectedEntity(f.entity.key));
  return {
    sample: label,
    huntId,
    expectedEntity: index >= 0 ? findings[index].entity.key : "(none)",
    found: index === 0 && findings[0].alert,
    rank: index >= 0 ? index + 1 : null,
    score: index >= 0 ? findings[index].score : null,
  };
}
