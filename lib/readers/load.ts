/**
 * Reading log files and folders into rows and tables: format detection, the reader for each
 * format, and loading many files with every good row kept and every problem reported.
 */
import { readdir, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, extname, join } from "node:path";
import type { Table } from "../kql/types.js";
import { detectFormat, head, leadingText } from "./detect.js";
import { evtxFileBatches } from "./evtx-rows.js";
import { inFileOrder, readEvtxFilesParallel } from "./parallel.js";
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

/** What stops a path from being read, in words (not a raw `ENOENT: ..., stat '...'`). */
function pathProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file or folder";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENOTDIR") return "a part of the path is not a folder";
  return (error as Error).message;
}

/**
 * Files under the given paths (folders are walked) that look like logs. A path that cannot be
 * read is reported, by name, and the others are still walked; when not one of the paths given
 * exists, there is nothing to read and that is an error naming them.
 */
export async function logFilesUnder(paths: string[]): Promise<{ files: string[]; issues: ReadIssue[] }> {
  const found = await walk(paths);
  const unreadable = found.issues.filter((issue) => paths.includes(issue.source));
  if (paths.length && unreadable.length === paths.length) throw new Error(unreadable.map((i) => `${i.source}: ${i.message}`).join("; "));
  return found;
}

async function walk(paths: string[]): Promise<{ files: string[]; issues: ReadIssue[] }> {
  const files: string[] = [];
  const issues: ReadIssue[] = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (error) {
      issues.push({ source: path, at: 0, message: pathProblem(error) });
      continue;
    }
    if (isDirectory) {
      let entries: string[];
      try {
        entries = (await readdir(path)).sort();
      } catch (error) {
        issues.push({ source: path, at: 0, message: pathProblem(error) });
        continue;
      }
      const inner = await walk(entries.map((e) => join(path, e)).filter((p) => !basename(p).startsWith(".")));
      files.push(...inner.files);
      issues.push(...inner.issues);
    } else if (LOG_EXTENSIONS.has(extname(path).toLowerCase()) || paths.length === 1) files.push(path);
  }
  return { files, issues };
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

/** EVTX bytes a folder needs before decoding moves to worker threads: below it, starting the workers costs more than they save. */
export const PARALLEL_EVTX_MIN_BYTES = 4 * 2 ** 20;

export interface LoadOptions extends ReadOptions {
  /**
   * Worker threads for EVTX files: by default one per core when there is more than one core, more
   * than one EVTX file and at least PARALLEL_EVTX_MIN_BYTES of them; 0 or 1 reads on this thread.
   */
  threads?: number;
}

/** The worker threads to decode these EVTX files on, or 0 for this thread. */
async function evtxThreads(evtxPaths: string[], threads: number | undefined): Promise<number> {
  if (threads !== undefined) return threads > 1 && evtxPaths.length > 1 ? threads : 0;
  const cores = availableParallelism();
  if (cores < 2 || evtxPaths.length < 2) return 0;
  let bytes = 0;
  for (const path of evtxPaths) bytes += (await stat(path)).size;
  return bytes >= PARALLEL_EVTX_MIN_BYTES ? cores : 0;
}

/**
 * Reads files and folders into typed tables, keeping every good row and reporting the rest; one bad
 * file never stops the others. Several large EVTX files are decoded on worker threads; their rows
 * still reach the tables in file order, so the result is the same as on one thread.
 */
export async function loadLogs(paths: string[], options: LoadOptions = {}): Promise<LoadedLogs> {
  const { threads, ...readOptions } = options;
  const builder = new TableBuilder();
  const files: LoadedLogs["files"] = [];
  const formats: (LogFormat | Error)[] = [];
  const { files: logFiles, issues: unreadable } = await logFilesUnder(paths);
  for (const issue of unreadable) builder.issue(issue);
  for (const path of logFiles) {
    try {
      formats.push(readOptions.format ?? (await detectFormat(path)));
    } catch (error) {
      formats.push(error as Error);
    }
  }
  const evtxPaths = logFiles.filter((_, i) => formats[i] === "evtx");
  const workers = await evtxThreads(evtxPaths, threads);
  const parallel = workers ? inFileOrder(readEvtxFilesParallel(evtxPaths, workers)) : undefined;
  try {
    for (const [i, path] of logFiles.entries()) {
      const format = formats[i];
      if (format instanceof Error) {
        builder.issue({ source: path, at: 0, message: format.message });
        continue;
      }
      let rows = 0;
      const take = (batch: SourceItem[]) => {
        for (const item of batch) {
          if ("issue" in item) builder.issue(item.issue);
          else if (builder.add(item.table, item.record, path, item.at)) rows++;
        }
      };
      const fail = (message: string) => builder.issue({ source: path, at: 0, message: `${path}: ${message}` });
      if (parallel && format === "evtx") {
        // The ordered stream is at this file's first batch: the EVTX files come in the order they are listed here.
        for (;;) {
          const next = await parallel.next();
          if (next.done) throw new Error(`the EVTX worker threads stopped before ${path}`);
          take(next.value.items);
          if (next.value.error !== undefined) fail(next.value.error);
          if (next.value.done) break;
        }
      } else {
        try {
          for await (const batch of readLogFileBatches(path, { ...readOptions, format })) take(batch);
        } catch (error) {
          fail((error as Error).message);
        }
      }
      files.push({ path, format, rows });
    }
  } finally {
    await parallel?.return(undefined);
  }
  return { tables: builder.build(), issues: builder.issues, files };
}
