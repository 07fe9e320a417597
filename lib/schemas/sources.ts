/**
 * Readers for the two published sources of table schemas (see README.md), and the deterministic
 * merge that turns them into sentinel-tables.json:
 * - the Azure Monitor Logs table reference (one markdown include per table, `| Column | Type | Description |`);
 * - the Defender XDR advanced hunting schema reference (one page per table, `| Column name | Data type | Description |`);
 * - the Azure-Sentinel repository's CustomTables (one JSON document per table, `{ Name, Properties: [{ Name, Type }] }`).
 */
import JSON5 from "json5";
import { z } from "zod";
import type { Column } from "../kql/types.js";
import { normalizeTypeName } from "../kql/types.js";

export interface TableSchema {
  name: string;
  columns: Column[];
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Type words the pages use besides Kusto's own: Defender XDR's `object`, `array`, `enum`, `integer`; AzureDiagnostics' `BigInt`. */
const TYPE_ALIASES: Readonly<Record<string, string>> = {
  object: "dynamic",
  array: "dynamic",
  enum: "string",
  integer: "int",
  bigint: "long",
};

/** Adds a column unless one of that name is already there (a source that repeats a column keeps its first type). */
function addColumn(columns: Column[], name: string, typeName: string, where: string): void {
  if (columns.some((c) => c.name === name)) return;
  const type = normalizeTypeName(TYPE_ALIASES[typeName.toLowerCase()] ?? typeName);
  if (!type) throw new Error(`${where}: column '${name}' has unknown type '${typeName}'`);
  columns.push({ name, type });
}

// ---------- Azure-Sentinel CustomTables ----------

const Property = z.union([
  z.object({ Name: z.string().min(1), Type: z.string().min(1) }).transform((p) => ({ name: p.Name, type: p.Type })),
  z.object({ name: z.string().min(1), type: z.string().min(1) }),
]);

const CustomTable = z.object({ Name: z.string().regex(TABLE_NAME, "a table name"), Properties: z.array(Property) });

/** Parses a CustomTables file's text (JSON; a few files carry a byte-order mark, comments or trailing commas). */
export function parseCustomTableText(text: string, file: string): TableSchema {
  let document: unknown;
  try {
    document = JSON5.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new Error(`${file}: not JSON (${(error as Error).message})`, { cause: error });
  }
  return parseCustomTable(document, file);
}

/** One CustomTables document as a table name and its columns. */
export function parseCustomTable(document: unknown, file: string): TableSchema {
  const parsed = CustomTable.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${file}: not a CustomTables schema (${issue ? `${issue.path.join(".") || "document"}: ${issue.message}` : "invalid"})`,
    );
  }
  const columns: Column[] = [];
  for (const property of parsed.data.Properties) addColumn(columns, property.name, property.type, file);
  return { name: parsed.data.Name, columns };
}

// ---------- Azure Monitor Logs table reference ----------

/**
 * One page of the table reference: an include (`<table>-include.md`, the table's name in the front
 * matter's `ms.custom`) or a table's own page (`<table>.md`, the name in its title), with its columns in
 * a `| Column | Type | Description |` table. Pages without such a table (service overviews, pages that
 * include their columns) give undefined.
 */
export function parseReferencePage(markdown: string, file: string): TableSchema | undefined {
  const lines = markdown.split(/\r?\n/);
  const header = lines.findIndex((line) => /^\|\s*Column\s*\|\s*Type\s*\|/.test(line));
  if (header < 0) return undefined;
  const name = (/^ms\.custom:\s*(\S+)\s*$/m.exec(markdown) ?? /^#\s+(\S+)/m.exec(markdown))?.[1];
  if (!name || !TABLE_NAME.test(name)) throw new Error(`${file}: no table name in the front matter's ms.custom or the title`);
  const columns: Column[] = [];
  for (const line of lines.slice(header + 1)) {
    if (!line.startsWith("|")) break;
    const [column, type] = line
      .split("|")
      .slice(1, 3)
      .map((cell) => cell.trim());
    if (/^:?-+:?$/.test(column)) continue;
    if (!TABLE_NAME.test(column)) throw new Error(`${file}: '${column}' is not a column name`);
    if (type) addColumn(columns, column, type, file); // a column listed without a type is left to the errata (generate.ts)
  }
  if (!columns.length) throw new Error(`${file}: the column table is empty`);
  return { name, columns };
}

// ---------- Defender XDR advanced hunting reference ----------

/** A markdown table cell's first word, without the code quotes and footnote marks around it (`` `Timestamp` [*](#note) ``). */
function cellWord(cell: string): string {
  const quoted = /`\s*([^`]+?)\s*`/.exec(cell);
  return (quoted ? quoted[1] : cell).trim().split(/[\s*]/)[0] ?? "";
}

/**
 * One advanced hunting table page (`advanced-hunting-<table>-table.md`): the table's name from the
 * page's title, its columns from the `| Column name | Data type | Description |` table. Pages that are
 * not one table's reference (overviews, functions) give undefined.
 */
export function parseDefenderPage(markdown: string, file: string): TableSchema | undefined {
  const lines = markdown.split(/\r?\n/);
  const header = lines.findIndex((line) => /^\|\s*Column name\s*\|\s*Data type\s*\|/i.test(line));
  if (header < 0) return undefined;
  const name = /^#\s+(\S+)/m.exec(markdown)?.[1];
  if (!name || !TABLE_NAME.test(name)) throw new Error(`${file}: no table name in the page's title`);
  const columns: Column[] = [];
  for (const line of lines.slice(header + 1)) {
    if (!line.trim().startsWith("|")) break;
    const cells = line.split("|").slice(1, 3);
    if (cells.every((cell) => /^\s*:?-+:?\s*$/.test(cell))) continue;
    const [column, type] = cells.map(cellWord);
    if (!TABLE_NAME.test(column)) throw new Error(`${file}: '${column}' is not a column name`);
    addColumn(columns, column, type, file);
  }
  if (!columns.length) throw new Error(`${file}: the column table is empty`);
  return { name, columns };
}

// ---------- merge ----------

/**
 * Merges schemas given in order of precedence: a table keeps the first definition's columns and
 * types, and later definitions of it add only the columns it lacks. The result is sorted by name,
 * so the same inputs always give the same file.
 */
export function mergeSchemas(definitions: readonly TableSchema[]): TableSchema[] {
  const byName = new Map<string, Column[]>();
  for (const { name, columns } of definitions) {
    const own = byName.get(name);
    if (!own) byName.set(name, [...columns]);
    else for (const column of columns) if (!own.some((c) => c.name === column.name)) own.push(column);
  }
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, columns]) => ({ name, columns }));
}

// ---------- compact form ----------

/** The compact form stored in sentinel-tables.json: `Name` for a string column, `Name:type` otherwise. */
export function compactColumns(columns: readonly Column[]): string {
  return columns.map((c) => (c.type === "string" ? c.name : `${c.name}:${c.type}`)).join(" ");
}

export function expandColumns(compact: string): Column[] {
  return compact
    .split(/\s+/)
    .filter(Boolean)
    .map((entry) => {
      const [name, typeName] = entry.split(":");
      return { name, type: (typeName && normalizeTypeName(typeName)) || "string" };
    });
}
