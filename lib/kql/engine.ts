/**
 * The local KQL engine: runs a query text over in-memory tables. The official parser parses and
 * type-checks the query against the tables' schemas; this file walks the resulting syntax tree.
 */
import { constant, Scope, type CompileContext, type Environment, type ScalarBinding } from "./context.js";
import { KqlError } from "./errors.js";
import {
  analyze,
  errorAt,
  isTabular,
  listElements,
  namedParameters,
  nodeKind,
  nodeText,
  referencedName,
  referencedSymbolNames,
  resultColumns,
  type AnalyzedQuery,
  type Diagnostic,
  type SyntaxNode,
} from "./kusto.js";
import * as ops from "./operators.js";
import { compileScalar } from "./scalar.js";
import type { Column, Table } from "./types.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import { normalizeTypeName } from "./types.js";
import { emptyValue } from "./values.js";

export interface QueryOptions {
  /** Tables by name. A known table (see lib/schemas) that is absent reads as empty. */
  tables: Record<string, Table>;
  /** The query clock for now() and ago(); defaults to the current time. */
  now?: Date | number;
}

export interface QueryResult {
  /** The last result statement's table (what Log Analytics returns as PrimaryResult). */
  table: Table;
  /** Every result statement's table, in order. */
  tables: Table[];
  diagnostics: Diagnostic[];
}

/**
 * Schemas the parser checks a query against: the known tables' full schemas, with any extra
 * columns the supplied data carries, and the supplied tables that are not known.
 */
export function schemasFor(tables: Record<string, Table>): Record<string, readonly Column[]> {
  const schemas: Record<string, readonly Column[]> = { ...TABLE_SCHEMAS };
  for (const [name, table] of Object.entries(tables)) {
    const known = TABLE_SCHEMAS[name];
    schemas[name] = known ? [...known, ...table.columns.filter((c) => !known.some((k) => k.name === c.name))] : table.columns;
  }
  return schemas;
}

