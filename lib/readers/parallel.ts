/**
 * Reads many EVTX files across cores: a pool of worker threads each decodes whole files and sends
 * back their rows a chunk at a time (rows and issues as the single-threaded reader yields them).
 * Files come back in the order they finish, or, with `inFileOrder`, in the order they were given;
 * within a file, rows keep their order.
 */
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";
import { Worker, type WorkerOptions } from "node:worker_threads";
import type { SourceItem } from "./formats.js";
import type { ReadIssue } from "./table-builder.js";

export interface FileBatch {
  /** Position of the file in the list given. */
  file: number;
  path: string;
  items: SourceItem[];
  /** The last batch of the file. */
  done: boolean;
  /** Why the file could not be read to its end (the reader failed; its rows so far were sent). */
  error?: string;
}

/** Messages between the pool and a worker: a file to read; a batch of its rows; the end of the file (with a failure, if any). */
export interface WorkerRequest {
  file: number;
  path: string;
}
export type WorkerMessage = { file: number; items: PackedItems } | { file: number; done: true; error?: string };

/**
 * A batch of rows and issues packed for the trip between threads: each record's values in a flat
 * list, its keys once per distinct set. Copying objects between threads writes and reads every key
 * of every object; packed, a batch costs the worker about half as much to send and this thread less to take.
 */
export interface PackedItems {
  /** The key lists of the batch's records. */
  shapes: string[][];
  tables: string[];
  issues: ReadIssue[];
  /** Per item: an issue (-1, its index), or a record (its shape, its table, its `at`, then its values in shape order). */
  flat: unknown[];
}

export function packItems(items: readonly SourceItem[]): PackedItems {
  const shapeIndex = new Map<string, number>();
  const tableIndex = new Map<string, number>();
  const packed: PackedItems = { shapes: [], tables: [], issues: [], flat: [] };
  const flat = packed.flat;
  for (const item of items) {
    if ("issue" in item) {
      flat.push(-1, packed.issues.length);
      packed.issues.push(item.issue);
      continue;
    }
    const record = item.record;
    const keys = Object.keys(record);
    const id = keys.join("\u0000");
    let shape = shapeIndex.get(id);
    if (shape === undefined) {
      shape = packed.shapes.length;
      packed.shapes.push(keys);
      shapeIndex.set(id, shape);
    }
    let table = tableIndex.get(item.table);
    if (table === undefined) {
      table = packed.tables.length;
      packed.tables.push(item.table);
      tableIndex.set(item.table, table);
    }
    flat.push(shape, table, item.at);
    for (const key of keys) flat.push(record[key]);
  }
  return packed;
}

export function unpackItems(packed: PackedItems): SourceItem[] {
  const items: SourceItem[] = [];
  const flat = packed.flat;
  for (let i = 0; i < flat.length;) {
    const shape = flat[i] as number;
    if (shape === -1) {
      items.push({ issue: packed.issues[flat[i + 1] as number] });
      i += 2;
      continue;
    }
    const table = packed.tables[flat[i + 1] as number];
    const at = flat[i + 2] as number;
    i += 3;
    const record: Record<string, unknown> = {};
    for (const key of packed.shapes[shape]) record[key] = flat[i++];
    items.push({ table, record, at });
  }
  return items;
}

