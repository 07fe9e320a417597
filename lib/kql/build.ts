import type { Column, Table } from "./types.js";
import { coerceToType } from "./values.js";

export function tableFromRecords(columns: readonly Column[], records: Iterable<Record<string, unknown>>): Table {
  const rows = [];
  for (const record of records) rows.push(columns.map((c) => coerceToType(record[c.name], c.type)));
  return { columns, rows };
}

/**
 * Each table restricted to rows whose time falls in [start, end), as Log Analytics applies a query's
 * timespan: on TimeGenerated, or Timestamp for Defender tables without it. Tables with neither stay whole.
 */
export function tablesWithin(tables: Record<string, Table>, range: { start: number; end: number }): Record<string, Table> {
  const out: Record<string, Table> = {};
  for (const [name, table] of Object.entries(tables)) {
    let i = table.columns.findIndex((c) => c.name === "TimeGenerated");
    if (i < 0) i = table.columns.findIndex((c) => c.name === "Timestamp");
    out[name] =
      i < 0
        ? table
        : {
            columns: table.columns,
            rows: table.rows.filter((r) => typeof r[i] === "number" && (r[i] as number) >= range.start && (r[i] as number) < range.end),
          };
  }
  return out;
}
