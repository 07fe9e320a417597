import type { Column, Row, Table } from "./types.js";
import { coerceToType, datetimeFromMs, formatDatetime } from "./values.js";

export function tableFromRecords(columns: readonly Column[], records: Iterable<Record<string, unknown>>): Table {
  const rows = [];
  for (const record of records) rows.push(columns.map((c) => coerceToType(record[c.name], c.type)));
  return { columns, rows };
}

/** Each table's timed rows in time order (stable, so equal times keep the data's order), built once per table. */
const timeIndexes = new WeakMap<Table, { rows: Row[]; times: number[] }>();

function timeIndex(table: Table, column: number): { rows: Row[]; times: number[] } {
  let index = timeIndexes.get(table);
  if (!index) {
    const timed = table.rows.filter((r) => typeof r[column] === "number");
    const inOrder = timed.every((r, k) => k === 0 || (timed[k - 1][column] as number) <= (r[column] as number));
    const rows = inOrder ? timed : [...timed].sort((a, b) => (a[column] as number) - (b[column] as number));
    index = { rows, times: rows.map((r) => r[column] as number) };
    timeIndexes.set(table, index);
  }
  return index;
}

/** The first position whose time is at least `t`. */
function lowerBound(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Every table restricted to the query's time range (JS epoch milliseconds) on TimeGenerated (or
 * Timestamp), as Log Analytics applies a query's timespan. The rows are found by binary search
 * over a time index built once per table, so a run of many short windows does not rescan the data each time.
 */
export function tablesWithin(tables: Record<string, Table>, range: { start: number; end: number }): Record<string, Table> {
  const out: Record<string, Table> = {};
  for (const [name, table] of Object.entries(tables)) {
    let i = table.columns.findIndex((c) => c.name === "TimeGenerated");
    if (i < 0) i = table.columns.findIndex((c) => c.name === "Timestamp");
    if (i < 0) {
      out[name] = table;
      continue;
    }
    const { rows, times } = timeIndex(table, i);
    const from = lowerBound(times, datetimeFromMs(range.start));
    const to = lowerBound(times, datetimeFromMs(range.end));
    let within: Row[] | undefined;
    // Cut when first read: a query reads few of the tables, and a week of rows cut for each one it does not was garbage.
    out[name] = {
      columns: table.columns,
      get rows() {
        return (within ??= rows.slice(from, to));
      },
    };
  }
  return out;
}

/** A value a query is bound with: a number, a string, or a list of either. */
export type BoundValue = number | string | readonly (number | string)[];

function kqlLiteral(value: BoundValue): string {
  if (Array.isArray(value)) return `dynamic(${JSON.stringify(value)})`;
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : `real(${value})`;
  return JSON.stringify(value);
}

/**
 * The `let` statements a hunt's KQL is bound with (its window, its context start and its
 * parameters), so the same text runs unchanged on Log Analytics, Defender and the local engine.
 */
export function windowLets(window: { start: number; end: number }, contextStart: number, parameters: Record<string, BoundValue>): string {
  const literal = (ms: number) => `datetime(${formatDatetime(datetimeFromMs(ms))})`;
  return [
    `let HuntStart = ${literal(window.start)};`,
    `let HuntEnd = ${literal(window.end)};`,
    `let ContextStart = ${literal(contextStart)};`,
    ...Object.entries(parameters).map(([name, value]) => `let ${name} = ${kqlLiteral(value)};`),
  ].join("\n");
}
