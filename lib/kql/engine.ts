/**
 * The local KQL engine: runs a query text over in-memory tables. The official parser parses and
 * type-checks the query against the tables' schemas; this file walks the resulting syntax tree.
 */
import { constant, Scope, type CompileContext, type Compiled, type Environment, type ScalarBinding } from "./context.js";
import { KqlError, positionOf } from "./errors.js";
import { LRUCache } from "lru-cache";
import {
  analyze,
  checkQueryShape,
  columnListId,
  errorAt,
  isOpenSchema,
  isTabular,
  listElements,
  namedParameters,
  nodeKind,
  nodeText,
  openSchema,
  referencedName,
  referencedSymbolKind,
  referencedSymbolNames,
  resultColumns,
  functionParameters,
  tablesNamedIn,
  type AnalyzedQuery,
  type Diagnostic,
  type SyntaxNode,
} from "./kusto.js";
import * as ops from "./operators.js";
import { EVALUATE_PLUGINS, evaluatePlugin, unsupportedPluginMessage } from "./plugins.js";
import { search } from "./search.js";
import { compileScalar, isImplementedFunction } from "./scalar.js";
import type { Column, Row, Table } from "./types.js";
import { normalizeTypeName, withColumns } from "./types.js";
import { datetimeFromMs, emptyValue, plainText, valueIdentity } from "./values.js";

export type TableSchemas = Readonly<Record<string, readonly Column[]>>;

export interface QueryOptions {
  /** Tables by name. */
  tables: Record<string, Table>;
  /** Published schemas of tables the query may name; one the data lacks reads as empty. */
  schemas?: TableSchemas;
  /** The query clock for now() and ago() (a Date or JS epoch milliseconds); defaults to the current time. */
  now?: Date | number;
}

export interface QueryResult {
  /** The last result statement's table (what Log Analytics returns as PrimaryResult). */
  table: Table;
  /** Every result statement's table, in order. */
  tables: Table[];
  diagnostics: Diagnostic[];
  /** Things the caller should know: tables the query names that neither the data nor a schema has (they read as empty). */
  warnings: string[];
}

/**
 * Schemas the parser checks a query against: the known tables' full schemas, with any extra
 * columns the supplied data carries, and the supplied tables that are not known.
 */
export function schemasFor(tables: Record<string, Table>, known: TableSchemas = {}): Record<string, readonly Column[]> {
  return perShape(schemaSets, tables, known, () => mergedSchemas(tables, known));
}

type SchemaSets = WeakMap<TableSchemas, LRUCache<string, Record<string, readonly Column[]>>>;
/** schemasFor's answers per published schema set and data shape. */
const schemaSets: SchemaSets = new WeakMap();
/** The schemas of the data as it is, which a query runs against when the data lacks published columns: per set and shape too. */
const dataSchemaSets: SchemaSets = new WeakMap();

/**
 * Every window of a hunt asks with the same published set and data of the same shape: one answer,
 * the same object (which analyze's caches key on). Callers do not change it.
 */
function perShape(
  sets: SchemaSets,
  tables: Record<string, Table>,
  known: TableSchemas,
  build: () => Record<string, readonly Column[]>,
): Record<string, readonly Column[]> {
  const shape = Object.entries(tables)
    .map(([name, table]) => `${name}:${columnListId(table.columns)}`)
    .join(";");
  let byShape = sets.get(known);
  if (!byShape) sets.set(known, (byShape = new LRUCache({ max: 100 })));
  let schemas = byShape.get(shape);
  if (!schemas) byShape.set(shape, (schemas = build()));
  return schemas;
}

/** The columns the data has (and those widenForQuery added), for known tables open to others as their published schema is. */
function dataSchemas(tables: Record<string, Table>, known: TableSchemas): Record<string, readonly Column[]> {
  return perShape(dataSchemaSets, tables, known, () => {
    const schemas: Record<string, readonly Column[]> = { ...known };
    for (const [name, table] of Object.entries(tables))
      schemas[name] = isOpenSchema(known[name]) ? openSchema([...table.columns]) : table.columns;
    return schemas;
  });
}

