/**
 * The local source's queries on a worker thread. The engine is synchronous: on the caller's thread
 * a long query holds the event loop, and `hunts serve` could not answer a GET or fire a timer
 * until it ended. The worker gets a copy of the tables once, when it starts (the first query);
 * queries then wait their turn on it while the caller's thread stays free.
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import type { Table } from "../kql/types.js";
import { startWorker } from "../readers/parallel.js";
import type { QueryRequest } from "./types.js";

export interface QueryWorkerRequest {
  id: number;
  query: string;
  timespan: { start: number; end: number };
}
export type QueryWorkerReply = { id: number; table: Table } | { id: number; error: { name: string; message: string } };

const WORKER_URL = new URL(`./query-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export class QueryThread {
  private worker?: Promise<Worker>;
  private readonly pending = new Map<number, { resolve: (table: Table) => void; reject: (error: Error) => void }>();
  private nextId = 1;

  constructor(private readonly tables: Record<string, Table>) {}

  async query(request: Pick<QueryRequest, "query" | "timespan">): Promise<Table> {
    const starting = this.started();
    const worker = await starting;
    if (this.worker !== starting) throw new Error("the query worker was stopped");
    const id = this.nextId++;
    const answer = new Promise<Table>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // A query in flight keeps the process alive (a CLI run awaits nothing else); an idle worker does not.
    worker.ref();
    worker.postMessage({ id, query: request.query, timespan: request.timespan } satisfies QueryWorkerRequest);
    return answer;
  }

  /** Stops the worker; queries still waiting fail. The next query starts another. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.fail(new Error("the query worker was stopped"));
    if (worker) await (await worker).terminate();
  }

  private started(): Promise<Worker> {
    this.worker ??= startWorker(WORKER_URL, { workerData: { tables: this.tables } }).then((worker) => {
      worker.unref();
      worker.on("message", (reply: QueryWorkerReply) => this.settle(worker, reply));
      worker.on("error", (error) => this.crashed(worker, error));
      worker.on("exit", (code) => this.crashed(worker, new Error(`the query worker exited (code ${code})`)));
      return worker;
    });
    return this.worker;
  }

  private settle(worker: Worker, reply: QueryWorkerReply): void {
    const waiting = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (!this.pending.size) worker.unref();
    if (!waiting) return;
    if ("table" in reply) waiting.resolve(reply.table);
    else waiting.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
  }

  /** A worker that died takes its queries with it; the next query starts a new one. */
  private crashed(worker: Worker, error: Error): void {
    void this.worker?.then((current) => {
      if (current !== worker) return;
      this.worker = undefined;
      this.fail(error);
    });
  }

  private fail(error: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