const SOURCE_EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./parallel-worker${SOURCE_EXTENSION}`, import.meta.url);

const workerBundles = new Map<string, Promise<URL | undefined>>();

/**
 * In a bundle run from a data: URL, `import.meta.url` would be that URL: each source module keeps
 * its own file URL instead, so what it resolves next to itself (the Kusto parser's scripts, loaded
 * with createRequire) is found as when it runs unbundled.
 */
const keepModuleUrls: Plugin = {
  name: "keep-module-urls",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async ({ path }) => ({
      contents: (await readFile(path, "utf8")).replaceAll("import.meta.url", JSON.stringify(pathToFileURL(path).href)),
      loader: "ts",
    }));
  },
};

/**
 * Run from TypeScript sources (tests, bench, `npm run hunts`), loader hooks do not pass to workers,
 * and registering tsx in each worker compiles every source again per worker. Instead the worker and
 * what it imports are bundled once per process with esbuild (a development dependency, as tsx is)
 * and every worker runs that bundle; without esbuild, each worker registers tsx itself.
 */
function sourceWorkerBundle(workerUrl: URL): Promise<URL | undefined> {
  let bundle = workerBundles.get(workerUrl.href);
  if (bundle) return bundle;
  bundle = (async () => {
    try {
      const esbuild = await import("esbuild");
      const built = await esbuild.build({
        entryPoints: [fileURLToPath(workerUrl)],
        bundle: true,
        platform: "node",
        format: "esm",
        target: `node${process.versions.node.split(".")[0]}`,
        write: false,
        // Minified, each worker parses about half as much code before its first file.
        minify: true,
        logLevel: "silent",
        plugins: [keepModuleUrls],
      });
      return new URL(`data:text/javascript;base64,${Buffer.from(built.outputFiles[0].contents).toString("base64")}`);
    } catch {
      return undefined;
    }
  })();
  workerBundles.set(workerUrl.href, bundle);
  return bundle;
}

/**
 * A worker thread running the module at `workerUrl`: the built JavaScript, or, from TypeScript
 * sources, its bundle (or tsx, without esbuild). `workerUrl` names the module with the caller's
 * own extension (`.ts` from sources, `.js` when built).
 */
export async function startWorker(workerUrl: URL, options: WorkerOptions = {}): Promise<Worker> {
  if (!workerUrl.pathname.endsWith(".ts")) return new Worker(workerUrl, options);
  const bundle = await sourceWorkerBundle(workerUrl);
  if (bundle) return new Worker(bundle, options);
  const api = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const boot = `import(${api}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(workerUrl.href)}));`;
  return new Worker(boot, { ...options, eval: true });
}

/** Files a worker is given ahead of the one it reads, so it never waits for this thread between files. */
const FILES_AHEAD = 2;
const BYTES_AHEAD = 8 * 2 ** 20;

/** A file's size in bytes, or 0 when it cannot be read (its reader says why). */
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Worker threads decoding EVTX files: each asks `take` for its next file (undefined: none left)
 * and hands every batch and the end of each file to `deliver`. Workers start in the background;
 * whatever they have not taken meanwhile is left to `take`'s other callers.
 */
export class EvtxWorkerPool {
  private readonly workers: Worker[] = [];
  private active = 0;
  private closed = false;
  private failure: Error | undefined;
  /** Why a worker could not start, if one could not. */
  startFailure: Error | undefined;
  /** Resolves when every worker has run out of files (or failed). */
  readonly finished: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly paths: readonly string[],
    workers: number,
    private readonly take: () => number | undefined,
    private readonly deliver: (batch: FileBatch) => void,
  ) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
    this.active = workers;
    if (workers === 0) this.finish();
    for (let i = 0; i < workers; i++) void this.start();
  }

  /** The first failure of a worker thread itself (not of a file), if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  private async start(): Promise<void> {
    let worker: Worker;
    try {
      worker = await startWorker(WORKER_URL);
    } catch (error) {
      // It took no file: what the pool leaves is for take's other callers.
      this.startFailure ??= error as Error;
      return this.retire();
    }
    if (this.closed) {
      void worker.terminate();
      return this.retire();
    }
    this.workers.push(worker);
    /** The files the worker has been given and not finished, with their sizes. */
    const given = new Map<number, number>();
    let givenBytes = 0;
    const give = () => {
      while ((given.size < FILES_AHEAD || givenBytes < BYTES_AHEAD) && !this.closed) {
        const file = this.take();
        if (file === undefined) break;
        const size = sizeOf(this.paths[file]);
        given.set(file, size);
        givenBytes += size;
        worker.postMessage({ file, path: this.paths[file] } satisfies WorkerRequest);
      }
      if (given.size === 0) {
        void worker.terminate();
        this.retire();
      }
    };
    worker.on("message", (message: WorkerMessage) => {
      const path = this.paths[message.file];
      if ("done" in message) {
        givenBytes -= given.get(message.file) ?? 0;
        given.delete(message.file);
        this.deliver({ file: message.file, path, items: [], done: true, ...(message.error === undefined ? {} : { error: message.error }) });
        give();
      } else this.deliver({ file: message.file, path, items: unpackItems(message.items), done: false });
    });
    worker.on("error", (error) => {
      this.failure ??= error;
      this.retire();
    });
    give();
  }

  private retire(): void {
    if (--this.active <= 0) this.finish();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Streams the rows of EVTX files decoded on `threads` worker threads (default: one per core), files in the order they finish. */
export async function* readEvtxFilesParallel(paths: readonly string[], threads = availableParallelism()): AsyncGenerator<FileBatch> {
  let nextFile = 0;
  const pending: FileBatch[] = [];
  let wake: (() => void) | undefined;
  const pool = new EvtxWorkerPool(
    paths,
    Math.max(1, Math.min(threads, paths.length)),
    () => (nextFile < paths.length ? nextFile++ : undefined),
    (batch) => {
      pending.push(batch);
      wake?.();
    },
  );
  let finished = false;
  void pool.finished.then(() => {
    finished = true;
    wake?.();
  });
  try {
    for (;;) {
      const batch = pending.shift();
      if (batch) {
        yield batch;
        continue;
      }
      if (pool.error) throw pool.error;
      if (finished) {
        if (nextFile < paths.length) throw pool.startFailure ?? new Error("the EVTX worker threads stopped before every file was read");
        break;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    await pool.close();
  }
}

/**
 * The batches of `readEvtxFilesParallel` reordered to the order the files were given: a file's
 * batches pass as they come while it is the earliest unfinished file; later files' wait their turn.
 */
export async function* inFileOrder(batches: AsyncIterable<FileBatch>): AsyncGenerator<FileBatch> {
  const waiting = new Map<number, FileBatch[]>();
  let head = 0;
  for await (const batch of batches) {
    if (batch.file !== head) {
      const queue = waiting.get(batch.file) ?? [];
      queue.push(batch);
      waiting.set(batch.file, queue);
      continue;
    }
    yield batch;
    if (!batch.done) continue;
    // The head file is finished: release the files after it that are waiting, as far as they are complete.
    for (head++; ; head++) {
      const queue = waiting.get(head);
      if (!queue) break;
      waiting.delete(head);
      yield* queue;
      if (!queue[queue.length - 1].done) break;
    }
  }
}
