import { runQuery, toJsonRecords, type Table } from "../../lib/kql/index.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";

/** A fixed clock so ago() and now() give the same answers every run. */
export const NOW = Date.UTC(2024, 9, 18, 12, 0, 0);

export function q(text: string, tables: Record<string, Table> = {}) {
  return toJsonRecords(runQuery(text, { tables, schemas: TABLE_SCHEMAS, now: NOW }).table);
}

export function columnsOf(text: string, tables: Record<string, Table> = {}) {
  return runQuery(text, { tables, schemas: TABLE_SCHEMAS, now: NOW }).table.columns.map((c) => `${c.name}:${c.type}`);
}
