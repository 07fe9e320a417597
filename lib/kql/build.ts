import type { Column, Table } from "./types.js";
import { coerceToType } from "./values.js";

export function tableFromRecords(columns: readonly Column[], records: Iterable<Record<string, unknown>>): Table {
  const rows = [];
  for (const record of records) rows.push(columns.map((c) => coerceToType(record[c.name], c.type)));
  return { columns, rows };
}
