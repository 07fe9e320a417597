/**
 * Collects records into typed tables. Each value is checked against its column's Kusto type; a
 * record with a value that cannot be that type is reported (file, line, field, value) and left
 * out, and every good record is kept.
 */
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { Column, KqlType, Row, Table, Value } from "../kql/types.js";
import { coerceToType } from "../kql/values.js";

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
    return { value: type === "string" ? "" : null };
  }
  if (type === "string") {
    if (typeof raw === "object") return { value: JSON.stringify(raw) };
    return { value: String(raw) };
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

class TableAccumulator {
  readonly rows: Row[] = [];
  private columns: Column[];
  private readonly known: boolean;
  private readonly pending: Record<string, unknown>[] = [];

  constructor(readonly name: string) {
    const schema = TABLE_SCHEMAS[name];
    this.known = !!schema;
    this.columns = schema ? [...schema] : [];
  }

  add(record: Record<string, unknown>): { field: string; message: string } | undefined {
    if (!this.known) {
      // Unknown tables keep every field; their types are settled when the table is built.
      this.pending.push(record);
      return undefined;
    }
    const row: Row = new Array(this.columns.length);
    for (let i = 0; i < this.columns.length; i++) {
      const column = this.columns[i];
      const converted = convertValue(record[column.name], column.type);
      if ("error" in converted) return { field: column.name, message: `${column.name}: ${converted.error}` };
      row[i] = converted.value;
    }
    this.rows.push(row);
    return undefined;
  }

  build(): Table {
    if (this.known) return { columns: this.columns, rows: this.rows };
    const types = new Map<string, KqlType>();
    for (const record of this.pending) {
      for (const [name, value] of Object.entries(record)) {
        if (value === null || value === undefined || value === "") continue;
        if (!types.has(name)) types.set(name, inferType(name, value));
      }
    }
    this.columns = [...types].map(([name, type]) => ({ name, type }));
    const rows = this.pending.map((record) =>
      this.columns.map((c) => {
        const converted = convertValue(record[c.name], c.type);
        return "error" in converted ? coerceToType(record[c.name], "dynamic") : converted.value;
      }),
    );
    return { columns: this.columns, rows };
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
