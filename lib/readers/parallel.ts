/**
 * Reads many EVTX files across cores: a pool of worker threads each decodes whole files and sends
 * back their rows a chunk at a time (rows and issues as the single-threaded reader yields them).
 * Files come back in the order they finish; within a file, rows keep their order.
 */
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { SourceItem } from "./formats.js";

export interface FileBatch {
  path: string;
  items: SourceItem[];
  /** The last batch of the file. */
  done: boolean;
}

/** Messages from a worker: a batch of a file's rows, or the end of the file (with a failure, if any). */
export type WorkerMessage = { path: string; items: SourceItem[] } | { path: string; done: true; error?: string };

const SOURCE_EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./parallel-worker${SOURCE_EXTENSION}`, import.meta.url);

/** Run from TypeScript sources (tests, bench, `npm run hunts`), a worker registers tsx itself: loader hooks do not pass to workers. */
function startWorker(): Worker {
  if (SOURCE_EXTENSION !== ".ts") return new Worker(WORKER_URL);
  const api = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const boot = `import(${api}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(WORKER_URL.href)}));`;
  return new Worker(boot, { eval: true });
}

/** Streams the rows of EVTX files decoded on `threads` worker threads (default: one per core). */
export async function* readEvtxFilesParallel(paths: readonly string[], threads = availableParallelism()): AsyncGenerator<FileBatch> {
  const queue = [...paths];
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
    const path = queue.shift();
    if (path === undefined) {
      active--;
      void worker.terminate();
      wake?.();
      return;
    }
    worker.postMessage(path);
  };
  for (let i = 0; i < Math.max(1, Math.min(threads, paths.length)); i++) {
    const worker = startWorker();
    active++;
    workers.push(worker);
    worker.on("message", (message: WorkerMessage) => {
      if ("done" in message) {
        const items: SourceItem[] = message.error ? [{ issue: { source: message.path, at: 0, message: message.error } }] : [];
        push({ path: message.path, items, done: true });
        next(worker);
      } else push({ path: message.path, items: message.items, done: false });
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
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