/** Official-parser diagnostics for a query against the known table schemas (and any extra tables). */
export function validateQuery(text: string, extraTables: Record<string, readonly Column[]> = {}): Diagnostic[] {
  return analyze(text, { ...TABLE_SCHEMAS, ...extraTables }).diagnostics;
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
function widenForQuery(query: AnalyzedQuery, tables: Record<string, Table>): Record<string, Table> {
  const referenced = referencedSymbolNames(query.syntax, "ColumnSymbol");
  const out: Record<string, Table> = {};
  for (const [name, table] of Object.entries(tables)) {
    const known = TABLE_SCHEMAS[name];
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
  const fullSchemas = schemasFor(options.tables);
  const checked = analyze(text, fullSchemas);
  throwOnErrors(checked);
  const tables = widenForQuery(checked, options.tables);
  // Run against the columns the data really has, so `*`, joins and unions see the real shape.
  const reshaped = Object.entries(tables).some(([name, table]) => !sameColumns(table.columns, fullSchemas[name]));
  let query = checked;
  if (reshaped) {
    const actualSchemas: Record<string, readonly Column[]> = { ...TABLE_SCHEMAS };
    for (const [name, table] of Object.entries(tables)) actualSchemas[name] = table.columns;
    query = analyze(text, actualSchemas);
    throwOnErrors(query);
  }
  const now = options.now === undefined ? Date.now() : typeof options.now === "number" ? options.now : options.now.getTime();
  const results = new QueryRunner(query, tables, now).run();
  if (!results.length) throw new KqlError("The query has no result statement");
  return { table: results[results.length - 1], tables: results, diagnostics: checked.diagnostics };
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

type Binding = { kind: "scalar"; node: SyntaxNode; value?: ScalarBinding } | { kind: "tabular"; node: SyntaxNode; table?: Table };

class QueryRunner implements Environment {
  private readonly bindings = new Map<string, Binding>();
  private readonly evaluating = new Set<string>();

  constructor(
    private readonly query: AnalyzedQuery,
    private readonly tables: Record<string, Table>,
    readonly now: number,
  ) {}

  run(): Table[] {
    const results: Table[] = [];
    for (const statement of listElements(this.query.syntax.Statements)) {
      const kind = nodeKind(statement);
      if (kind === "LetStatement") {
        const name = String(statement.Name.SimpleName);
        const expr = statement.Expression;
        if (nodeKind(expr) === "FunctionDeclaration") {
          throw errorAt(
            this.query,
            expr,
            `User-defined functions ('let ${name} = (...) {...}') are not supported by the local KQL engine`,
            "unsupported",
          );
        }
        this.bindings.set(name, isTabular(expr) ? { kind: "tabular", node: expr } : { kind: "scalar", node: expr });
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

  scalar(name: string): ScalarBinding | undefined {
    const binding = this.bindings.get(name);
    if (!binding || binding.kind !== "scalar") return undefined;
    if (!binding.value) {
      this.guard(name, binding.node);
      const ctx: CompileContext = { query: this.query, env: this, scope: new Scope([]) };
      const compiled = compileScalar(binding.node, ctx);
      binding.value = { value: compiled.fn([]), type: compiled.type };
      this.evaluating.delete(name);
    }
    return binding.value;
  }

  tabular(name: string): Table | undefined {
    const binding = this.bindings.get(name);
    if (!binding || binding.kind !== "tabular") return undefined;
    if (!binding.table) {
      this.guard(name, binding.node);
      binding.table = this.evaluateTabular(binding.node);
      this.evaluating.delete(name);
    }
    return binding.table;
  }

  private guard(name: string, node: SyntaxNode) {
    if (this.evaluating.has(name)) throw errorAt(this.query, node, `'${name}' refers to itself`);
    this.evaluating.add(name);
  }

  evaluateTabular(node: SyntaxNode): Table {
    const kind = nodeKind(node);
    const oc = { query: this.query, env: this };
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
        return ops.union(this.unionInputs(node), node, oc);
      case "FunctionCallExpression":
        if (String(referencedName(node)).toLowerCase() === "materialize") {
          return this.evaluateTabular(listElements(node.ArgumentList.Expressions)[0]);
        }
        break;
      case "RangeOperator":
        return this.range(node);
    }
    throw errorAt(
      this.query,
      node,
      `Unsupported tabular expression '${nodeText(node).slice(0, 60)}' (${kind}) in the local KQL engine`,
      "unsupported",
    );
  }

  private tableByName(node: SyntaxNode): Table {
    const name = String(node.SimpleName ?? referencedName(node));
    const bound = this.tabular(name);
    if (bound) return bound;
    const supplied = this.tables[name];
    if (supplied) return supplied;
    const columns = resultColumns(node) ?? TABLE_SCHEMAS[name];
    if (columns) return { columns: [...columns], rows: [] };
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

  private applyOperator(input: Table, op: SyntaxNode): Table {
    const oc = { query: this.query, env: this };
    const kind = nodeKind(op);
    switch (kind) {
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
      case "DistinctOperator":
        return ops.distinct(input, op, oc);
      case "MvExpandOperator":
        return ops.mvExpand(input, op, oc);
      case "JoinOperator":
        return ops.join(input, this.evaluateTabular(op.Expression), op, oc);
      case "LookupOperator":
        return ops.lookup(input, this.evaluateTabular(op.Expression), op, oc);
      case "UnionOperator":
        return ops.union([{ table: input, source: "" }, ...this.unionInputs(op)], op, oc);
      case "AsOperator":
        this.bindings.set(String(op.Name.SimpleName), { kind: "tabular", node: op, table: input });
        return input;
    }
    const keyword = nodeText(op).split(/\s|\(/)[0];
    throw errorAt(this.query, op, `Unsupported operator '${keyword}' (${kind}) in the local KQL engine`, "unsupported-operator");
  }

  private unionInputs(node: SyntaxNode): { table: Table; source: string }[] {
    const fuzzy = namedParameters(node.Parameters).get("isfuzzy")?.toLowerCase() === "true";
    const out: { table: Table; source: string }[] = [];
    for (const expr of listElements(node.Expressions)) {
      const source = nodeText(expr);
      try {
        out.push({ table: this.evaluateTabular(expr), source });
      } catch (error) {
        if (!fuzzy) throw error;
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

export { constant };
