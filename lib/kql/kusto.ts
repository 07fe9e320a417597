/// <reference types="@kusto/language-service-next" />
/**
 * The official Kusto parser (`@kusto/language-service-next`), loaded into Node.
 *
 * The package is a Bridge.NET build of Kusto.Language: `bridge.js` defines the .NET runtime
 * as a global, then `Kusto.Language.Bridge.js` registers the `Kusto` namespace on it. Neither
 * is an ES module, so they are loaded with require for their side effects. Everything the rest
 * of the code needs from the parser goes through this file.
 */
import { createRequire } from "node:module";
import { LRUCache } from "lru-cache";
import type { Column, KqlType } from "./types.js";
import { normalizeTypeName } from "./types.js";
import { KqlError, positionOf, type SourcePosition } from "./errors.js";

/** The parser's namespace, typed by the package's own declarations (`Kusto.Language.Bridge.d.ts`). */
export type KustoNamespace = typeof Kusto.Language;
export type TypeSymbol = Kusto.Language.Symbols.TypeSymbol;
export type KustoSymbol = Kusto.Language.Symbols.Symbol;
type GlobalState = Kusto.Language.GlobalState;
type TableSymbol = Kusto.Language.Symbols.TableSymbol;

/** A node the parser may leave out (an optional clause, a missing child): the helpers below accept it. */
export type OptionalNode = SyntaxNode | null | undefined;

/** Bridge.NET's class name of a parser object (on the instance or its constructor); the d.ts does not declare it. */
function bridgeClassName(value: object | null | undefined): string {
  const named = value as { $$name?: string; constructor?: { $$name?: string } } | null | undefined;
  return named?.$$name ?? named?.constructor?.$$name ?? "";
}

/** The parser's answers are declared nullable (.NET references); a null where the engine needs a value is a parser failure. */
function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new KqlError(`Internal error: the Kusto parser returned no ${what}`);
  return value;
}

/**
 * A syntax node as the engine reads it. The bridge's d.ts declares one interface per syntax class
 * (`FilterOperator`, `BinaryExpression`, ...), but the engine dispatches on the class name
 * (`nodeKind`) and then reads that class's members, so it works with this one shape instead: the
 * members shared by every node, plus the class-specific members the engine reads. A
 * class-specific member exists only on the classes that declare it; callers check `nodeKind`
 * (or test the member) before reading it. Lists (`SyntaxList<T>`) are nodes with `Count` and `getItem`.
 */
