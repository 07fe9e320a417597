/** One query of the local source, wherever it runs (the caller's thread or the query worker). */
import { runQuery, tablesWithin } from "../kql/index.js";
import type { Table } from "../kql/types.js";
import { datetimeToMs } from "../kql/values.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { ReadIssue } from "../readers/index.js";
import type { QueryRequest } from "./types.js";

/**
 * Runs a query as Log Analytics would: every table restricted to the request's timespan (a rule
 * with a 1-hour period and no time filter reads one hour), now() at the end of that window.
 */
export function runLocalQuery(tables: Record<string, Table>, request: Pick<QueryRequest, "query" | "timespan">): Table {
  return runQuery(request.query, { tables: tablesWithin(tables, request.timespan), schemas: TABLE_SCHEMAS, now: request.timespan.end })
    .table;
}

/** The first and last TimeGenerated across the tables (JS epoch ms); undefined when no row has one. */
export function timeRangeOf(tables: Record<string, Table>): { start: number; end: number } | undefined {
  let start = Infinity;
  let end = -Infinity;
  for (const table of Object.values(tables)) {
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

/** What the caller's thread keeps of tables a query worker loaded: their names and time range, and what could not be read. */
export interface LoadedTables {
  tableNames: string[];
  timeRange: { start: number; end: number } | undefined;
  issues: ReadIssue[];
}
