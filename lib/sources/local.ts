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

  async query(request: QueryRequest): Promise<QueryResponse> {
    // now() in a hunt means the end of its window, as when the query ran on schedule.
    return { table: runQuery(request.query, { tables: this.tables, now: request.timespan.end }).table };
  }
}