export interface SyntaxNode {
  Parent: SyntaxNode | null;
  TextStart: number;
  Width: number;
  ChildCount: number;
  GetChild(index: number): SyntaxNode | null;
  ToString(includeTrivia?: number): string;
  /** For scalar and tabular expressions: the type the parser inferred. */
  ResultType: TypeSymbol | null;
  /** For names and calls: the symbol the parser bound them to. */
  ReferencedSymbol: KustoSymbol | null;
  /** For calls of user functions: the parser's expansion of the body at this call site. */
  GetExpansion?(): SyntaxNode | null;
  /** For tokens: the token's text. */
  Text: string;
  /** For names: the name without brackets or quotes. */
  SimpleName: string;
  /** For literals: the parsed value (string, number, boolean or a Bridge.NET boxed value). */
  LiteralValue: unknown;
  /** For lists. */
  Count: number;
  getItem(index: number): SyntaxNode;
  /** For separated list elements. */
  Element: SyntaxNode;
  // Class-specific child nodes the engine reads.
  Aggregates: SyntaxNode;
  ArgumentList: SyntaxNode;
  Arguments: SyntaxNode;
  AscOrDescKeyword: SyntaxNode;
  Body: SyntaxNode;
  ByClause: SyntaxNode;
  ByExpression: SyntaxNode;
  Clauses: SyntaxNode;
  Columns: SyntaxNode;
  Condition: SyntaxNode;
  ConditionClause: SyntaxNode;
  DefaultExpression: SyntaxNode;
  DefaultValue: SyntaxNode;
  Expression: SyntaxNode;
  Expressions: SyntaxNode;
  FirstOrLastKeyword: SyntaxNode;
  From: SyntaxNode;
  FunctionCall: SyntaxNode;
  Left: SyntaxNode;
  LookupClause: SyntaxNode;
  MakeSeriesFromClause: SyntaxNode;
  MakeSeriesStepClause: SyntaxNode;
  MakeSeriesToClause: SyntaxNode;
  Name: SyntaxNode;
  Names: SyntaxNode;
  NameAndType: SyntaxNode;
  NullsClause: SyntaxNode;
  OfExpression: SyntaxNode;
  OnClause: SyntaxNode;
  Operand: SyntaxNode;
  Operator: SyntaxNode;
  Ordering: SyntaxNode;
  InClause: SyntaxNode;
  Pairs: SyntaxNode;
  Keys: SyntaxNode;
  WithClause: SyntaxNode;
  Properties: SyntaxNode;
  Parameters: SyntaxNode;
  Patterns: SyntaxNode;
  RangeClause: SyntaxNode;
  Right: SyntaxNode;
  RowLimitClause: SyntaxNode;
  Schema: SyntaxNode;
  Selector: SyntaxNode;
  Statements: SyntaxNode;
  Step: SyntaxNode;
  Subquery: SyntaxNode;
  To: SyntaxNode;
  ToTypeOf: SyntaxNode;
  Type: SyntaxNode;
  TypeOf: SyntaxNode;
  RowLimit: SyntaxNode;
  Value: SyntaxNode;
  First: SyntaxNode;
  Second: SyntaxNode;
  Values: SyntaxNode;
  URIs: SyntaxNode;
  // InvokeOperator: the function call `invoke` runs.
  Function: SyntaxNode;
}

let kusto: KustoNamespace | undefined;

