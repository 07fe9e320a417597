/** Writes generated logs as NDJSON per table (rows carry `Type`, as Log Analytics exports do) plus the labels. */
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { join } from "node:path";
import type { GeneratedLogs } from "./org.js";

export const LABELS_FILE = "labels.json";

export async function writeDataset(dir: string, logs: GeneratedLogs): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [table, records] of Object.entries(logs.tables)) {
    const path = join(dir, `${table}.ndjson`);
    const out = createWriteStream(path);
    for (const record of records) {
      if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    written.push(path);
  }
  await writeFile(join(dir, LABELS_FILE), `${JSON.stringify({ start: new Date(logs.start).toISOString(), end: new Date(logs.end).toISOString(), labels: logs.labels }, null, 2)}\n`);
  return written;
}
