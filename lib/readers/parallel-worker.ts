/** Worker thread of readEvtxFilesParallel: decodes the EVTX files it is sent and posts their rows back. */
import { parentPort } from "node:worker_threads";
import { evtxFileBatches } from "./evtx-rows.js";
import type { WorkerMessage } from "./parallel.js";

const port = parentPort;
if (!port) throw new Error("parallel-worker runs only as a worker thread");

port.on("message", (path: string) => {
  void (async () => {
    let message: WorkerMessage = { path, done: true };
    try {
      for await (const items of evtxFileBatches(path)) port.postMessage({ path, items } satisfies WorkerMessage);
    } catch (error) {
      message = { path, done: true, error: (error as Error).message };
    }
    port.postMessage(message);
  })();
});