export function kustoLanguage(): KustoNamespace {
  if (!kusto) {
    const require = createRequire(import.meta.url);
    require("@kusto/language-service-next/bridge.min.js");
    require("@kusto/language-service-next/Kusto.Language.Bridge.min.js");
    kusto = (globalThis as unknown as { Kusto: { Language: KustoNamespace } }).Kusto.Language;
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

/**
 * Per schema set (and open tables). Bounded: a long-lived host analysing users' queries over
 * ever-different exports would otherwise keep every schema it has seen.
 */
const globalStates = new LRUCache<string, GlobalState>({ max: 50 });

/**
 * One number per distinct column list: callers pass the same published schema arrays on every query,
 * so a schema set's signature is its table names and these numbers, not its (hundreds of kB of) columns.
 */
const columnListIds = new WeakMap<readonly Column[], number>();
const columnListIdsByText = new Map<string, number>();

export function columnListId(columns: readonly Column[]): number {
  let id = columnListIds.get(columns);
  if (id === undefined) {
    const text = columns.map((c) => `${c.name}:${c.type}`).join(",");
    id = columnListIdsByText.get(text);
    if (id === undefined) columnListIdsByText.set(text, (id = columnListIdsByText.size));
    columnListIds.set(columns, id);
  }
  return id;
}

/**
 * Column lists of tables whose columns vary by source: Log Analytics adds a column to such a table
 * the first time a source sends it (AzureDiagnostics, whose reference page says so), so a published
 * list can never be complete. The parser accepts any other column on them, typed dynamic; one the
 * data lacks reads as empty, as on a table the workspace lacks.
 */
const openColumnLists = new WeakSet<readonly Column[]>();

/** Marks a table's columns as the known part of an open schema (see openColumnLists). */
export function openSchema<T extends readonly Column[]>(columns: T): T {
  openColumnLists.add(columns);
  return columns;
}

export function isOpenSchema(columns: readonly Column[] | undefined): boolean {
  return !!columns && openColumnLists.has(columns);
}

function schemaSignature(tables: Record<string, readonly Column[]>): string {
  return Object.entries(tables)
    .map(([name, cols]) => `${name}:${columnListId(cols)}${isOpenSchema(cols) ? "+open" : ""}`)
    .sort()
    .join(";");
}

/** Kusto's schema syntax needs brackets around names that are not plain identifiers. */
function quoteName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `['${name.replace(/'/g, "\\'")}']`;
}

/**
 * Functions every Sentinel workspace has, written for the local engine over the published tables
 * they read: `_GetWatchlist(alias [, keys])` returns a watchlist's current items, one column per
 * item field (Sentinel's watchlists live in the Watchlist table, one row per item version).
 */
export const WORKSPACE_FUNCTIONS: readonly { name: string; parameters: string; body: string; tables: readonly string[] }[] = [
  {
    name: "_GetWatchlist",
    parameters: "(watchlistAlias:string, keys:dynamic = dynamic([]))",
    body: `{
      Watchlist
      | where WatchlistAlias == watchlistAlias and _DTItemType == "watchlist-item"
      | where array_length(keys) == 0 or SearchKey in (keys)
      | summarize arg_max(_DTTimestamp, _DTItemStatus, LastUpdatedTimeUTC, SearchKey, WatchlistItem) by _DTItemId
      | where _DTItemStatus != "Delete"
      | project-away _DTTimestamp, _DTItemStatus
      | evaluate bag_unpack(WatchlistItem)
    }`,
    tables: ["Watchlist"],
  },
];

/** A GlobalState whose default database holds the given tables; cached per schema set. */
export function globalStateFor(tables: Record<string, readonly Column[]>, open: ReadonlySet<string> = new Set()): GlobalState {
  const signature = `${schemaSignature(tables)}|open:${[...open].sort().join(",")}`;
  const cached = globalStates.get(signature);
  if (cached) return cached;
  const K = kustoLanguage();
  const S = K.Symbols;
  const symbols = Object.entries(tables).map(([name, cols]) => {
    const table = new S.TableSymbol.$ctor7(name, `(${cols.map((c) => `${quoteName(c.name)}:${c.type}`).join(", ")})`, null);
    return isOpenSchema(cols) ? required(table.WithIsOpen(true), "open schema") : table;
  });
  for (const name of open)
    if (!tables[name])
      symbols.push(required(new S.TableSymbol.$ctor7(name, "(TimeGenerated:datetime)", null).WithIsOpen(true), "open table"));
  const functions: KustoSymbol[] = WORKSPACE_FUNCTIONS.filter((f) => f.tables.every((t) => tables[t])).map(
    (f) => new S.FunctionSymbol.$ctor16(f.name, f.parameters, f.body, null),
  );
  const database = new S.DatabaseSymbol.ctor("hunts", [...symbols, ...functions]);
  const created = required(required(K.GlobalState.Default, "default global state").WithDatabase(database), "global state");
  globalStates.set(signature, created);
  return created;
}

const SEVERITIES: Record<string, Diagnostic["severity"]> = {
  Error: "error",
  Warning: "warning",
  Suggestion: "suggestion",
  Information: "information",
};

/**
 * The Kusto library's one-time start: its first analysis compiles much of the library's code (about
 * 1.5 s). Done ahead, while this process would only wait (for Azurite to start), no query pays it.
 */
export function warmUpParser(): void {
  analyze("print Warm = 1", {});
}

/**
 * Parses and type-checks a query. A name in table position that no schema describes becomes an
 * open table (any column, read as empty), as Log Analytics treats a table the workspace lacks.
 */
export function analyze(text: string, tables: Record<string, readonly Column[]>): AnalyzedQuery {
  const masked = maskWindowLets(text);
  let scopes = scopesOfSchemaSet.get(tables);
  if (!scopes) scopesOfSchemaSet.set(tables, (scopes = new LRUCache({ max: 200 })));
  let scope = scopes.get(masked);
  if (!scope) {
    // From the masked text: a window's datetimes name no table.
    const named = tablesNamedIn(masked, tables);
    scopes.set(masked, (scope = { named, key: `${schemaSignature(named)}\u0000${masked}` }));
  }
  const { named, key } = scope;
  let analyzed = analyses.get(key);
  if (!analyzed) {
    const first = analyzeWith(masked, named, new Set());
    const unknown = unknownTableNames(first);
    analyzed = unknown.size ? analyzeWith(masked, named, unknown) : first;
    analyses.set(key, analyzed);
  }
  // Same length, same lines: positions in the tree and in diagnostics hold for the real text.
  return { ...analyzed, text };
}

/**
 * A scheduled hunt's text differs between runs only in the window it is bound with (leading
 * `let HuntStart = datetime(...);` statements), and analysing it costs 10-30 ms. Analyses are
 * kept per text with those datetimes masked; literals are read from the real text by position
 * (sourceText), so one analysis serves every window.
 */
const analyses = new LRUCache<string, AnalyzedQuery>({ max: 200 });
/**
 * Per schema set (the same object on every window, see schemasFor) and masked text: the tables the
 * query names and its analysis key. Working them out scans every table of the set (about 750
 * published ones) and was a large share of a short window's cost.
 */
const scopesOfSchemaSet = new WeakMap<
  Record<string, readonly Column[]>,
  LRUCache<string, { named: Record<string, readonly Column[]>; key: string }>
>();

/** Leading `let Name = datetime(<ISO 8601 UTC>);` statements, as windowLets writes them. */
const LEADING_DATETIME_LETS = /^(?:\s*let\s+\w+\s*=\s*datetime\(\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,7})?Z\s*\)\s*;)+/;
const ISO_DATETIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{1,7}))?Z/g;

