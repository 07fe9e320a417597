/**
 * The local dataset `npm start` hunts over: generated org logs (with labelled scenarios) plus the
 * real samples bundled in `data/samples`, and the EVTX samples vendored with the tests (GPL-3.0 data, kept in their own folder).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { generateOrgLogs, type ScenarioLabel } from "./org.js";
import { LABELS_FILE, LOGS_FOLDER, writeDataset } from "./write.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/dist\/$/, "");
export const BUNDLED_SAMPLES = join(REPO_ROOT, "data", "samples");
export const VENDORED_EVTX_SAMPLES = join(REPO_ROOT, "test", "fixtures", "datasets", "evtx-attack-samples");

export const LOCAL_DATASET_OPTIONS = { seed: 42, days: 14, users: 40, workstations: 40 } as const;

const LabelsFile = z.object({
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  labels: z.array(
    z.object({
      scenario: z.string(),
      hunt: z.string(),
      entityType: z.string(),
      entity: z.string(),
      start: z.string(),
      end: z.string(),
      description: z.string(),
      related: z.array(z.string()).optional(),
    }),
  ),
});

export interface LocalDataset {
  /** Generated logs: one folder of NDJSON per table. */
  generatedLogs: string;
  /** Ground truth of the generated scenarios. */
  labels: ScenarioLabel[];
  /** Period the generated logs cover. */
  start: Date;
  end: Date;
  /** Real samples: each is hunted over its own time range. */
  samples: string[];
}

/** Writes the generated part under `dir` (once; it is deterministic) and lists the real samples. */
export async function ensureLocalDataset(dir: string): Promise<LocalDataset> {
  const labelsPath = join(dir, LABELS_FILE);
  if (!existsSync(labelsPath)) await writeDataset(dir, generateOrgLogs(LOCAL_DATASET_OPTIONS));
  const parsed = LabelsFile.parse(JSON.parse(await readFile(labelsPath, "utf8")));
  const samples = [BUNDLED_SAMPLES, ...(existsSync(VENDORED_EVTX_SAMPLES) ? [VENDORED_EVTX_SAMPLES] : [])];
  return {
    generatedLogs: join(dir, LOGS_FOLDER),
    labels: parsed.labels as ScenarioLabel[],
    start: new Date(parsed.start),
    end: new Date(parsed.end),
    samples,
  };
}
