/** Worker thread of the EVTX worker pool: decodes the EVTX files it is sent, one after another, and posts their rows back. */
import { parentPort } from "node:worker_threads";
import { evtxFileBatches } from "./evtx-rows.js";
import { packItems, type WorkerMessage, type WorkerRequest } from "./parallel.js";

const port = parentPort;
if (!port) throw new Error("parallel-worker runs only as a worker thread");

async function readFile({ file, path }: WorkerRequest): Promise<void> {
  let message: WorkerMessage = { file, done: true };
  try {
    for await (const items of evtxFileBatches(path)) port!.postMessage({ file, items: packItems(items) } satisfies WorkerMessage);
  } catch (error) {
    message = { file, done: true, error: (error as Error).message };
  }
  port!.postMessage(message);
}

// The pool sends a file or two ahead: they are read in the order they came.
let queue = Promise.resolve();
port.on("message", (request: WorkerRequest) => {
  queue = queue.then(() => readFile(request));
});