/** The text with the datetimes of its leading lets replaced by one fixed datetime of the same length. */
function maskWindowLets(text: string): string {
  const lets = LEADING_DATETIME_LETS.exec(text);
  if (!lets) return text;
  const masked = lets[0].replace(
    ISO_DATETIME,
    (_, fraction?: string) => `2000-01-01T00:00:00${fraction ? `.${"0".repeat(fraction.length)}` : ""}Z`,
  );
  return masked + text.slice(lets[0].length);
}

/**
 * The tables a query can refer to: those whose name occurs in its text as a word (as a table, or as
 * a string such as `table("SigninLogs")`), or matches a wildcard such as `union Device*`. The parser
 * analyses a query in time that grows with the size of its database (about 30 ms for all ~750
 * published tables against 10 for a handful), so it is given only these.
 */
export function tablesNamedIn<T>(text: string, tables: Record<string, T>): Record<string, T> {
  const words = new Set(text.match(/[A-Za-z_][A-Za-z0-9_]*/g));
  const prefixes = [...text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)?\*/g)].map((m) => m[1] ?? "");
  // `union *`, `search` and `find` read every table.
  if (/\bunion\b[^|]*?(^|[\s,(])\*/m.test(text) || words.has("search") || words.has("find")) return tables;
  for (const f of WORKSPACE_FUNCTIONS) if (words.has(f.name)) for (const table of f.tables) words.add(table);
  const out: Record<string, T> = {};
  for (const [name, columns] of Object.entries(tables)) {
    if (words.has(name) || prefixes.some((prefix) => prefix && name.startsWith(prefix))) out[name] = columns;
  }
  return out;
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
  const visit = (node: OptionalNode) => {
    if (!node) return;
    if (nodeKind(node) === "NameReference" && starts.has(node.TextStart)) {
      let parent = node.Parent;
      while (parent && /^(SyntaxList|SeparatedElement|ExpressionList)/.test(nodeKind(parent))) parent = parent.Parent;
      const parentKind = nodeKind(parent);
      const isSource = parentKind !== "PipeExpression" || parent?.Expression === node;
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
  const code = required(K.KustoCode.ParseAndAnalyze(text, globalStateFor(tables, open)), "analysis");
  const list = required(code.GetDiagnostics(), "diagnostics");
  const diagnostics: Diagnostic[] = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    diagnostics.push({
      severity: SEVERITIES[d.Severity ?? ""] ?? "error",
      code: d.Code ?? "",
      message: d.Message ?? "",
      start: d.Start,
      length: d.Length,
      position: positionOf(text, d.Start),
    });
  }
  // The one place the bridge's SyntaxNode becomes the engine's view of it (see SyntaxNode above).
  return { text, syntax: required(code.Syntax, "syntax tree") as unknown as SyntaxNode, diagnostics, openTables: open };
}

// ---- small helpers over the Bridge.NET object model ----

/** The syntax class name without its namespace, e.g. `FilterOperator`. */
export function nodeKind(node: OptionalNode): string {
  const name = bridgeClassName(node);
  return name.replace(/^Kusto\.Language\.Syntax\./, "");
}

/** Elements of a `SyntaxList<SeparatedElement<T>>` or a plain `SyntaxList<T>`. */
export function listElements(list: OptionalNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  if (!list) return out;
  for (let i = 0; i < list.Count; i++) {
    const item = list.getItem(i);
    out.push(item && item.Element !== undefined && nodeKind(item).startsWith("SeparatedElement") ? item.Element : item);
  }
  return out;
}

export function nodeStart(node: OptionalNode): number {
  return typeof node?.TextStart === "number" ? node.TextStart : 0;
}

/**
 * A node's text as the query was written. The cached syntax tree may hold a masked literal
 * (see analyze), so values are read from the query's own text at the node's position.
 */
export function sourceText(query: AnalyzedQuery, node: OptionalNode): string {
  // A node of a function's body, as the parser expands a call, stands at offsets in that body, not in the query.
  if (!inQueryTree(query, node)) return nodeText(node);
  const start = nodeStart(node);
  const width = typeof node?.Width === "number" ? node.Width : 0;
  return query.text.slice(start, start + width).trim();
}

/** Whether the node is part of the query's own tree (not of a function body the parser expanded for a call). */
function inQueryTree(query: AnalyzedQuery, node: OptionalNode): boolean {
  let top = node;
  while (top?.Parent) top = top.Parent;
  return top === query.syntax;
}

/** The node's own text without surrounding trivia (for messages). */
export function nodeText(node: OptionalNode): string {
  if (!node) return "";
  let text = nodeTexts.get(node);
  if (text === undefined) {
    text = String(node.ToString?.(2) ?? node.ToString?.() ?? "").trim();
    nodeTexts.set(node, text);
  }
  return text;
}

/**
 * Node texts, once per node: a syntax tree is kept from window to window (analyze) and never
 * changes, and ToString walks the node's tokens every time (each window's compile asks again).
 */
const nodeTexts = new WeakMap<SyntaxNode, string>();

export function errorAt(query: AnalyzedQuery, node: OptionalNode, message: string, code?: string): KqlError {
  return new KqlError(message, positionOf(query.text, nodeStart(node)), code);
}

/** The static type the parser inferred for a scalar expression, or undefined when it is not scalar. */
export function scalarTypeOf(node: OptionalNode): KqlType | undefined {
  const type = node?.ResultType;
  if (!type) return undefined;
  const name: string = type.Name ?? "";
  return normalizeTypeName(name);
}

export function isTabular(node: OptionalNode): boolean {
  const type = node?.ResultType;
  return !!type && bridgeClassName(type).endsWith("TableSymbol");
}

/** A string literal token's value (any of Kusto's quotings); undefined for no token. */
export function kustoStringValue(literal: string | null | undefined): string | undefined {
  if (literal === null || literal === undefined) return undefined;
  return kustoLanguage().KustoFacts.GetStringLiteralValue(literal) ?? undefined;
}

/**
 * The name Kusto gives an unnamed expression's column: a column's own name, and for calls that
 * keep their argument's name (`todatetime(E)` is `E`) that argument's; "" when it generates one
 * (`Column1`).
 */
export function expressionResultName(node: SyntaxNode, rowScope?: OptionalNode): string {
  // The row's columns let a call that names its result after a column argument given by name (`column_ifexists('x', 0)`) find it.
  const type = rowScope?.ResultType;
  const row = type && "Columns" in type ? (type as TableSymbol) : null;
  return kustoLanguage().KustoFacts.GetExpressionResultName(node as unknown as Kusto.Language.Syntax.Expression, "", row) ?? "";
}

/** Column names and types of a tabular node's result, as the parser inferred them. */
export function resultColumns(node: OptionalNode): Column[] | undefined {
  const type = node?.ResultType;
  const columns = type && "Columns" in type ? (type as TableSymbol).Columns : null;
  if (!columns) return undefined;
  const out: Column[] = [];
  for (let i = 0; i < columns.Count; i++) {
    const column = columns.getItem(i);
    out.push({ name: column.Name ?? "", type: normalizeTypeName(column.Type?.Name ?? "") ?? "dynamic" });
  }
  return out;
}

/** The columns of a call that returns several values (the parser's tuple type), or undefined for a single value. */
export function tupleColumns(node: OptionalNode): Column[] | undefined {
  const type = node?.ResultType;
  if (!type || !bridgeClassName(type).endsWith("TupleSymbol")) return undefined;
  return resultColumns(node);
}

/** The parameters of the function a call refers to (its first signature), with their default values. */
export function functionParameters(call: OptionalNode): { name: string; defaultValue: SyntaxNode | undefined }[] {
  const symbol = call?.ReferencedSymbol as Kusto.Language.Symbols.FunctionSymbol | null | undefined;
  const parameters = symbol?.Signatures?.getItem(0)?.Parameters;
  const out: { name: string; defaultValue: SyntaxNode | undefined }[] = [];
  for (let i = 0; i < (parameters?.Count ?? 0); i++) {
    const parameter = parameters!.getItem(i);
    out.push({ name: parameter.Name ?? "", defaultValue: (parameter.DefaultValue as unknown as SyntaxNode | null) ?? undefined });
  }
  return out;
}

export function referencedName(node: OptionalNode): string | undefined {
  return node?.ReferencedSymbol?.Name ?? undefined;
}

export function referencedSymbolKind(node: OptionalNode): string {
  const name = bridgeClassName(node?.ReferencedSymbol);
  return name.slice(name.lastIndexOf(".") + 1);
}

/** Names of every symbol of one kind (`ColumnSymbol`, `TableSymbol`, ...) the tree refers to. */
export function referencedSymbolNames(root: SyntaxNode, symbolKind: string): ReadonlySet<string> {
  // A kept tree is walked once per kind, not on every window's run.
  let byKind = symbolNames.get(root);
  if (!byKind) symbolNames.set(root, (byKind = new Map<string, ReadonlySet<string>>()));
  let names = byKind.get(symbolKind);
  if (!names) byKind.set(symbolKind, (names = symbolNamesUnder(root, symbolKind)));
  return names;
}

const symbolNames = new WeakMap<SyntaxNode, Map<string, ReadonlySet<string>>>();

function symbolNamesUnder(root: SyntaxNode, symbolKind: string): Set<string> {
  const names = new Set<string>();
  const visit = (node: OptionalNode) => {
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
export function namedParameters(list: OptionalNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const parameter of listElements(list)) {
    const name = String(parameter.Name?.SimpleName ?? "").toLowerCase();
    out.set(name, nodeText(parameter.Expression));
  }
  return out;
}
