/**
 * Writes generated logs as `<dir>/logs/<Table>.ndjson` (rows carry `Type`, as Log Analytics
 * exports do) and the ground truth as `<dir>/labels.json` (attacks and benign phenomena), outside the logs folder.
 */
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { join } from "node:path";
import type { GeneratedLogs } from "./org.js";

export const LABELS_FILE = "labels.json";

export const LOGS_FOLDER = "logs";

export async function writeDataset(dir: string, logs: GeneratedLogs): Promise<string[]> {
  await mkdir(join(dir, LOGS_FOLDER), { recursive: true });
  const written: string[] = [];
  for (const [table, records] of Object.entries(logs.tables)) {
    const path = join(dir, LOGS_FOLDER, `${table}.ndjson`);
    const out = createWriteStream(path);
    for (const record of records) {
      if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    written.push(path);
  }
  await writeFile(
    join(dir, LABELS_FILE),
    `${JSON.stringify({ start: new Date(logs.start).toISOString(), end: new Date(logs.end).toISOString(), labels: logs.labels, phenomena: logs.phenomena }, null, 2)}\n`,
  );
  return written;
}