function mergedSchemas(tables: Record<string, Table>, known: TableSchemas): Record<string, readonly Column[]> {
  const schemas: Record<string, readonly Column[]> = { ...known };
  for (const [name, table] of Object.entries(tables)) {
    const published = known[name];
    if (!published) schemas[name] = table.columns;
    else {
      const merged = withColumns(published, table.columns);
      schemas[name] = isOpenSchema(published) ? openSchema(merged) : merged;
    }
  }
  return schemas;
}

/**
 * Official-parser diagnostics for a query against the given table schemas, followed by what the
 * local engine cannot run (code `unsupported`), each with its position.
 */
export function validateQuery(text: string, schemas: TableSchemas = {}): Diagnostic[] {
  checkQueryShape(text);
  const analyzed = analyze(text, schemas);
  return [...analyzed.diagnostics, ...unsupportedConstructs(analyzed)];
}

function throwOnErrors(query: AnalyzedQuery): void {
  const errors = query.diagnostics.filter((d) => d.severity === "error" && !isToleratedDiagnostic(query, d));
  if (errors.length) {
    const first = errors[0];
    const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : "";
    throw new KqlError(`${first.message}${more}`, first.position, first.code);
  }
}

/**
 * Tables hold only the columns their data has (a SecurityEvent row has 228 possible columns).
 * Log Analytics shows absent columns as empty, so columns the query names that a known table's
 * data lacks are added, empty; the rest stay out.
 */
function widenForQuery(query: AnalyzedQuery, tables: Record<string, Table>, schemas: TableSchemas): Record<string, Table> {
  const referenced = referencedSymbolNames(query.syntax, "ColumnSymbol");
  // Only tables the query can read: a column it names elsewhere (a DeviceNetworkEvents query's RemotePort) is not one
  // to add to every other table, and widening a table copies its rows.
  const readable = tablesNamedIn(query.text, tables);
  const out: Record<string, Table> = {};
  for (const [name, table] of Object.entries(tables)) {
    if (!(name in readable)) {
      out[name] = table;
      continue;
    }
    const known = schemas[name];
    const present = new Set(table.columns.map((c) => c.name));
    const missing = known ? known.filter((c) => referenced.has(c.name) && !present.has(c.name)) : [];
    if (!missing.length) {
      out[name] = table;
      continue;
    }
    const fill = missing.map((c) => emptyValue(c.type));
    out[name] = { columns: [...table.columns, ...missing], rows: table.rows.map((row) => [...row, ...fill]) };
  }
  return out;
}

function sameColumns(a: readonly Column[], b: readonly Column[] | undefined): boolean {
  return !!b && a.length === b.length && a.every((c, i) => c.name === b[i].name && c.type === b[i].type);
}

export function runQuery(text: string, options: QueryOptions): QueryResult {
  checkQueryShape(text);
  const known = options.schemas ?? {};
  const fullSchemas = schemasFor(options.tables, known);
  const checked = analyze(text, fullSchemas);
  throwOnErrors(checked);
  const tables = widenForQuery(checked, options.tables, known);
  // Run against the columns the data really has, so `*`, joins and unions see the real shape.
  const reshaped = Object.entries(tables).some(([name, table]) => !sameColumns(table.columns, fullSchemas[name]));
  let query = checked;
  if (reshaped) {
    // A schema set made anew for each query missed analyze's per-set cache: for data read from files (which holds only the
    // columns it has), every window worked out again which tables the query names, a scan of every published table.
    query = analyze(text, dataSchemas(tables, known));
    throwOnErrors(query);
  }
  const now = datetimeFromMs(
    options.now === undefined ? Date.now() : typeof options.now === "number" ? options.now : options.now.getTime(),
  );
  const notes = new Set<string>();
  const runner = new QueryRunner(query, tables, now, query.openTables, notes);
  const results = runner.runStatements(listElements(query.syntax.Statements));
  if (!results.length) throw new KqlError("The query has no result statement");
  const warnings = [
    ...[...checked.openTables].map((name) => `Table '${name}' is neither in the data nor in a published schema: it reads as empty`),
    ...notes,
  ];
  return { table: results[results.length - 1], tables: results, diagnostics: checked.diagnostics, warnings };
}

