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
import { ESCAPED_IN_JSON } from "../json.js";
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

/** Property names as JSON text with their colon (`"Account":`): names recur on every row. */
const jsonNames = new Map<string, string>();

function jsonName(name: string): string {
  let text = jsonNames.get(name);
  if (text === undefined) {
    text = `${JSON.stringify(name)}:`;
    // Names come from the data (EventData's): a bounded cache.
    if (jsonNames.size < 10_000) jsonNames.set(name, text);
  }
  return text;
}

/**
 * A row as JSON: `Type` first (the row's own, else the table), then its properties in order, datetime
 * columns (engine ticks) as datetime text. Written as text, property by property, as JSON.stringify
 * would write the object (a property without a value is left out): building that object key by key
 * for every row cost more than the JSON itself.
 */
function rowJson(table: string, record: Record<string, unknown>): string {
  const datetimes = DATETIME_COLUMNS.get(table);
  const type = "Type" in record && record.Type !== undefined ? valueJson(record.Type) : JSON.stringify(table);
  let json = `{"Type":${type ?? "null"}`;
  for (const name in record) {
    if (name === "Type") continue;
    const raw = record[name];
    const text = datetimes?.has(name) && typeof raw === "number" ? `"${formatDatetime(raw)}"` : valueJson(raw);
    if (text !== undefined) json += `,${jsonName(name)}${text}`;
  }
  return `${json}}`;
}

/** A value as JSON.stringify writes it (undefined for none); most strings need no escaping and are quoted as they are. */
function valueJson(value: unknown): string | undefined {
  if (typeof value === "string" && !ESCAPED_IN_JSON.test(value)) return `"${value}"`;
  return JSON.stringify(value);
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
      // A large buffer: rows are made while earlier ones are written, with few waits for the disk.
      entry = { stream: createWriteStream(`${path}.partial`, { highWaterMark: 4 * 2 ** 20 }), rows: 0, path };
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
        // A batch's lines go to each table's file in one write: a write per row cost more than the rows.
        const lines = new Map<string, string>();
        for (const item of items) {
          if ("issue" in item) {
            result.issues.push(item.issue);
            continue;
          }
          streamOf(item.table).rows++;
          rows++;
          lines.set(item.table, `${lines.get(item.table) ?? ""}${rowJson(item.table, item.record)}\n`);
        }
        for (const [table, text] of lines) {
          const { stream } = streamOf(table);
          if (!stream.write(text)) await once(stream, "drain");
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
