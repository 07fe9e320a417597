/**
 * Collects records into typed tables. Each value is checked against its column's Kusto type; a
 * record with a value that cannot be that type is reported (file, line, field, value) and left
 * out, and every good record is kept.
 */
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { Column, KqlType, Row, Table, Value } from "../kql/types.js";
import { coerceToType, DATETIME_EPOCH_MS, emptyValue, isDatetimeTickText, utcMs } from "../kql/values.js";
import { TICKS_PER_MS } from "../time.js";

export interface ReadIssue {
  source: string;
  /** Line, row or record number within the source, 1-based. */
  at: number;
  field?: string;
  message: string;
}

/** Excel and export artefacts that mean "no value". */
const NULL_MARKERS = new Set(["#NAME?", "#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NULL!", "#NUM!"]);

/**
 * Whether text could be one of NULL_MARKERS once trimmed: every marker starts with "#", so text
 * that starts with anything else but space (which trim() removes) cannot be one. Decides without
 * trimming (a new string) and hashing the text, which every value would cost otherwise.
 */
function mightBeNullMarker(text: string): boolean {
  if (text.length < 4) return false;
  const first = text.charCodeAt(0);
  // "#", or a character trim() may remove: ASCII space and controls, or anything from U+00A0 on (conservatively).
  return first === 35 || first <= 32 || first >= 0xa0;
}

const digits = (text: string, from: number, to: number) => {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
};

/** The last day whose midnight was worked out (rows of a log mostly fall on a few days), and that midnight in JS milliseconds. */
let lastDay = "";
let lastDayMs = 0;

/**
 * Datetime text to the tick as parseDatetime reads it, without its regular expressions: the same
 * utcMs milliseconds and the same arithmetic, so the same number. Undefined where the text is
 * not of that form or its fields are out of range (parseDatetime then decides).
 */
function tickTextDatetime(text: string): number | undefined {
  if (!isDatetimeTickText(text)) return undefined;
  const day = text.slice(0, 10);
  if (day !== lastDay) {
    const year = digits(text, 0, 4);
    const month = digits(text, 5, 7);
    const date = digits(text, 8, 10);
    if (month < 1 || month > 12 || date < 1) return undefined;
    const ms = utcMs(year, month - 1, date);
    // A date that does not exist rolls over into the next month.
    if (new Date(ms).getUTCDate() !== date) return undefined;
    lastDay = day;
    lastDayMs = ms;
  }
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const wholeMs = lastDayMs + hour * 3_600_000 + minute * 60_000 + second * 1000;
  return (wholeMs - DATETIME_EPOCH_MS) * TICKS_PER_MS + digits(text, 20, 27);
}

/** A value that cannot be its column's type: `convertValue` says why. */
const NOT_CONVERTIBLE = Symbol("not convertible");

/**
 * `convertValue`'s value, or NOT_CONVERTIBLE, with the common cases (text for a text column, empty
 * values, a datetime to the tick) decided without building a result object per value.
 */
function convertFast(raw: unknown, type: KqlType): Value | typeof NOT_CONVERTIBLE {
  if (raw === undefined || raw === null) return emptyValue(type);
  if (typeof raw === "string") {
    if (mightBeNullMarker(raw) && NULL_MARKERS.has(raw.trim())) return emptyValue(type);
    if (type === "string") return raw;
    if (type === "datetime") {
      const ticks = tickTextDatetime(raw);
      if (ticks !== undefined) return ticks;
    }
  }
  const converted = convertValue(raw, type);
  return "error" in converted ? NOT_CONVERTIBLE : converted.value;
}

/** Converts a raw value to a column type, or explains why it cannot. */
export function convertValue(raw: unknown, type: KqlType): { value: Value } | { error: string } {
  if (raw === undefined || raw === null || (typeof raw === "string" && NULL_MARKERS.has(raw.trim()))) {
    return { value: emptyValue(type) };
  }
  if (type === "string") {
    if (typeof raw === "string") return { value: raw };
    if (typeof raw === "number" || typeof raw === "boolean" || typeof raw === "bigint") return { value: String(raw) };
    return { value: JSON.stringify(raw) ?? "" };
  }
  if (type === "dynamic") return { value: coerceToType(raw, "dynamic") };
  if (typeof raw === "string" && raw.trim() === "") return { value: null };
  if (typeof raw === "object") return { error: `expected ${type}, got ${Array.isArray(raw) ? "an array" : "an object"}` };
  const value = coerceToType(raw, type);
  if (value === null) return { error: `expected ${type}, got ${JSON.stringify(raw)}` };
  if ((type === "int" || type === "long") && typeof raw === "number" && !Number.isInteger(raw)) {
    return { error: `expected ${type}, got ${raw}` };
  }
  return { value };
}