/** `union isfuzzy=true` tolerates references to tables that do not exist. */
function isToleratedDiagnostic(query: AnalyzedQuery, diagnostic: Diagnostic): boolean {
  if (diagnostic.code !== "KS204" && diagnostic.code !== "KS142") return false;
  let tolerated = false;
  const visit = (node: SyntaxNode) => {
    if (!node || tolerated) return;
    if (nodeKind(node) === "UnionOperator" && namedParameters(node.Parameters).get("isfuzzy")?.toLowerCase() === "true") {
      const start = node.TextStart;
      if (diagnostic.start >= start && diagnostic.start < start + node.Width) tolerated = true;
    }
    for (let i = 0; i < node.ChildCount; i++) {
      const child = node.GetChild(i);
      if (child && typeof child.ChildCount === "number") visit(child);
    }
  };
  visit(query.syntax);
  return tolerated;
}

type Binding =
  | { kind: "scalar"; node: SyntaxNode; value?: ScalarBinding }
  | { kind: "tabular"; node: SyntaxNode; table?: Table }
  | { kind: "function"; declaration: SyntaxNode };

/** Functions that read neighbouring rows (Kusto allows them on serialized input, e.g. after sort). */
const WINDOW_FUNCTION = /\b(prev|next|row_number|row_cumsum|row_window_session|row_rank_dense|row_rank_min|row_rank)\s*\(/;

/** Most nested user-defined function calls the engine follows (a function calling itself never ends). */
const MAX_CALL_DEPTH = 64;

/**
 * Evaluates statements and tabular expressions. Each user-defined function call runs in a child
 * runner whose bindings (its parameters and its own lets) shadow the caller's.
 */
class QueryRunner implements Environment {
  private readonly bindings = new Map<string, Binding>();
  private readonly evaluating = new Set<string>();
  private readonly scalarParameters = new Map<string, Compiled>();

  constructor(
    private readonly query: AnalyzedQuery,
    private readonly tables: Record<string, Table>,
    readonly now: number,
    private readonly openTables: ReadonlySet<string>,
    /** Warnings for the caller (shared by every runner of one query). */
    private readonly notes: Set<string>,
    private readonly parent?: QueryRunner,
    private readonly depth = 0,
  ) {}

  /** Runs let, set and expression statements in order; returns each expression statement's table. */
  runStatements(statements: SyntaxNode[]): Table[] {
    const results: Table[] = [];
    for (const statement of statements) {
      const kind = nodeKind(statement);
      if (kind === "LetStatement") {
        const name = String(statement.Name.SimpleName);
        const expr = statement.Expression;
        if (nodeKind(expr) === "FunctionDeclaration") this.bindings.set(name, { kind: "function", declaration: expr });
        else this.bindings.set(name, isTabular(expr) ? { kind: "tabular", node: expr } : { kind: "scalar", node: expr });
      } else if (kind === "ExpressionStatement") {
        results.push(this.evaluateTabular(statement.Expression));
      } else if (kind === "SetOptionStatement" || kind === "QueryParametersStatement") {
        continue;
      } else {
        throw errorAt(this.query, statement, `Unsupported statement '${nodeText(statement).slice(0, 40)}'`, "unsupported");
      }
    }
    return results;
  }

  // ---- Environment ----

  private lookup(name: string): { binding: Binding; owner: QueryRunner } | undefined {
    const binding = this.bindings.get(name);
    if (binding) return { binding, owner: this };
    return this.parent?.lookup(name);
  }

  scalar(name: string): ScalarBinding | undefined {
    const found = this.lookup(name);
    if (!found || found.binding.kind !== "scalar") return undefined;
    const { binding, owner } = found;
    if (!binding.value) {
      owner.guard(name, binding.node);
      const ctx: CompileContext = { query: owner.query, env: owner, scope: new Scope([]) };
      const compiled = compileScalar(binding.node, ctx);
      binding.value = { value: compiled.fn([]), type: compiled.type };
      owner.evaluating.delete(name);
    }
    return binding.value;
  }

  tabular(name: string): Table | undefined {
    const found = this.lookup(name);
    if (!found) return undefined;
    const { binding, owner } = found;
    if (binding.kind === "function") {
      // A function without parameters named without parentheses: `let F = () { ... }; F | ...`.
      return owner.callFunction(binding.declaration, binding.declaration.Body, []);
    }
    if (binding.kind !== "tabular") return undefined;
    if (!binding.table) {
      owner.guard(name, binding.node);
      binding.table = owner.evaluateTabular(binding.node);
      owner.evaluating.delete(name);
    }
    return binding.table;
  }

  parameter(name: string): Compiled | undefined {
    return this.scalarParameters.get(name) ?? this.parent?.parameter(name);
  }

  withParameters(scalars: Map<string, Compiled>): Environment {
    const child = this.child();
    for (const [name, compiled] of scalars) child.scalarParameters.set(name, compiled);
    return child;
  }

  functionDeclaration(name: string): SyntaxNode | undefined {
    const found = this.lookup(name);
    return found?.binding.kind === "function" ? found.binding.declaration : undefined;
  }

  private child(): QueryRunner {
    if (this.depth >= MAX_CALL_DEPTH) throw new KqlError(`User-defined functions nest deeper than ${MAX_CALL_DEPTH} calls`);
    return new QueryRunner(this.query, this.tables, this.now, this.openTables, this.notes, this, this.depth + 1);
  }

  private guard(name: string, node: SyntaxNode) {
    if (this.evaluating.has(name)) throw errorAt(this.query, node, `'${name}' refers to itself`);
    this.evaluating.add(name);
  }

  /**
   * Runs a user-defined tabular function declared in this frame: its body here (lexical scope), its
   * parameters bound to the call's arguments read where the call stands (`caller`), so a function
   * calling another with its own parameter passes its value.
   */
  private callFunction(declaration: SyntaxNode, body: SyntaxNode, args: SyntaxNode[], piped?: Table, caller: QueryRunner = this): Table {
    const frame = this.child();
    const parameters = listElements(declaration.Parameters?.Parameters);
    parameters.forEach((parameter, position) => {
      const name = String(parameter.NameAndType?.Name?.SimpleName ?? "");
      // `T | invoke f(x)` is f(T, x): the piped table is the first parameter.
      if (piped && position === 0) {
        if (name) frame.bindings.set(name, { kind: "tabular", node: declaration, table: piped });
        return;
      }
      const i = piped ? position - 1 : position;
      const arg = args[i] ?? parameter.DefaultValue?.Value;
      if (!name || !arg) return;
      // A default value is the declaration's: it is read where the function was declared.
      const where = args[i] ? caller : this;
      if (isTabular(arg)) frame.bindings.set(name, { kind: "tabular", node: arg, table: where.evaluateTabular(arg) });
      else {
        const compiled = compileScalar(arg, { query: this.query, env: where, scope: new Scope([]) });
        frame.bindings.set(name, { kind: "scalar", node: arg, value: { value: compiled.fn([]), type: compiled.type } });
      }
    });
    const statements = listElements(body.Statements);
    frame.runStatements(statements);
    if (!body.Expression) throw errorAt(this.query, declaration, "The function has no result expression");
    return frame.evaluateTabular(body.Expression);
  }

  evaluateTabular(node: SyntaxNode): Table {
    const kind = nodeKind(node);
    switch (kind) {
      case "ParenthesizedExpression":
        return this.evaluateTabular(node.Expression);
      case "NameReference":
        return this.tableByName(node);
      case "PipeExpression":
        return this.evaluatePipe(node);
      case "DataTableExpression":
        return this.datatable(node);
      case "PrintOperator":
        return this.print(node);
      case "UnionOperator":
        return ops.union(this.unionInputs(node), node);
      case "FunctionCallExpression":
        return this.tabularCall(node);
      case "MaterializeExpression":
        return this.evaluateTabular(node.Expression);
      case "RangeOperator":
        return this.range(node);
      case "SearchOperator":
        return search(this.searchInputs(node), node, { query: this.query, env: this });
      case "ExternalDataExpression": {
        // The local engine reaches no network: the data reads as empty, in its declared shape.
        const uris = listElements(node.URIs).map((u) => plainText(u.LiteralValue ?? nodeText(u)));
        this.notes.add(`externaldata is not fetched locally (${uris.join(", ") || "no address"}): it reads as empty`);
        return { columns: resultColumns(node) ?? [], rows: [] };
      }
    }
    throw errorAt(
      this.query,
      node,
      `Unsupported tabular expression '${nodeText(node).slice(0, 60)}' (${kind}) in the local KQL engine`,
      "unsupported",
    );
  }

  private tabularCall(node: SyntaxNode): Table {
    const name = String(referencedName(node) ?? node.Name?.SimpleName ?? "");
    const args = listElements(node.ArgumentList?.Expressions);
    const lower = name.toLowerCase();
    if (lower === "materialize" || lower === "view") return this.evaluateTabular(args[0]);
    if (lower === "table") {
      const compiled = compileScalar(args[0], { query: this.query, env: this, scope: new Scope([]) });
      const tableName = plainText(compiled.fn([]));
      return this.tabular(tableName) ?? this.tableNamed(tableName, node);
    }
    const found = this.lookup(name);
    if (found?.binding.kind === "function") {
      const body = node.GetExpansion?.() ?? found.binding.declaration.Body;
      return found.owner.callFunction(
        found.binding.declaration,
        nodeKind(body) === "FunctionBody" ? body : found.binding.declaration.Body,
        args,
        undefined,
        this,
      );
    }
    const expansion = node.GetExpansion?.();
    if (expansion && nodeKind(expansion) === "FunctionBody") return this.callDatabaseFunction(node, expansion, args);
    // A name the parser resolved to no function (a workspace function this one lacks, such as an
    // ASIM parser): only a fuzzy union leg may name one, and that leg is skipped (see unionInputs).
    if (referencedSymbolKind(node) !== "FunctionSymbol")
      throw errorAt(this.query, node, `Unknown function '${name}': the workspace has no such function`, "unknown-function");
    throw errorAt(this.query, node, `Unsupported tabular function '${name}' in the local KQL engine`, "unsupported-function");
  }

  /**
   * A function of the database rather than the query (Sentinel's `_GetWatchlist`): the parser's
   * expansion of its body at this call, run with its parameters bound to the arguments or defaults.
   */
  private callDatabaseFunction(node: SyntaxNode, body: SyntaxNode, args: SyntaxNode[]): Table {
    const frame = this.child();
    for (const [i, parameter] of functionParameters(node).entries()) {
      const arg = args[i] ?? parameter.defaultValue;
      if (!arg) continue;
      const compiled = compileScalar(arg, { query: this.query, env: this, scope: new Scope([]) });
      frame.bindings.set(parameter.name, { kind: "scalar", node: arg, value: { value: compiled.fn([]), type: compiled.type } });
    }
    frame.runStatements(listElements(body.Statements));
    return frame.evaluateTabular(body.Expression);
  }

  private tableByName(node: SyntaxNode): Table {
    const name = String(node.SimpleName ?? referencedName(node));
    const bound = this.tabular(name);
    if (bound) return bound;
    return this.tableNamed(name, node);
  }

  /** A table of the data, or an empty one shaped like its schema, or (for tables the query only names) an empty one. */
  private tableNamed(name: string, node: SyntaxNode): Table {
    const supplied = this.tables[name];
    if (supplied) return supplied;
    const columns = resultColumns(node);
    if (columns) return { columns, rows: [] };
    if (this.openTables.has(name)) return { columns: [], rows: [] };
    throw errorAt(this.query, node, `Unknown table '${name}'`);
  }

  /**
   * Runs `source | op1 | op2 ...`: consecutive row-wise operators are fused into one pass that
   * ends in a sink (collecting rows, counting, or aggregating as rows arrive).
   */
  private evaluatePipe(node: SyntaxNode): Table {
    const operators: SyntaxNode[] = [];
    let source = node;
    while (nodeKind(source) === "PipeExpression") {
      operators.unshift(source.Operator);
      source = source.Expression;
    }
    let table = this.evaluateTabular(source);
    const oc = { query: this.query, env: this };
    let stages: ops.Stage[] = [];
    const columns = () => (stages.length ? stages[stages.length - 1].columns : table.columns);
    const flush = (sink?: ops.Sink) => {
      if (!stages.length && !sink) return;
      table = ops.runStages(table, stages, sink ?? ops.materialize(columns()));
      stages = [];
    };
    for (const op of operators) {
      switch (nodeKind(op)) {
        case "FilterOperator":
          stages.push(ops.whereStage(columns(), op, oc, stages[stages.length - 1]));
          if (stages.length > 1 && stages[stages.length - 1].replaces) stages.splice(stages.length - 2, 1);
          continue;
        case "ExtendOperator":
          // Window functions need the whole row set: such an extend runs as serialize does.
          if (WINDOW_FUNCTION.test(nodeText(op))) break;
          stages.push(ops.extendStage(columns(), op, oc));
          continue;
        case "ProjectOperator":
          stages.push(ops.projectStage(columns(), op, oc));
          continue;
        case "TakeOperator":
          stages.push(ops.takeStage(columns(), op, oc));
          continue;
        case "SummarizeOperator":
          flush(ops.summarizeSink(columns(), op, oc));
          continue;
        case "CountOperator":
          flush(ops.countSink());
          continue;
      }
      flush();
      table = this.applyOperator(table, op);
    }
    flush();
    return table;
  }

  /** Runs a sub-pipeline (`mv-apply ... on (...)`, a pipe whose source is the operator's input) over one table. */
  runSubquery(input: Table, operators: SyntaxNode[]): Table {
    let table = input;
    const frame = this.child();
    for (const op of operators) table = frame.applyPiped(table, op);
    return table;
  }

  private applyPiped(input: Table, op: SyntaxNode): Table {
    const oc = { query: this.query, env: this };
    switch (nodeKind(op)) {
      case "FilterOperator":
        return ops.runStages(input, [ops.whereStage(input.columns, op, oc)], ops.materialize(input.columns));
      case "ExtendOperator": {
        const stage = ops.extendStage(input.columns, op, oc);
        return ops.runStages(input, [stage], ops.materialize(stage.columns));
      }
      case "ProjectOperator": {
        const stage = ops.projectStage(input.columns, op, oc);
        return ops.runStages(input, [stage], ops.materialize(stage.columns));
      }
      case "TakeOperator":
        return ops.runStages(input, [ops.takeStage(input.columns, op, oc)], ops.materialize(input.columns));
      case "SummarizeOperator":
        return ops.runStages(input, [], ops.summarizeSink(input.columns, op, oc));
      case "CountOperator":
        return ops.runStages(input, [], ops.countSink());
    }
    return this.applyOperator(input, op);
  }

  private applyOperator(input: Table, op: SyntaxNode): Table {
    const oc = { query: this.query, env: this };
    const kind = nodeKind(op);
    switch (kind) {
      case "ExtendOperator":
        return ops.serialize(input, op, oc);
      case "SerializeOperator":
        return ops.serialize(input, op, oc);
      case "ProjectAwayOperator":
      case "ProjectKeepOperator":
      case "ProjectReorderOperator":
      case "ProjectRenameOperator":
        return ops.reshapeByName(input, op, oc);
      case "SortOperator":
        return ops.sort(input, op, oc);
      case "TopOperator":
        return ops.top(input, op, oc);
      case "TopNestedOperator":
        return ops.topNested(input, op, oc);
      case "DistinctOperator":
        return ops.distinct(input, op, oc);
      case "MvExpandOperator":
        return ops.mvExpand(input, op, oc);
      case "MvApplyOperator":
        return ops.mvApply(input, op, oc, (rows, subquery) => this.runSubquery(rows, subquery));
      case "ParseOperator":
      case "ParseWhereOperator":
        return ops.parse(input, op, oc);
      case "ParseKvOperator":
        return ops.parseKv(input, op, oc);
      case "MakeSeriesOperator":
        return ops.makeSeries(input, op, oc);
      case "EvaluateOperator":
        return evaluatePlugin(input, op, oc);
      case "JoinOperator":
        return ops.join(input, this.evaluateTabular(op.Expression), op, oc);
      case "LookupOperator":
        return ops.lookup(input, this.evaluateTabular(op.Expression), op, oc);
      case "UnionOperator":
        return ops.union([{ table: input, source: "" }, ...this.unionInputs(op)], op);
      case "AsOperator":
        this.bindings.set(String(op.Name.SimpleName), { kind: "tabular", node: op, table: input });
        return input;
      case "RenderOperator":
        return input; // a chart hint for the portal; the rows are the result
      case "PartitionOperator":
        return this.partition(input, op);
      case "SearchOperator":
        return search([{ name: "", table: input }], op, oc);
      case "TopHittersOperator":
        return ops.topHitters(input, op, oc);
      case "SampleOperator":
      case "SampleDistinctOperator":
        return ops.sample(input, op, oc);
      case "GetSchemaOperator":
        return ops.getSchema(input);
      case "InvokeOperator":
        return this.invoke(input, op);
    }
    const keyword = nodeText(op).split(/\s|\(/)[0];
    throw errorAt(this.query, op, `Unsupported operator '${keyword}' (${kind}) in the local KQL engine`, "unsupported-operator");
  }

  /** `T | invoke f(args)`: a function the query defines, called with the piped table as its first argument. */
  private invoke(input: Table, op: SyntaxNode): Table {
    const call = op.Function;
    const name = String(referencedName(call) ?? call?.Name?.SimpleName ?? "");
    const found = this.lookup(name);
    if (found?.binding.kind !== "function") {
      throw errorAt(this.query, op, `invoke runs functions the query defines with let; '${name}' is not one`, "unsupported");
    }
    return found.owner.callFunction(
      found.binding.declaration,
      found.binding.declaration.Body,
      listElements(call.ArgumentList?.Expressions),
      input,
      this,
    );
  }

  /** The tables a search that is not piped reads: those of its `in (...)` clause, or all the data's. */
  private searchInputs(node: SyntaxNode): { name: string; table: Table }[] {
    if (!node.InClause) return Object.entries(this.tables).map(([name, table]) => ({ name, table }));
    return listElements(node.InClause.Expressions).map((expr) => ({ name: nodeText(expr), table: this.evaluateTabular(expr) }));
  }

  /** partition by Column (subquery): the subquery run over each value's rows, the results one after another. */
  private partition(input: Table, node: SyntaxNode): Table {
    if (nodeKind(node.Operand) !== "PartitionSubquery") {
      throw errorAt(this.query, node, "Only `partition by Column ( subquery )` is supported by the local KQL engine", "unsupported");
    }
    const key = compileScalar(node.ByExpression, { query: this.query, env: this, scope: Scope.of(input) }).fn;
    const groups = new Map<unknown, Row[]>();
    for (const row of input.rows) {
      const id = valueIdentity(key(row));
      let rows = groups.get(id);
      if (!rows) groups.set(id, (rows = []));
      rows.push(row);
    }
    const operators = ops.subqueryOperators(node.Operand.Subquery);
    const results = [...groups.values()].map((rows) => this.runSubquery({ columns: input.columns, rows }, operators));
    const columns = resultColumns(node) ?? results[0]?.columns ?? input.columns;
    return { columns, rows: results.flatMap((r) => r.rows) };
  }

  private unionInputs(node: SyntaxNode): { table: Table; source: string }[] {
    const fuzzy = namedParameters(node.Parameters).get("isfuzzy")?.toLowerCase() === "true";
    const out: { table: Table; source: string }[] = [];
    for (const expr of listElements(node.Expressions)) {
      const source = nodeText(expr);
      // A wildcard (`union Device*`) names every table of the data that matches it; a `*` in a leg that
      // is a query (`(T | parse x with * "(" y ")" *)`, `arg_max(v, *)`, `a * b`) makes no wildcard.
      if (/^[\w*]+$/.test(source) && source.includes("*")) {
        const pattern = new RegExp(`^${source.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
        for (const [name, table] of Object.entries(this.tables)) if (pattern.test(name)) out.push({ table, source: name });
        continue;
      }
      try {
        out.push({ table: this.evaluateTabular(expr), source });
      } catch (error) {
        // isfuzzy tolerates a leg the workspace cannot resolve (a missing table or function), nothing
        // else: other failures are real.
        const unresolved = error instanceof KqlError && (/^Unknown table/.test(error.message) || error.code === "unknown-function");
        if (!fuzzy || !unresolved) throw error;
      }
    }
    return out;
  }

  private datatable(node: SyntaxNode): Table {
    const columns: Column[] = listElements(node.Schema.Columns).map((decl) => ({
      name: String(decl.Name.SimpleName),
      type: normalizeTypeName(nodeText(decl.Type)) ?? "dynamic",
    }));
    const ctx: CompileContext = { query: this.query, env: this, scope: new Scope([]) };
    const values = listElements(node.Values).map((v) => compileScalar(v, ctx));
    if (columns.length === 0 || values.length % columns.length !== 0) {
      throw errorAt(this.query, node, `datatable has ${values.length} values for ${columns.length} columns`);
    }
    const rows = [];
    for (let i = 0; i < values.length; i += columns.length) {
      rows.push(
        columns.map((c, j) => {
          const v = values[i + j];
          const value = v.fn([]);
          return c.type === "string" && value === null ? "" : value;
        }),
      );
    }
    return { columns, rows };
  }

  private print(node: SyntaxNode): Table {
    const expressions = listElements(node.Expressions);
    const ctx: CompileContext = { query: this.query, env: this, scope: new Scope([]) };
    const compiled = expressions.map((e) => compileScalar(e, ctx));
    const columns = resultColumns(node) ?? compiled.map((c, i) => ({ name: `print_${i}`, type: c.type }));
    return { columns, rows: [compiled.map((c) => c.fn([]))] };
  }

  private range(node: SyntaxNode): Table {
    const ctx: CompileContext = { query: this.query, env: this, scope: new Scope([]) };
    const from = compileScalar(node.From, ctx);
    const to = Number(compileScalar(node.To, ctx).fn([]));
    const step = Number(compileScalar(node.Step, ctx).fn([]));
    const name = String(node.Name.SimpleName);
    const rows = [];
    if (step > 0) for (let v = Number(from.fn([])); v <= to && rows.length < 10_000_000; v += step) rows.push([v]);
    return { columns: [{ name, type: from.type }], rows };
  }
}

/** Tabular operators the engine runs (see QueryRunner). */
export const SUPPORTED_OPERATOR_KINDS: ReadonlySet<string> = new Set([
  "FilterOperator",
  "ExtendOperator",
  "ProjectOperator",
  "TakeOperator",
  "SummarizeOperator",
  "CountOperator",
  "SerializeOperator",
  "ProjectAwayOperator",
  "ProjectKeepOperator",
  "ProjectReorderOperator",
  "ProjectRenameOperator",
  "SortOperator",
  "TopOperator",
  "TopNestedOperator",
  "DistinctOperator",
  "MvExpandOperator",
  "MvApplyOperator",
  "ParseOperator",
  "ParseWhereOperator",
  "ParseKvOperator",
  "MakeSeriesOperator",
  "EvaluateOperator",
  "JoinOperator",
  "LookupOperator",
  "UnionOperator",
  "AsOperator",
  "PrintOperator",
  "RangeOperator",
  "RenderOperator",
  "SampleOperator",
  "SampleDistinctOperator",
  "GetSchemaOperator",
  "PartitionOperator",
  "TopHittersOperator",
  "SearchOperator",
  "InvokeOperator",
]);

/** Operators and functions the local engine does not implement, as diagnostics with their positions. */
function unsupportedConstructs(query: AnalyzedQuery): Diagnostic[] {
  const out: Diagnostic[] = [];
  const visit = (node: SyntaxNode) => {
    if (!node) return;
    const kind = nodeKind(node);
    let message: string | undefined;
    if (kind === "EvaluateOperator") {
      const plugin = String(node.FunctionCall?.Name?.SimpleName ?? "").toLowerCase();
      if (!EVALUATE_PLUGINS.has(plugin)) message = unsupportedPluginMessage(plugin);
      else {
        // A plugin the engine runs: only its arguments can hold what it cannot.
        for (const arg of listElements(node.FunctionCall?.ArgumentList?.Expressions)) visit(arg);
        return;
      }
    } else if (kind.endsWith("Operator") && !SUPPORTED_OPERATOR_KINDS.has(kind)) {
      message = `The local engine cannot run '${nodeText(node).split(/\s|\(/)[0]}'`;
    } else if (kind === "FunctionCallExpression" && referencedSymbolKind(node) === "FunctionSymbol") {
      const name = String(referencedName(node) ?? "").toLowerCase();
      if (!isImplementedFunction(name) && !node.GetExpansion?.()) message = `The local engine cannot run the function '${name}'`;
    }
    if (message) {
      const start = node.TextStart;
      out.push({
        severity: "warning",
        code: "unsupported",
        message,
        start,
        length: node.Width,
        position: positionOf(query.text, start),
      });
      if (kind === "EvaluateOperator") return; // its plugin call is the same finding
    }
    for (let i = 0; i < node.ChildCount; i++) {
      const child = node.GetChild(i);
      if (child && typeof child.ChildCount === "number") visit(child);
    }
  };
  visit(query.syntax);
  return out;
}
export { constant };
