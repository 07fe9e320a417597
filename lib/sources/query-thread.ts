/**
 * The local source's queries on a worker thread. The engine is synchronous: on the caller's thread
 * a long query holds the event loop, and `hunts serve` could not answer a GET or fire a timer
 * until it ended. The worker starts with the first query (or `loaded()`), with either a copy of
 * the caller's tables or the paths to read them from itself, so that the rows live in the worker
 * alone; queries then wait their turn on it while the caller's thread stays free. A worker
 * started again (after `close` or a crash) reads the paths again.
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import type { Table } from "../kql/types.js";
import { startWorker } from "../readers/parallel.js";
import type { LoadedTables } from "./local-query.js";
import type { QueryRequest } from "./types.js";

/** The tables to query: a copy of these, or what the worker reads from these paths. */
export type QueryWorkerInput = { tables: Record<string, Table> } | { paths: string[] };

export interface QueryWorkerRequest {
  id: number;
  query: string;
  timespan: { start: number; end: number };
}
type WorkerError = { name: string; message: string };
export type QueryWorkerReply = { id: number; table: Table } | { id: number; error: WorkerError };
/** Posted once by a worker given paths, when they are read. */
export type QueryWorkerLoaded = { loaded: LoadedTables } | { loadFailed: WorkerError };

const asError = (failure: WorkerError) => Object.assign(new Error(failure.message), { name: failure.name });

const WORKER_URL = new URL(`./query-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export class QueryThread {
  private worker?: Promise<Worker>;
  private load?: Promise<LoadedTables>;
  /** Ends the current worker's load: with what it posted, or a failure when it stopped first. */
  private endLoad?: (reply: QueryWorkerLoaded) => void;
  private readonly pending = new Map<number, { resolve: (table: Table) => void; reject: (error: Error) => void }>();
  private nextId = 1;

  constructor(private readonly input: QueryWorkerInput) {}

  /** What a worker given paths read (starting it if need be); it fails as the reading did. */
  async loaded(): Promise<LoadedTables> {
    if (!("paths" in this.input)) throw new Error("the query worker was given tables, not paths");
    await this.started();
    return this.load!;
  }

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
    this.endLoad?.({ loadFailed: { name: "Error", message: "the query worker was stopped" } });
    if (worker) await (await worker).terminate();
  }

  private started(): Promise<Worker> {
    if (this.worker) return this.worker;
    const reading = "paths" in this.input;
    let endLoad!: (reply: QueryWorkerLoaded) => void;
    this.load = new Promise<QueryWorkerLoaded>((resolve) => (endLoad = resolve)).then((reply) => {
      if ("loadFailed" in reply) throw asError(reply.loadFailed);
      return reply.loaded;
    });
    // Nobody need ask; a failed load also fails every query.
    this.load.catch(() => undefined);
    this.endLoad = endLoad;
    this.worker = startWorker(WORKER_URL, { workerData: this.input satisfies QueryWorkerInput }).then((worker) => {
      // Reading files keeps the process alive (a CLI awaits nothing else meanwhile); an idle worker does not.
      if (!reading) worker.unref();
      worker.on("message", (reply: QueryWorkerReply | QueryWorkerLoaded) => {
        if ("id" in reply) return this.settle(worker, reply);
        if (!this.pending.size) worker.unref();
        endLoad(reply);
      });
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
    else waiting.reject(asError(reply.error));
  }

  /** A worker that died takes its queries with it; the next query starts a new one. */
  private crashed(worker: Worker, error: Error): void {
    void this.worker?.then((current) => {
      if (current !== worker) return;
      this.worker = undefined;
      this.fail(error);
      this.endLoad?.({ loadFailed: { name: error.name, message: error.message } });
    });
  }

  private fail(error: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
