/**
 * Reading log files and folders into rows and tables: format detection, the reader for each
 * format, and loading many files with every good row kept and every problem reported.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import type { Table } from "../kql/types.js";
import { detectFormat, head, leadingText } from "./detect.js";
import { evtxFileBatches } from "./evtx-rows.js";
import type { LogFormat, ReadOptions, SourceItem } from "./formats.js";
import { TableBuilder, type ReadIssue } from "./table-builder.js";
import { sentinelCsv, sentinelJsonArray, tableShapedJsonLines } from "./table-shaped.js";
import { NxlogEvent, nxlogEvent, WinlogbeatEvent, winlogbeatEvent, windowsJsonLines } from "./windows-json.js";

/** Items per batch for the formats that are read item by item. */
const BATCH_SIZE = 1024;

async function* batched(items: AsyncIterable<SourceItem>): AsyncGenerator<SourceItem[]> {
  let batch: SourceItem[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= BATCH_SIZE) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

async function* itemsOf(path: string, format: Exclude<LogFormat, "evtx">, options: ReadOptions): AsyncGenerator<SourceItem> {
  switch (format) {
    case "sentinel-csv":
      yield* sentinelCsv(path, options);
      return;
    case "sentinel-json":
      if (leadingText(await head(path, 4096)).startsWith("[")) yield* sentinelJsonArray(path, options);
      else yield* tableShapedJsonLines(path, options);
      return;
    case "ndjson":
      yield* tableShapedJsonLines(path, options);
      return;
    case "nxlog":
      yield* windowsJsonLines(path, NxlogEvent, nxlogEvent);
      return;
    case "winlogbeat":
      yield* windowsJsonLines(path, WinlogbeatEvent, winlogbeatEvent);
      return;
  }
}

/** Streams the rows of one log file in batches (an EVTX chunk's rows, or up to 1,024 items). */
export async function* readLogFileBatches(path: string, options: ReadOptions = {}): AsyncGenerator<SourceItem[]> {
  const format = options.format ?? (await detectFormat(path));
  if (format === "evtx") yield* evtxFileBatches(path);
  else yield* batched(itemsOf(path, format, options));
}

/** Streams the rows of one log file. */
export async function* readLogFile(path: string, options: ReadOptions = {}): AsyncGenerator<SourceItem> {
  for await (const batch of readLogFileBatches(path, options)) yield* batch;
}

const LOG_EXTENSIONS = new Set([".evtx", ".json", ".jsonl", ".ndjson", ".csv"]);

/** Files under the given paths (directories are walked) that look like logs. */
export async function logFilesUnder(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    const info = await stat(path);
    if (info.isDirectory()) {
      const entries = (await readdir(path)).sort();
      out.push(...(await logFilesUnder(entries.map((e) => join(path, e)).filter((p) => !basename(p).startsWith(".")))));
    } else if (LOG_EXTENSIONS.has(extname(path).toLowerCase()) || paths.length === 1) out.push(path);
  }
  return out;
}

export interface LoadedLogs {
  tables: Record<string, Table>;
  issues: ReadIssue[];
  files: { path: string; format: LogFormat; rows: number }[];
}

/** The first `limit` read problems, one line each, for a console or a log. */
export function reportReadIssues(issues: readonly ReadIssue[], log: (line: string) => void, limit = 20): void {
  for (const issue of issues.slice(0, limit)) log(`warning: ${issue.source}:${issue.at}: ${issue.message}`);
}

/** Reads files and folders into typed tables, keeping every good row and reporting the rest; one bad file never stops the others. */
export async function loadLogs(paths: string[], options: ReadOptions = {}): Promise<LoadedLogs> {
  const builder = new TableBuilder();
  const files: LoadedLogs["files"] = [];
  for (const path of await logFilesUnder(paths)) {
    let format: LogFormat;
    try {
      format = options.format ?? (await detectFormat(path));
    } catch (error) {
      builder.issue({ source: path, at: 0, message: (error as Error).message });
      continue;
    }
    let rows = 0;
    try {
      for await (const batch of readLogFileBatches(path, { ...options, format })) {
        for (const item of batch) {
          if ("issue" in item) builder.issue(item.issue);
          else if (builder.add(item.table, item.record, path, item.at)) rows++;
        }
      }
    } catch (error) {
      builder.issue({ source: path, at: 0, message: `${path}: ${(error as Error).message}` });
    }
    files.push({ path, format, rows });
  }
  return { tables: builder.build(), issues: builder.issues, files };
}
