/** The local source: the embedded KQL engine over tables read from log files. */
import { runQuery, tablesWithin } from "../kql/index.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { Table } from "../kql/types.js";
import { loadLogs, type ReadIssue } from "../readers/index.js";
import type { QueryRequest, QueryResponse, QuerySource } from "./types.js";

export class LocalSource implements QuerySource {
  readonly kind = "local" as const;
  constructor(
    readonly tables: Record<string, Table>,
    readonly name = "local",
  ) {}

  static async fromPaths(paths: string[]): Promise<{ source: LocalSource; issues: ReadIssue[] }> {
    const { tables, issues } = await loadLogs(paths);
    return { source: new LocalSource(tables, `local:${paths.join(",")}`), issues };
  }

  /** The first and last TimeGenerated across the tables; undefined when no row has one. */
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
    return end === -Infinity ? undefined : { start, end };
  }

  /**
   * Runs a query as Log Analytics would: every table restricted to the request's timespan (a rule
   * with a 1-hour period and no time filter reads one hour), now() at the end of that window.
   */
  query(request: QueryRequest): Promise<QueryResponse> {
    // The engine is synchronous; the executor turns what it throws into a rejection, as callers of a source expect.
    return new Promise((resolve) => {
      const tables = tablesWithin(this.tables, request.timespan);
      resolve({ table: runQuery(request.query, { tables, schemas: TABLE_SCHEMAS, now: request.timespan.end }).table });
    });
  }
}
