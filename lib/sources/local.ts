/** The local source: the embedded KQL engine over tables read from log files. */
import type { Table } from "../kql/types.js";
import { loadLogs, type ReadIssue } from "../readers/index.js";
import { runLocalQuery, timeRangeOf, type LoadedTables } from "./local-query.js";
import { QueryThread } from "./query-thread.js";
import type { QueryRequest, QueryResponse, QuerySource } from "./types.js";

export interface LocalSourceOptions {
  /**
   * Run queries on a worker thread (lib/sources/query-thread.ts), so a long query does not hold
   * the event loop: what serves HTTP or fires timers (`hunts serve`, the CLI) sets it. Given
   * tables, the worker keeps its own copy of them; loaded from paths (`fromPaths`), the worker
   * reads the files itself and this thread keeps no rows.
   */
  worker?: boolean;
}

/** Tables a query worker read from files: the worker has the rows, this thread what it said of them. */
class WorkerTables {
  constructor(
    readonly thread: QueryThread,
    readonly loaded: LoadedTables,
  ) {}
}

export class LocalSource implements QuerySource {
  readonly kind = "local" as const;
  private readonly thread?: QueryThread;
  /** The rows, when this thread holds them (not when a worker read them from files). */
  private readonly tables?: Record<string, Table>;
  private readonly loaded?: LoadedTables;

  constructor(
    tables: Record<string, Table> | WorkerTables,
    readonly name = "local",
    options: LocalSourceOptions = {},
  ) {
    if (tables instanceof WorkerTables) {
      this.thread = tables.thread;
      this.loaded = tables.loaded;
    } else {
      this.tables = tables;
      if (options.worker) this.thread = new QueryThread({ tables });
    }
  }

  /** Reads log files and folders (one bad file never stops the others; not one path existing is an error). */
  static async fromPaths(paths: string[], options: LocalSourceOptions = {}): Promise<{ source: LocalSource; issues: ReadIssue[] }> {
    const name = `local:${paths.join(",")}`;
    if (!options.worker) {
      const { tables, issues } = await loadLogs(paths);
      return { source: new LocalSource(tables, name), issues };
    }
    const thread = new QueryThread({ paths });
    try {
      const loaded = await thread.loaded();
      return { source: new LocalSource(new WorkerTables(thread, loaded), name), issues: loaded.issues };
    } catch (error) {
      await thread.close();
      throw error;
    }
  }

  /** Names of the tables that have rows. */
  tableNames(): string[] {
    return this.loaded ? this.loaded.tableNames : Object.keys(this.tables!);
  }

  /** The first and last TimeGenerated across the tables (JS epoch ms); undefined when no row has one. */
  timeRange(): { start: number; end: number } | undefined {
    return this.loaded ? this.loaded.timeRange : timeRangeOf(this.tables!);
  }

  /** Runs a query as Log Analytics would (runLocalQuery), on the worker thread when there is one. */
  async query(request: QueryRequest): Promise<QueryResponse> {
    if (this.thread) return { table: await this.thread.query(request) };
    // The engine is synchronous; in an async function what it throws becomes a rejection, as callers of a source expect.
    return { table: runLocalQuery(this.tables!, request) };
  }

  /** Stops the query worker, if any (an idle one does not keep the process alive either; the next query starts another). */
  async close(): Promise<void> {
    await this.thread?.close();
  }
}
