/** The local source: the embedded KQL engine over tables read from log files. */
import type { Table } from "../kql/types.js";
import { datetimeToMs } from "../kql/values.js";
import { loadLogs, type ReadIssue } from "../readers/index.js";
import { runLocalQuery } from "./local-query.js";
import { QueryThread } from "./query-thread.js";
import type { QueryRequest, QueryResponse, QuerySource } from "./types.js";

export interface LocalSourceOptions {
  /**
   * Run queries on a worker thread (lib/sources/query-thread.ts), so a long query does not hold
   * the event loop: what serves HTTP or fires timers (`hunts serve`, the CLI) sets it. The worker
   * keeps its own copy of the tables.
   */
  worker?: boolean;
}

export class LocalSource implements QuerySource {
  readonly kind = "local" as const;
  private readonly thread?: QueryThread;

  constructor(
    readonly tables: Record<string, Table>,
    readonly name = "local",
    options: LocalSourceOptions = {},
  ) {
    if (options.worker) this.thread = new QueryThread(tables);
  }

  static async fromPaths(paths: string[], options: LocalSourceOptions = {}): Promise<{ source: LocalSource; issues: ReadIssue[] }> {
    const { tables, issues } = await loadLogs(paths);
    return { source: new LocalSource(tables, `local:${paths.join(",")}`, options), issues };
  }

  /** The first and last TimeGenerated across the tables (JS epoch ms); undefined when no row has one. */
  timeRange(): { start: number; end: number } | undefined {
    let start = Infinity;
    let end = -Infinity;
    for (const table of Object.values(this.tables)) {
      const i = table.columns.findIndex((c) => c.name === "TimeGenerated");
      if (i < 0) continue;
      for (const row of table.rows) {
        const t = row[i];
        if (typeof t !== "number" || !Number.isFinite(t)) continue;
        if (t < start) start = t;
        if (t > end) end = t;
      }
    }
    return end === -Infinity ? undefined : { start: datetimeToMs(start), end: datetimeToMs(end) };
  }

  /** Runs a query as Log Analytics would (runLocalQuery), on the worker thread when there is one. */
  async query(request: QueryRequest): Promise<QueryResponse> {
    if (this.thread) return { table: await this.thread.query(request) };
    // The engine is synchronous; in an async function what it throws becomes a rejection, as callers of a source expect.
    return { table: runLocalQuery(this.tables, request) };
  }

  /** Stops the query worker, if any (an idle one does not keep the process alive either). */
  async close(): Promise<void> {
    await this.thread?.close();
  }
}
