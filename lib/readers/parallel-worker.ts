/** Worker thread of readEvtxFilesParallel: decodes the EVTX files it is sent and posts their rows back. */
import { parentPort } from "node:worker_threads";
import { evtxFileBatches } from "./evtx-rows.js";
import type { WorkerMessage, WorkerRequest } from "./parallel.js";

const port = parentPort;
if (!port) throw new Error("parallel-worker runs only as a worker thread");

port.on("message", ({ file, path }: WorkerRequest) => {
  void (async () => {
    let message: WorkerMessage = { file, done: true };
    try {
      for await (const items of evtxFileBatches(path)) port.postMessage({ file, items } satisfies WorkerMessage);
    } catch (error) {
      message = { file, done: true, error: (error as Error).message };
    }
    port.postMessage(message);
  })();
});
