/**
 * Worker thread of the local source: runs queries over the tables it was started with (its
 * workerData), one at a time, and posts each result or failure back under the request's id.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Table } from "../kql/types.js";
import { runLocalQuery } from "./local-query.js";
import type { QueryWorkerReply, QueryWorkerRequest } from "./query-thread.js";

const port = parentPort;
if (!port) throw new Error("query-worker runs only as a worker thread");
const tables = (workerData as { tables: Record<string, Table> }).tables;

port.on("message", (request: QueryWorkerRequest) => {
  let reply: QueryWorkerReply;
  try {
    reply = { id: request.id, table: runLocalQuery(tables, request) };
  } catch (error) {
    reply = { id: request.id, error: { name: (error as Error).name, message: (error as Error).message } };
  }
  port.postMessage(reply);
});