/** Guesses a column type for tables with no known schema. */
function inferType(name: string, value: unknown): KqlType {
  if (/^(TimeGenerated|Timestamp)$/.test(name)) return "datetime";
  if (typeof value === "number") return Number.isInteger(value) ? "long" : "real";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "object" && value !== null) return "dynamic";
  return "string";
}

/**
 * Rows of one table. Only columns that occur in the data are kept (a SecurityEvent has 228
 * possible columns, most empty for any one event), so memory follows the data's real width.
 */
class TableAccumulator {
  private readonly rows: Row[] = [];
  private readonly columns: Column[] = [];
  private readonly positions = new Map<string, number>();
  private readonly schema: Map<string, KqlType> | undefined;
  private built = false;

  constructor(readonly name: string) {
    const schema = TABLE_SCHEMAS[name];
    this.schema = schema ? new Map(schema.map((c) => [c.name, c.type])) : undefined;
  }

  private position(name: string, value: unknown): number | undefined {
    let index = this.positions.get(name);
    if (index === undefined) {
      if (!this.schema && (value === null || value === undefined || value === "")) return undefined; // no type to infer yet
      const type = this.schema ? this.schema.get(name) : inferType(name, value);
      if (!type) return undefined; // not a column of this known table
      index = this.columns.length;
      this.columns.push({ name, type });
      this.positions.set(name, index);
    }
    return index;
  }

  add(record: Record<string, unknown>): { field: string; message: string } | undefined {
    if (this.built) throw new Error(`table ${this.name} takes no rows once built`);
    // As long as the columns so far: a row grown value by value holds room for half as many again.
    const row: Row = new Array<Value>(this.columns.length);
    for (const name in record) {
      const raw = record[name];
      const index = this.position(name, raw);
      if (index === undefined) continue;
      const type = this.columns[index].type;
      const value = convertFast(raw, type);
      if (value === NOT_CONVERTIBLE) {
        if (!this.schema) {
          row[index] = coerceToType(raw, "dynamic");
          continue;
        }
        const converted = convertValue(raw, type) as { error: string };
        return { field: name, message: `${name}: ${converted.error}` };
      }
      row[index] = value;
    }
    this.rows.push(row);
    return undefined;
  }

  /** The table; its rows are this accumulator's, put in column order, so it is built once and takes no rows after. */
  build(): Table {
    if (this.built) throw new Error(`table ${this.name} built twice`);
    this.built = true;
    // Known tables list their columns in schema order.
    const order = this.schema ? [...this.schema.keys()] : this.columns.map((c) => c.name);
    const columns = order.filter((name) => this.positions.has(name)).map((name) => this.columns[this.positions.get(name)!]);
    const sources = columns.map((c) => this.positions.get(c.name)!);
    const defaults = columns.map((c) => emptyValue(c.type));
    // Each row is put in column order in place (through one scratch row): a copy of every row would
    // double what the garbage collector moves while a folder loads.
    const scratch = new Array<Value>(sources.length);
    const rows = this.rows;
    for (const row of rows) {
      for (let i = 0; i < sources.length; i++) {
        const v = row[sources[i]];
        scratch[i] = v === undefined ? defaults[i] : v;
      }
      row.length = sources.length;
      for (let i = 0; i < sources.length; i++) row[i] = scratch[i];
    }
    return { columns, rows };
  }
}

export class TableBuilder {
  private readonly tables = new Map<string, TableAccumulator>();
  readonly issues: ReadIssue[] = [];
  private added = 0;

  add(table: string, record: Record<string, unknown>, source: string, at: number): boolean {
    let accumulator = this.tables.get(table);
    if (!accumulator) {
      accumulator = new TableAccumulator(table);
      this.tables.set(table, accumulator);
    }
    const problem = accumulator.add(record);
    if (problem) {
      this.issues.push({ source, at, field: problem.field, message: problem.message });
      return false;
    }
    this.added++;
    return true;
  }

  issue(issue: ReadIssue) {
    this.issues.push(issue);
  }

  get rowCount() {
    return this.added;
  }

  build(): Record<string, Table> {
    const out: Record<string, Table> = {};
    for (const [name, accumulator] of this.tables) out[name] = accumulator.build();
    return out;
  }
}
