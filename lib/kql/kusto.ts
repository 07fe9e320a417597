/**
 * The official Kusto parser (`@kusto/language-service-next`), loaded into Node.
 *
 * The package is a Bridge.NET build of Kusto.Language: `bridge.js` defines the .NET runtime
 * as a global, then `Kusto.Language.Bridge.js` registers the `Kusto` namespace on it. Neither
 * is an ES module, so they are loaded with require for their side effects. Everything the rest
 * of the code needs from the parser goes through this file.
 */
import { createRequire } from "node:module";
import type { Column, KqlType } from "./types.js";
import { normalizeTypeName } from "./types.js";
import { KqlError, positionOf, type SourcePosition } from "./errors.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
export type SyntaxNode = any;
type KustoNamespace = any;

let kusto: KustoNamespace | undefined;

export function kustoLanguage(): KustoNamespace {
  if (!kusto) {
    const require = createRequire(import.meta.url);
    require("@kusto/language-service-next/bridge.min.js");
    require("@kusto/language-service-next/Kusto.Language.Bridge.min.js");
    kusto = (globalThis as any).Kusto.Language;
  }
  return kusto;
}

export interface Diagnostic {
  severity: "error" | "warning" | "suggestion" | "information";
  code: string;
  message: string;
  start: number;
  length: number;
  position: SourcePosition;
}

export interface AnalyzedQuery {
  text: string;
  syntax: SyntaxNode;
  diagnostics: Diagnostic[];
  /** Tables the query names that no schema describes: analysed as open (any column) and read as empty. */
  openTables: ReadonlySet<string>;
}

/** Longest query text the engine accepts, and deepest bracket nesting: the parser's time grows steeply past them. */
export const MAX_QUERY_LENGTH = 256 * 1024;
export const MAX_NESTING_DEPTH = 200;

/**
 * Rejects inputs the parser would take very long on, before parsing: text over MAX_QUERY_LENGTH and
 * brackets nested deeper than MAX_NESTING_DEPTH (string literals and comments are skipped).
 */
export function checkQueryShape(text: string): void {
  if (text.length > MAX_QUERY_LENGTH) {
    throw new KqlError(`The query is ${text.length} characters long; the limit is ${MAX_QUERY_LENGTH}`, undefined, "too-large");
  }
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === '"' || c === "'") {
      const verbatim = text[i - 1] === "@";
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === "\\" && !verbatim) i++;
    } else if (c === "(" || c === "[" || c === "{") {
      if (++depth > MAX_NESTING_DEPTH) {
        throw new KqlError(`Brackets nest deeper than ${MAX_NESTING_DEPTH} levels`, positionOf(text, i), "too-deep");
      }
    } else if (c === ")" || c === "]" || c === "}") depth = Math.max(0, depth - 1);
  }
}

const globalStates = new Map<string, any>();

function schemaSignature(tables: Record<string, readonly Column[]>): string {
  return Object.entries(tables)
    .map(([name, cols]) => `${name}(${cols.map((c) => `${c.name}:${c.type}`).join(",")})`)
    .sort()
    .join(";");
}

/** Kusto's schema syntax needs brackets around names that are not plain identifiers. */
function quoteName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `['${name.replace(/'/g, "\\'")}']`;
}

/** A GlobalState whose default database holds the given tables; cached per schema set. */
export function globalStateFor(tables: Record<string, readonly Column[]>, open: ReadonlySet<string> = new Set()): any {
  const signature = `${schemaSignature(tables)}|open:${[...open].sort().join(",")}`;
  let state = globalStates.get(signature);
  if (!state) {
    const K = kustoLanguage();
    const S = K.Symbols;
    const symbols = Object.entries(tables).map(
      ([name, cols]) => new S.TableSymbol.$ctor7(name, `(${cols.map((c) => `${quoteName(c.name)}:${c.type}`).join(", ")})`, null),
    );
    for (const name of open)
      if (!tables[name]) symbols.push(new S.TableSymbol.$ctor7(name, "(TimeGenerated:datetime)", null).WithIsOpen(true));
    const database = new S.DatabaseSymbol.ctor("hunts", symbols);
    state = K.GlobalState.Default.WithDatabase(database);
    globalStates.set(signature, state);
  }
  return state;
}

const SEVERITIES: Record<string, Diagnostic["severity"]> = {
  Error: "error",
  Warning: "warning",
  Suggestion: "suggestion",
  Information: "information",
};

/**
 * Parses and type-checks a query. A name in table position that no schema describes becomes an
 * open table (any column, read as empty), as Log Analytics treats a table the workspace lacks.
 */
export function analyze(text: string, tables: Record<string, readonly Column[]>): AnalyzedQuery {
  const first = analyzeWith(text, tables, new Set());
  const unknown = unknownTableNames(first);
  return unknown.size ? analyzeWith(text, tables, unknown) : first;
}

const TABLE_POSITIONS = new Set([
  "PipeExpression",
  "ExpressionStatement",
  "LetStatement",
  "UnionOperator",
  "JoinOperator",
  "LookupOperator",
  "ParenthesizedExpression",
  "FunctionBody",
  "InExpression",
  "ToScalarExpression",
]);

