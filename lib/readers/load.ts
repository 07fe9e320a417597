/**
 * Reading log files and folders into rows and tables: format detection, the reader for each
 * format, and loading many files with every good row kept and every problem reported.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, extname, join } from "node:path";
import type { Table } from "../kql/types.js";
import { detectFormat, head, leadingText } from "./detect.js";
import { evtxFileBatches } from "./evtx-rows.js";
import { CHUNK_SIZE, FILE_HEADER_CHUNK_COUNT_OFFSET, FILE_HEADER_SIZE, FILE_SIGNATURE } from "./evtx-format.js";
import { EvtxWorkerPool, type FileBatch } from "./parallel.js";
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
      if (leadingText(head(path, 4096)).startsWith("[")) yield* sentinelJsonArray(path, options);
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
export function logFilesUnder(paths: string[]): { files: string[]; issues: ReadIssue[] } {
  const found = walk(paths);
  const unreadable = found.issues.filter((issue) => paths.includes(issue.source));
  if (paths.length && unreadable.length === paths.length) throw new Error(unreadable.map((i) => `${i.source}: ${i.message}`).join("; "));
  return found;
}

function walk(paths: string[]): { files: string[]; issues: ReadIssue[] } {
  const files: string[] = [];
  const issues: ReadIssue[] = [];
  for (const path of paths) {
    // Synchronous: a folder's many small files cost a thread-pool round trip each otherwise.
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (error) {
      issues.push({ source: path, at: 0, message: pathProblem(error) });
      continue;
    }
    if (isDirectory) {
      let entries: string[];
      try {
        entries = readdirSync(path).sort();
      } catch (error) {
        issues.push({ source: path, at: 0, message: pathProblem(error) });
        continue;
      }
      const inner = walk(entries.map((e) => join(path, e)).filter((p) => !basename(p).startsWith(".")));
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

/**
 * EVTX bytes in use (chunks holding records) a folder needs before worker threads start. A worker
 * costs about a CPU second before its rows flow (loading the readers, compiling the decoder again),
 * and this thread still builds the tables from every row. Measured on two cores with copies of 893
 * public files: 186 MiB in use loaded 2% slower with a worker, 372 MiB 8% faster, 744 MiB 17% faster.
 */
export const PARALLEL_EVTX_MIN_BYTES = 256 * 2 ** 20;

export interface LoadOptions extends ReadOptions {
  /**
   * Threads for EVTX files, this one included: by default one per core when there is more than one
   * core, more than one EVTX file and at least PARALLEL_EVTX_MIN_BYTES of them in use; 0 or 1 reads on this thread.
   */
  threads?: number;
}

/**
 * The bytes of an EVTX file's chunks in use: its header's chunk count when the header reads as one
 * (a log is often allocated far ahead of its records), otherwise its size.
 */
function evtxBytesInUse(path: string): number {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(FILE_HEADER_SIZE);
    if (readSync(fd, header, 0, FILE_HEADER_SIZE, 0) < FILE_HEADER_SIZE || header.toString("latin1", 0, 8) !== FILE_SIGNATURE) return size;
    return Math.min(size, FILE_HEADER_SIZE + header.readUInt16LE(FILE_HEADER_CHUNK_COUNT_OFFSET) * CHUNK_SIZE);
  } finally {
    closeSync(fd);
  }
}

/** The threads to decode these EVTX files on (this one included), or 0 for this thread alone. */
function evtxThreads(evtxPaths: string[], threads: number | undefined): number {
  if (threads !== undefined) return threads > 1 && evtxPaths.length > 1 ? threads : 0;
  const cores = availableParallelism();
  if (cores < 2 || evtxPaths.length < 2) return 0;
  let bytes = 0;
  for (const path of evtxPaths) {
    try {
      bytes += evtxBytesInUse(path);
    } catch {
      // unreadable: its reader says why
    }
    if (bytes >= PARALLEL_EVTX_MIN_BYTES) return cores;
  }
  return 0;
}

/**
 * EVTX files shared between this thread and worker threads: this thread reads files from the front
 * of the list as the tables need them, the workers from the back, so neither waits for the other and
 * a small folder costs no more than on this thread alone (the workers start in the background and
 * take what is left). A file a worker took is read from its batches, which keep their order.
 */
export class SharedEvtxFiles {
  /** The first file no one has taken, and the last. */
  private front = 0;
  private back: number;
  private readonly batches = new Map<number, FileBatch[]>();
  private wake: (() => void) | undefined;
  private readonly pool: EvtxWorkerPool;

