/**
 * `hunts convert`: writes what the readers produce as NDJSON, one file per table and one JSON
 * object per row, for loading exports elsewhere and for differential checks. Each row keeps its
 * `Type`, so the files read back as they were; times are Kusto datetime text (exact to the tick
 * where the source is).
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { once } from "node:events";
import { join } from "node:path";
import { formatDatetime } from "../kql/values.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { LogFormat } from "./formats.js";
import { visitLogFiles, type LoadOptions } from "./load.js";
import type { ReadIssue } from "./table-builder.js";

export interface ConvertResult {
  files: { path: string; format: LogFormat | null; rows: number }[];
  /** Rows written per table, and where. */
  tables: Record<string, { rows: number; path: string }>;
  issues: ReadIssue[];
}

const DATETIME_COLUMNS = new Map(
  Object.entries(TABLE_SCHEMAS).map(([table, columns]) => [
    table,
    new Set(columns.filter((c) => c.type === "datetime").map((c) => c.name)),
  ]),
);

/** A row as JSON: datetime columns (engine ticks) become datetime text. */
function rowJson(table: string, record: Record<string, unknown>): string {
  const datetimes = DATETIME_COLUMNS.get(table);
  const out: Record<string, unknown> = { Type: table };
  for (const name in record) {
    const value = record[name];
    out[name] = datetimes?.has(name) && typeof value === "number" ? formatDatetime(value) : value;
  }
  return JSON.stringify(out);
}

/** File names stay inside the output folder whatever a table is called. */
function fileNameOf(table: string): string {
  return `${table.replace(/[^A-Za-z0-9_.-]/g, "_")}.ndjson`;
}

/** Writes the rows of `paths` under `outDir`; many EVTX bytes are decoded on worker threads too, as `loadLogs` does, and the files are the same. */
export async function convertLogs(paths: string[], outDir: string, options: LoadOptions = {}): Promise<ConvertResult> {
  await mkdir(outDir, { recursive: true });
  const streams = new Map<string, { stream: WriteStream; rows: number; path: string }>();
  const result: ConvertResult = { files: [], tables: {}, issues: [] };
  const streamOf = (table: string) => {
    let entry = streams.get(table);
    if (!entry) {
      const path = join(outDir, fileNameOf(table));
      // Written beside the final name and renamed at the end: nothing half-written is left under it.
      entry = { stream: createWriteStream(`${path}.partial`), rows: 0, path };
      streams.set(table, entry);
    }
    return entry;
  };
  let completed = false;
  let rows = 0;
  try {
    await visitLogFiles(paths, options, {
      unreadable: (issue) => result.issues.push(issue),
      undetected: (path, error) => {
        result.issues.push({ source: path, at: 0, message: error.message });
        result.files.push({ path, format: null, rows: 0 });
      },
      batch: async (_path, items) => {
        for (const item of items) {
          if ("issue" in item) {
            result.issues.push(item.issue);
            continue;
          }
          const entry = streamOf(item.table);
          entry.rows++;
          rows++;
          if (!entry.stream.write(`${rowJson(item.table, item.record)}\n`)) await once(entry.stream, "drain");
        }
      },
      failed: (path, message) => result.issues.push({ source: path, at: 0, message }),
      finished: (path, format) => {
        result.files.push({ path, format, rows });
        rows = 0;
      },
    });
    completed = true;
  } finally {
    for (const [table, entry] of streams) {
      entry.stream.end();
      await once(entry.stream, "finish");
      if (completed) {
        await rename(`${entry.path}.partial`, entry.path);
        result.tables[table] = { rows: entry.rows, path: entry.path };
      } else await rm(`${entry.path}.partial`, { force: true });
    }
  }
  return result;
}
