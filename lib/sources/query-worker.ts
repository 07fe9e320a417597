/**
 * Worker thread of the local source: runs queries over its tables, one at a time, and posts each
 * result or failure back under the request's id. The tables are its workerData's, or, given
 * paths, the ones it reads from those files itself (then it posts what it loaded once, and the
 * caller's thread never holds the rows).
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Table } from "../kql/types.js";
import { loadLogs } from "../readers/index.js";
import { runLocalQuery, timeRangeOf } from "./local-query.js";
import type { QueryWorkerInput, QueryWorkerLoaded, QueryWorkerReply, QueryWorkerRequest } from "./query-thread.js";

const port = parentPort;
if (!port) throw new Error("query-worker runs only as a worker thread");
const input = workerData as QueryWorkerInput;

const failure = (error: unknown) => ({ name: (error as Error).name, message: (error as Error).message });

async function load(paths: string[]): Promise<Record<string, Table>> {
  try {
    const { tables, issues } = await loadLogs(paths);
    port!.postMessage({ loaded: { tableNames: Object.keys(tables), timeRange: timeRangeOf(tables), issues } } satisfies QueryWorkerLoaded);
    return tables;
  } catch (error) {
    port!.postMessage({ loadFailed: failure(error) } satisfies QueryWorkerLoaded);
    throw error;
  }
}

const tables: Promise<Record<string, Table>> = "paths" in input ? load(input.paths) : Promise.resolve(input.tables);
// A failed load is posted above; queries that wait for it fail with it.
tables.catch(() => undefined);

port.on("message", (request: QueryWorkerRequest) => {
  void tables
    .then((loaded): QueryWorkerReply => ({ id: request.id, table: runLocalQuery(loaded, request) }))
    .catch((error: unknown): QueryWorkerReply => ({ id: request.id, error: failure(error) }))
    .then((reply) => port.postMessage(reply));
});
