/** Public surface of the local KQL engine. */
import type { Table, Value } from "./types.js";
import { toDynamic } from "./values.js";

export {
  runQuery,
  validateQuery,
  schemasFor,
  SUPPORTED_OPERATOR_KINDS,
  type QueryOptions,
  type QueryResult,
  type TableSchemas,
} from "./engine.js";
export { MAX_NESTING_DEPTH, MAX_QUERY_LENGTH, warmUpParser } from "./kusto.js";
export { KqlError } from "./errors.js";
export type { Diagnostic } from "./kusto.js";
export { tableToObjects, type Column, type KqlType, type Row, type Table, type Value } from "./types.js";
export { coerceToType, formatDatetime, formatTimespan, parseDatetime, parseTimespan } from "./values.js";

/** Rows as JSON records the way Log Analytics returns them: datetimes and timespans as Kusto text. */
export function toJsonRecords(table: Table): Record<string, Value>[] {
  return table.rows.map((row) => {
    const record: Record<string, Value> = {};
    table.columns.forEach((column, index) => {
      record[column.name] = toDynamic(row[index] ?? null, column.type);
    });
    return record;
  });
}

/** Builds a table from plain records, converting each value to its column's type. */
export { tableFromRecords, tablesWithin } from "./build.js";
