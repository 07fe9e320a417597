/** The local source: the embedded KQL engine over tables read from log files. */
import { runQuery } from "../kql/index.js";
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

  async query(request: QueryRequest): Promise<QueryResponse> {
    // now() in a hunt means the end of its window, as when the query ran on schedule.
    return { table: runQuery(request.query, { tables: this.tables, now: request.timespan.end }).table };
  }
}