  constructor(paths: readonly string[], workers: number) {
    this.back = paths.length - 1;
    this.pool = new EvtxWorkerPool(
      paths,
      workers,
      () => (this.back >= this.front ? this.back-- : undefined),
      (batch) => {
        const queue = this.batches.get(batch.file);
        if (queue) queue.push(batch);
        else this.batches.set(batch.file, [batch]);
        this.wake?.();
      },
    );
    void this.pool.finished.then(() => this.wake?.());
  }

  /** Whether this thread reads file `file` itself (the files are asked for in order); otherwise a worker has it. */
  takeHere(file: number): boolean {
    if (file < this.front) throw new Error(`EVTX file ${file} asked for twice`);
    if (file > this.back) return false;
    this.front = file + 1;
    return true;
  }

  /** The batches of a file a worker took, as they come. */
  async *fromWorker(file: number): AsyncGenerator<FileBatch> {
    for (;;) {
      const queue = this.batches.get(file);
      const batch = queue?.shift();
      if (batch) {
        yield batch;
        if (batch.done) {
          this.batches.delete(file);
          return;
        }
        continue;
      }
      if (this.pool.error) throw this.pool.error;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** What `visitLogFiles` hands on, file by file in the order the files were found. */
export interface LogFileVisitor {
  /** A path given (or a folder's entry) that could not be read. */
  unreadable(issue: ReadIssue): void;
  /** A file whose format could not be told: it is not read. */
  undetected(path: string, error: Error): void;
  /** A batch of a file's rows and issues, in order (the next waits for a returned promise). */
  batch(path: string, items: SourceItem[]): void | Promise<void>;
  /** A file whose reading stopped with an error, after the batches read before it. */
  failed(path: string, message: string): void;
  /** A file read to its end, or to its failure. */
  finished(path: string, format: LogFormat): void;
}

/**
 * Reads files and folders file by file, in order, handing every batch to `visitor`; one bad file
 * never stops the others. Many EVTX bytes are decoded on worker threads too (this thread takes files
 * from the front, the workers from the back); their batches still come in file order, so what the
 * visitor sees is the same as on one thread.
 */
export async function visitLogFiles(paths: string[], options: LoadOptions, visitor: LogFileVisitor): Promise<void> {
  const { threads, ...readOptions } = options;
  const formats: (LogFormat | Error)[] = [];
  const { files: logFiles, issues: unreadable } = logFilesUnder(paths);
  for (const issue of unreadable) visitor.unreadable(issue);
  for (const path of logFiles) {
    try {
      formats.push(readOptions.format ?? (await detectFormat(path)));
    } catch (error) {
      formats.push(error as Error);
    }
  }
  const evtxPaths = logFiles.filter((_, i) => formats[i] === "evtx");
  const evtxThreadCount = evtxThreads(evtxPaths, threads);
  // This thread is one of them.
  const shared = evtxThreadCount > 1 ? new SharedEvtxFiles(evtxPaths, evtxThreadCount - 1) : undefined;
  let evtxIndex = 0;
  try {
    for (const [i, path] of logFiles.entries()) {
      const format = formats[i];
      if (format instanceof Error) {
        visitor.undetected(path, format);
        continue;
      }
      const evtxFile = format === "evtx" ? evtxIndex++ : -1;
      if (shared && evtxFile >= 0 && !shared.takeHere(evtxFile)) {
        for await (const batch of shared.fromWorker(evtxFile)) {
          await visitor.batch(path, batch.items);
          if (batch.error !== undefined) visitor.failed(path, batch.error);
        }
      } else {
        try {
          for await (const batch of readLogFileBatches(path, { ...readOptions, format })) await visitor.batch(path, batch);
        } catch (error) {
          visitor.failed(path, (error as Error).message);
        }
      }
      visitor.finished(path, format);
    }
  } finally {
    await shared?.close();
  }
}

/**
 * Reads files and folders into typed tables, keeping every good row and reporting the rest; one bad
 * file never stops the others, and the tables are the same however many threads decode EVTX files.
 */
export async function loadLogs(paths: string[], options: LoadOptions = {}): Promise<LoadedLogs> {
  const builder = new TableBuilder();
  const files: LoadedLogs["files"] = [];
  let rows = 0;
  await visitLogFiles(paths, options, {
    unreadable: (issue) => builder.issue(issue),
    undetected: (path, error) => builder.issue({ source: path, at: 0, message: error.message }),
    batch: (path, items) => {
      for (const item of items) {
        if ("issue" in item) builder.issue(item.issue);
        else if (builder.add(item.table, item.record, path, item.at)) rows++;
      }
    },
    failed: (path, message) => builder.issue({ source: path, at: 0, message: `${path}: ${message}` }),
    finished: (path, format) => {
      files.push({ path, format, rows });
      rows = 0;
    },
  });
  return { tables: builder.build(), issues: builder.issues, files };
}