/** Names the parser does not know (KS204) that stand where a table stands. */
function unknownTableNames(query: AnalyzedQuery): Set<string> {
  const starts = new Set(query.diagnostics.filter((d) => d.code === "KS204").map((d) => d.start));
  const names = new Set<string>();
  if (!starts.size) return names;
  const visit = (node: SyntaxNode) => {
    if (!node) return;
    if (nodeKind(node) === "NameReference" && starts.has(node.TextStart)) {
      let parent = node.Parent;
      while (parent && /^(SyntaxList|SeparatedElement|ExpressionList)/.test(nodeKind(parent))) parent = parent.Parent;
      const parentKind = nodeKind(parent);
      const isSource = parentKind !== "PipeExpression" || parent.Expression === node;
      if (TABLE_POSITIONS.has(parentKind) && isSource && /^[A-Za-z_][A-Za-z0-9_]*$/.test(String(node.SimpleName))) {
        names.add(String(node.SimpleName));
      }
    }
    for (let i = 0; i < node.ChildCount; i++) {
      const child = node.GetChild(i);
      if (child && typeof child.ChildCount === "number") visit(child);
    }
  };
  visit(query.syntax);
  return names;
}

function analyzeWith(text: string, tables: Record<string, readonly Column[]>, open: ReadonlySet<string>): AnalyzedQuery {
  const K = kustoLanguage();
  const code = K.KustoCode.ParseAndAnalyze(text, globalStateFor(tables, open));
  const list = code.GetDiagnostics();
  const diagnostics: Diagnostic[] = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    diagnostics.push({
      severity: SEVERITIES[d.Severity] ?? "error",
      code: d.Code,
      message: d.Message,
      start: d.Start,
      length: d.Length,
      position: positionOf(text, d.Start),
    });
  }
  return { text, syntax: code.Syntax, diagnostics, openTables: open };
}

// ---- small helpers over the Bridge.NET object model ----

/** The syntax class name without its namespace, e.g. `FilterOperator`. */
export function nodeKind(node: SyntaxNode): string {
  const name: string = node?.$$name ?? node?.constructor?.$$name ?? "";
  return name.replace(/^Kusto\.Language\.Syntax\./, "");
}

/** Elements of a `SyntaxList<SeparatedElement<T>>` or a plain `SyntaxList<T>`. */
export function listElements(list: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  if (!list) return out;
  for (let i = 0; i < list.Count; i++) {
    const item = list.getItem(i);
    out.push(item && item.Element !== undefined && nodeKind(item).startsWith("SeparatedElement") ? item.Element : item);
  }
  return out;
}

export function nodeStart(node: SyntaxNode): number {
  return typeof node?.TextStart === "number" ? node.TextStart : 0;
}

/** The node's own text without surrounding trivia (for messages). */
export function nodeText(node: SyntaxNode): string {
  return String(node?.ToString?.(2) ?? node?.ToString?.() ?? "").trim();
}

export function errorAt(query: AnalyzedQuery, node: SyntaxNode, message: string, code?: string): KqlError {
  return new KqlError(message, positionOf(query.text, nodeStart(node)), code);
}

/** The static type the parser inferred for a scalar expression, or undefined when it is not scalar. */
export function scalarTypeOf(node: SyntaxNode): KqlType | undefined {
  const type = node?.ResultType;
  if (!type) return undefined;
  const name: string = type.Name ?? "";
  return normalizeTypeName(name);
}

export function isTabular(node: SyntaxNode): boolean {
  const type = node?.ResultType;
  return !!type && String(type.$$name ?? type.constructor?.$$name ?? "").endsWith("TableSymbol");
}

/** Column names and types of a tabular node's result, as the parser inferred them. */
export function resultColumns(node: SyntaxNode): Column[] | undefined {
  const type = node?.ResultType;
  if (!type?.Columns) return undefined;
  const out: Column[] = [];
  for (let i = 0; i < type.Columns.Count; i++) {
    const column = type.Columns.getItem(i);
    out.push({ name: column.Name, type: normalizeTypeName(column.Type?.Name ?? "") ?? "dynamic" });
  }
  return out;
}

export function referencedName(node: SyntaxNode): string | undefined {
  return node?.ReferencedSymbol?.Name ?? undefined;
}

export function referencedSymbolKind(node: SyntaxNode): string {
  const name: string = node?.ReferencedSymbol?.$$name ?? node?.ReferencedSymbol?.constructor?.$$name ?? "";
  return name.slice(name.lastIndexOf(".") + 1);
}

/** Names of every symbol of one kind (`ColumnSymbol`, `TableSymbol`, ...) the tree refers to. */
export function referencedSymbolNames(root: SyntaxNode, symbolKind: string): Set<string> {
  const names = new Set<string>();
  const visit = (node: SyntaxNode) => {
    if (!node) return;
    if (node.ReferencedSymbol && referencedSymbolKind(node) === symbolKind) names.add(String(node.ReferencedSymbol.Name));
    for (let i = 0; i < (node.ChildCount ?? 0); i++) {
      const child = node.GetChild(i);
      if (child && typeof child.ChildCount === "number") visit(child);
    }
  };
  visit(root);
  return names;
}

/** `NamedParameter` list (e.g. `kind=leftouter`, `isfuzzy=true`) as lower-cased name -> token text. */
export function namedParameters(list: SyntaxNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const parameter of listElements(list)) {
    const name = String(parameter.Name?.SimpleName ?? "").toLowerCase();
    out.set(name, nodeText(parameter.Expression));
  }
  return out;
}
