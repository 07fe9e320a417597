/** One query of the local source, wherever it runs (the caller's thread or the query worker). */
import { runQuery, tablesWithin } from "../kql/index.js";
import type { Table } from "../kql/types.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { QueryRequest } from "./types.js";

/**
 * Runs a query as Log Analytics would: every table restricted to the request's timespan (a rule
 * with a 1-hour period and no time filter reads one hour), now() at the end of that window.
 */
export function runLocalQuery(tables: Record<string, Table>, request: Pick<QueryRequest, "query" | "timespan">): Table {
  return runQuery(request.query, { tables: tablesWithin(tables, request.timespan), schemas: TABLE_SCHEMAS, now: request.timespan.end })
    .table;
}
