/**
 * Collects records into typed tables. Each value is checked against its column's Kusto type; a
 * record with a value that cannot be that type is reported (file, line, field, value) and left
 * out, and every good record is kept.
 */
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { Column, KqlType, Row, Table, Value } from "../kql/types.js";
import { coerceToType, emptyValue } from "../kql/values.js";

export interface ReadIssue {
  source: string;
  /** Line, row or record number within the source, 1-based. */
  at: number;
  field?: string;
  message: string;
}

/** Excel and export artefacts that mean "no value". */
const NULL_MARKERS = new Set(["#NAME?", "#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NULL!", "#NUM!"]);

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
    const row: Row = [];
    for (const name in record) {
      const raw = record[name];
      const index = this.position(name, raw);
      if (index === undefined) continue;
      const converted = convertValue(raw, this.columns[index].type);
      if ("error" in converted) {
        if (!this.schema) {
          row[index] = coerceToType(raw, "dynamic");
          continue;
        }
        return { field: name, message: `${name}: ${converted.error}` };
      }
      row[index] = converted.value;
    }
    this.rows.push(row);
    return undefined;
  }

  build(): Table {
    // Known tables list their columns in schema order.
    const order = this.schema ? [...this.schema.keys()] : this.columns.map((c) => c.name);
    const columns = order.filter((name) => this.positions.has(name)).map((name) => this.columns[this.positions.get(name)!]);
    const sources = columns.map((c) => this.positions.get(c.name)!);
    const defaults = columns.map((c) => emptyValue(c.type));
    const rows = this.rows.map((row) => {
      const out: Row = new Array<Value>(sources.length);
      for (let i = 0; i < sources.length; i++) {
        const v = row[sources[i]];
        out[i] = v === undefined ? defaults[i] : v;
      }
      return out;
    });
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
