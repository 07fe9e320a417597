/**
 * Runtime model of the local KQL engine.
 *
 * Values are plain JS values chosen for speed; the static type of every column and
 * expression (known from the official parser's semantic analysis) says how to read them:
 *   string            -> string ('' is Kusto's empty string: strings are never null)
 *   bool              -> boolean | null
 *   int, long, real   -> number | null
 *   datetime          -> number | null  (100 ns ticks since 2020-01-01 UTC; see DATETIME_EPOCH_MS in values.ts)
 *   timespan          -> number | null  (100 ns ticks)
 *   guid              -> string | null
 *   dynamic           -> JSON value (null, boolean, number, string, array, object)
 */
export const KQL_TYPES = ["bool", "int", "long", "real", "decimal", "string", "datetime", "timespan", "dynamic", "guid"] as const;
export type KqlType = (typeof KQL_TYPES)[number];

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };
export type Row = Value[];

export interface Column {
  readonly name: string;
  readonly type: KqlType;
}

export interface Table {
  readonly columns: readonly Column[];
  readonly rows: Row[];
}

/** `own`'s columns, then those of `extra` whose names `own` lacks (a published schema widened by what data or Log Analytics adds). */
export function withColumns(own: readonly Column[], extra: readonly Column[]): Column[] {
  return [...own, ...extra.filter((column) => !own.some((c) => c.name === column.name))];
}

export function isKqlType(name: string): name is KqlType {
  return (KQL_TYPES as readonly string[]).includes(name);
}

/** Maps the parser's type names (including aliases such as `double`, `date`, `time`, `boolean`) to ours. */
export function normalizeTypeName(name: string): KqlType | undefined {
  const lower = name.toLowerCase();
  switch (lower) {
    case "double":
      return "real";
    case "date":
      return "datetime";
    case "time":
      return "timespan";
    case "boolean":
      return "bool";
    case "uniqueid":
      return "guid";
    default:
      return isKqlType(lower) ? lower : undefined;
  }
}

export const NUMERIC_TYPES: ReadonlySet<KqlType> = new Set(["int", "long", "real", "decimal"]);
export const INTEGER_TYPES: ReadonlySet<KqlType> = new Set(["int", "long"]);

export function emptyTable(columns: readonly Column[]): Table {
  return { columns, rows: [] };
}

/** Turns a table's rows into plain objects keyed by column name (for tests, JSON output and findings). */
export function tableToObjects(table: Table): Record<string, Value>[] {
  return table.rows.map((row) => {
    const record: Record<string, Value> = {};
    table.columns.forEach((column, index) => {
      record[column.name] = row[index] ?? null;
    });
    return record;
  });
}
