/**
 * The two detection-quality exercises, shared by the tests and `npm run bench quality`:
 * labelled generated logs replayed day by day, and the real samples scored on demand.
 */
import { findHunt, builtInHunts } from "../hunts/catalog.js";
import { runQuery } from "../kql/index.js";
import { loadLogs } from "../readers/index.js";
import { replay } from "../runs/replay.js";
import { runOnDemand, servicesFor } from "../runs/runner.js";
import { LocalSource } from "../sources/local.js";
import type { Storage } from "../state/storage.js";
import { generatedTables, generateOrgLogs, type GenerateOptions } from "../synth/org.js";
import { evaluate, type HuntQuality } from "./evaluate.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";

const DAY = 86_400_000;

export async function evaluateGenerated(storage: Storage, options: GenerateOptions): Promise<HuntQuality[]> {
  const logs = generateOrgLogs(options);
  const tables = generatedTables(logs);
  const services = servicesFor(storage, new LocalSource(tables, "generated"));
  const { findings } = await replay(builtInHunts(), services, { start: logs.start, end: logs.end });
  return evaluate(builtInHunts(), logs.labels, findings, { start: logs.end - DAY, end: logs.end });
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
  const window = { start: Math.floor(Number(range[0]) / 60_000) * 60_000, end: Math.ceil((Number(range[1]) + 1) / 60_000) * 60_000 };
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
