/**
 * Reads many EVTX files across cores: a pool of worker threads each decodes whole files and sends
 * back their rows a chunk at a time (rows and issues as the single-threaded reader yields them).
 * Files come back in the order they finish, or, with `inFileOrder`, in the order they were given;
 * within a file, rows keep their order.
 */
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";
import { Worker, type WorkerOptions } from "node:worker_threads";
import type { SourceItem } from "./formats.js";

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
export type WorkerMessage = { file: number; items: SourceItem[] } | { file: number; done: true; error?: string };

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

/** Streams the rows of EVTX files decoded on `threads` worker threads (default: one per core), files in the order they finish. */
export async function* readEvtxFilesParallel(paths: readonly string[], threads = availableParallelism()): AsyncGenerator<FileBatch> {
  let nextFile = 0;
  const pending: FileBatch[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let active = 0;
  const workers: Worker[] = [];
  const push = (batch: FileBatch) => {
    pending.push(batch);
    wake?.();
  };
  const next = (worker: Worker) => {
    if (nextFile >= paths.length) {
      active--;
      void worker.terminate();
      wake?.();
      return;
    }
    const file = nextFile++;
    worker.postMessage({ file, path: paths[file] } satisfies WorkerRequest);
  };
  const count = Math.max(1, Math.min(threads, paths.length));
  active = count;
  const started = await Promise.all(Array.from({ length: count }, () => startWorker(WORKER_URL)));
  for (const worker of started) {
    workers.push(worker);
    worker.on("message", (message: WorkerMessage) => {
      const path = paths[message.file];
      if ("done" in message) {
        push({ file: message.file, path, items: [], done: true, ...(message.error === undefined ? {} : { error: message.error }) });
        next(worker);
      } else push({ file: message.file, path, items: message.items, done: false });
    });
    worker.on("error", (error) => {
      failure = error;
      wake?.();
    });
    next(worker);
  }
  try {
    while (active > 0 || pending.length) {
      if (failure) throw failure;
      const batch = pending.shift();
      if (batch) {
        yield batch;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (failure) throw failure;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
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
