/**
 * Tabular operators. Each takes its input table and the operator's syntax node and returns a new
 * table; output column names and types come from the parser's own inference where it has them,
 * so naming (`count_`, `dcount_X`, `Column1`, `X1` after a join) matches Kusto exactly.
 */
import { AGGREGATES, isAggregateName, MULTI_COLUMN_AGGREGATES, PER_ARGUMENT_AGGREGATES, type Aggregator } from "./aggregates.js";
import {
  bothReads,
  Scope,
  type ColumnReads,
  type CompileContext,
  type Compiled,
  type Environment,
  type Evaluator,
  type RowCursor,
} from "./context.js";
import {
  errorAt,
  isTabular,
  expressionResultName,
  listElements,
  namedParameters,
  nodeKind,
  nodeText,
  referencedName,
  resultColumns,
  type AnalyzedQuery,
  type SyntaxNode,
} from "./kusto.js";
import { compileScalar } from "./scalar.js";
import { binValue } from "./scalar-functions.js";
import { compileRegex, escapeRegex } from "./text.js";
import type { Column, KqlType, Row, Table, Value } from "./types.js";
import { normalizeTypeName } from "./types.js";
import { compareValues, groupKey, coerceToType, emptyValue, plainText, toDynamic, toKqlString, valueIdentity } from "./values.js";

export interface OperatorContext {
  query: AnalyzedQuery;
  env: Environment;
}

/** The position of the input's column `name`, which `node` names for `operator`; an error naming both if there is none. */
export function inputColumn(input: Table, name: string, node: SyntaxNode, operator: string, oc: OperatorContext): number {
  const index = Scope.of(input).indexOf(name);
  if (index === undefined) throw errorAt(oc.query, node, `${operator}: '${name}' is not a column of the input`);
  return index;
}

export function compileIn(table: Table, node: SyntaxNode, oc: OperatorContext): Compiled {
  return compileScalar(node, { query: oc.query, env: oc.env, scope: Scope.of(table) });
}

/** The parser's output columns for an operator, checked against how many we computed. */
function parserColumns(node: SyntaxNode, expected: number, oc: OperatorContext): Column[] {
  const columns = resultColumns(node);
  if (!columns || columns.length !== expected) {
    throw errorAt(oc.query, node, `Internal error: cannot determine the output columns of '${nodeText(node).slice(0, 60)}'`);
  }
  return columns;
}

function outputName(expr: SyntaxNode): string | undefined {
  if (nodeKind(expr) === "SimpleNamedExpression") return String(expr.Name.SimpleName);
  return undefined;
}

// ---------- streaming stages ----------

/** Pushes one row downstream. */
export type Emit = (row: Row) => void;

/**
 * A row-at-a-time operator. Consecutive stages are fused into one pass over the input, so
 * intermediate rows are never materialised and die young (cheap for the garbage collector).
 */
export interface Stage {
  columns: readonly Column[];
  /** This stage absorbed the one before it (consecutive filters become one predicate). */
  replaces?: boolean;
  /** For filters: the row predicate, so a following filter can fold into it, and the columns it reads. */
  predicate?: (row: Row) => boolean;
  predicateReads?: ColumnReads;
  /**
   * The columns of its input this stage and those after it read, given what is read of its output;
   * without it, all of them.
   */
  reads?(output: ColumnReads): ColumnReads;
  /**
   * `retained`: whether anything downstream keeps the rows it is given (else a stage may reuse one
   * buffer); `read`: what is read downstream of the rows it emits (a reused buffer need hold no more).
   */
  wrap(next: Emit, retained: boolean, read: ColumnReads): Emit;
}

/** The end of a fused pass: collects rows, or aggregates them as they arrive. */
export interface Sink {
  push: Emit;
  finish(): Table;
  /** False for sinks that only read each row while it is pushed (summarize, count). */
  retainsRows: boolean;
  /** The columns of a row the sink reads (a sink that keeps rows reads them all). */
  reads?: ColumnReads;
}

export function materialize(columns: readonly Column[]): Sink {
  const rows: Row[] = [];
  return { push: (row) => rows.push(row), finish: () => ({ columns, rows }), retainsRows: true };
}

export function runStages(input: Table, stages: Stage[], sink: Sink): Table {
  // What is read after each stage: a stage that rebuilds rows in one buffer copies only that.
  const readAfter: ColumnReads[] = [];
  let read: ColumnReads = sink.retainsRows ? "all" : (sink.reads ?? "all");
  for (let i = stages.length - 1; i >= 0; i--) {
    readAfter[i] = read;
    read = stages[i].reads?.(read) ?? "all";
  }
  let push = sink.push;
  for (let i = stages.length - 1; i >= 0; i--) push = stages[i].wrap(push, sink.retainsRows, readAfter[i]);
  for (const row of input.rows) push(row);
  return sink.finish();
}

export function whereStage(columns: readonly Column[], node: SyntaxNode, oc: OperatorContext, previous?: Stage): Stage {
  const scope = new Scope(columns);
  const own = compileFor(columns, node.Condition, oc, undefined, scope).fn;
  const before = previous?.predicate;
  // `where a | where b` is `where a and b`: one closure, one call per row.
  const predicate = before ? (row: Row) => before(row) && own(row) === true : (row: Row) => own(row) === true;
  const predicateReads = before ? bothReads(previous.predicateReads ?? "all", scope.reads) : scope.reads;
  return {
    columns,
    predicate,
    predicateReads,
    replaces: !!before,
    reads: (output) => bothReads(output, predicateReads),
    wrap: (next) => (row) => {
      if (predicate(row)) next(row);
    },
  };
}

/** Compiles against `columns`; given `scope` (over the same columns), what it reads is recorded there. */
function compileFor(
  columns: readonly Column[],
  node: SyntaxNode,
  oc: OperatorContext,
  cursor?: RowCursor,
  scope = new Scope(columns),
): Compiled {
  return compileScalar(node, { query: oc.query, env: oc.env, scope, cursor });
}

// ---------- extend / serialize ----------

interface ExtendPlan {
  columns: Column[];
  /** Per expression, the output positions it writes: one, or one per column of a multi-column function. */
  targets: number[][];
  /** The input columns the expressions read. */
  reads: ColumnReads;
  compile(cursor?: RowCursor): Evaluator[];
}

/** The expression an extend or project item computes (`(a, b) = f(x)` and `a = f(x)` compute `f(x)`). */
function computed(expr: SyntaxNode): SyntaxNode {
  const kind = nodeKind(expr);
  return kind === "CompoundNamedExpression" || kind === "SimpleNamedExpression" ? expr.Expression : expr;
}

/**
 * The column names an extend item gives its values: its own name or names; for an unnamed item, the
 * name Kusto derives from it (a column's, or the argument's of a call that keeps it: `todatetime(E)`
 * writes `E`) when the output has that column; then (an unnamed item otherwise, or the columns of a
 * multi-column function beyond the names given) the parser's generated ones (`Column1`,
 * `series_fit_line_y_slope`, ...), which are the output's new columns in order.
 */
function itemNames(
  expr: SyntaxNode,
  width: number,
  generated: (k: number) => string,
  inOutput: (name: string) => boolean,
  rowScope: SyntaxNode | undefined,
): { names: string[]; named: boolean } {
  const kind = nodeKind(expr);
  const named = kind === "SimpleNamedExpression" || kind === "CompoundNamedExpression";
  let own: string[] = [];
  if (kind === "SimpleNamedExpression") own = [String(expr.Name.SimpleName)];
  else if (kind === "CompoundNamedExpression") {
    own = listElements(expr.Names?.Names).map((declaration) => String(declaration.Name?.SimpleName ?? nodeText(declaration)));
  } else if (kind === "NameReference" && width === 1) own = [String(expr.SimpleName)];
  else if (width === 1) {
    const derived = expressionResultName(expr, rowScope);
    if (derived && inOutput(derived)) own = [derived];
  }
  return { names: Array.from({ length: width }, (_, k) => own[k] ?? generated(k)), named };
}

/** Output columns of an extend: replaced columns keep their place, new ones are appended. */
function planExtend(input: readonly Column[], node: SyntaxNode, oc: OperatorContext): ExtendPlan {
  const finalColumns = resultColumns(node);
  const expressions = listElements(node.Expressions);
  const columns = [...input];
  const scope = new Scope(input);
  const compiled = expressions.map((expr) => compileFor(input, computed(expr), oc, { rows: [], index: 0 }, scope));
  let appended = 0;
  const generated = (k: number) => finalColumns?.[input.length + appended + k]?.name ?? `Column${input.length + appended + k + 1}`;
  const targets = expressions.map((expr, position) => {
    const { members, type } = compiled[position];
    const { names, named } = itemNames(
      expr,
      members?.length ?? 1,
      generated,
      (name) => !!finalColumns?.some((c) => c.name === name),
      // The extend's input: the left of the pipe it stands in.
      node.Parent?.Expression,
    );
    // An unnamed item that names an input column and would not change its type (the column itself, or
    // `tolong(x)` of a long) only declares it, as the parser reads it: it writes nothing, so
    // `extend tostring(x), x` leaves x the string.
    const declared = !named && names.length === 1 && input.find((c) => c.name === names[0]);
    if (declared && (nodeKind(expr) === "NameReference" || declared.type === type)) return [];
    return names.map((name, k) => {
      const columnType = members ? members[k].type : type;
      let index = columns.findIndex((c) => c.name === name);
      if (index < 0) {
        index = columns.length;
        columns.push({ name, type: columnType });
        appended++;
      } else columns[index] = { name, type: columnType };
      return index;
    });
  });
  return {
    columns: adoptTypes(columns, finalColumns),
    targets,
    reads: scope.reads,
    compile: (cursor) => expressions.map((expr) => compileFor(input, computed(expr), oc, cursor).fn),
  };
}

/** Writes each item's value, or each value of a multi-column item, to its output positions. */
function writeItems(out: Row, row: Row, fns: Evaluator[], targets: number[][]): void {
  for (let i = 0; i < fns.length; i++) {
    const positions = targets[i];
    if (positions.length === 1) out[positions[0]] = fns[i](row);
    else if (positions.length > 1) {
      const values = fns[i](row) as Value[];
      for (let k = 0; k < positions.length; k++) out[positions[k]] = values[k] ?? null;
    }
  }
}

export function extendStage(input: readonly Column[], node: SyntaxNode, oc: OperatorContext): Stage {
  const plan = planExtend(input, node, oc);
  const fns = plan.compile();
  const { targets } = plan;
  const width = plan.columns.length;
  const written = new Set(targets.flat());
  /** The input columns read after this stage that it passes on as they are, or all. */
  const passedOn = (output: ColumnReads): number[] | "all" =>
    output === "all" ? "all" : [...output].filter((i) => i < input.length && !written.has(i)).sort((a, b) => a - b);
  return {
    columns: plan.columns,
    reads: (output) => {
      const passed = passedOn(output);
      return passed === "all" ? "all" : bothReads(new Set(passed), plan.reads);
    },
    wrap: (next, retained, read) => {
      if (retained) {
        return (row) => {
          const out = widen(row, width);
          writeItems(out, row, fns, targets);
          next(out);
        };
      }
      // Nothing keeps the rows: one buffer serves every row, and no garbage is made.
      const buffer: Row = new Array<Value>(width).fill(null);
      const passed = passedOn(read);
      if (passed === "all") {
        return (row) => {
          for (let i = 0; i < row.length; i++) buffer[i] = row[i];
          writeItems(buffer, row, fns, targets);
          next(buffer);
        };
      }
      // Only the columns read later are copied (a wide table's row, 233 columns of SecurityEvent, is mostly not read).
      const copied = Int32Array.from(passed);
      return (row) => {
        for (let k = 0; k < copied.length; k++) buffer[copied[k]] = row[copied[k]];
        writeItems(buffer, row, fns, targets);
        next(buffer);
      };
    },
  };
}

/** serialize (and extend over serialized rows): window functions need the whole row set. */
export function serialize(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const plan = planExtend(input.columns, node, oc);
  const cursor: RowCursor = { rows: input.rows, index: 0 };
  const fns = plan.compile(cursor);
  const rows = input.rows.map((row, index) => {
    cursor.index = index;
    const out = widen(row, plan.columns.length);
    writeItems(out, row, fns, plan.targets);
    return out;
  });
  return { columns: plan.columns, rows };
}

/** A copy of the row with room for `width` columns (setting `length` instead is slow in V8). */
function widen(row: Row, width: number): Row {
  const out: Row = new Array<Value>(width);
  for (let i = 0; i < row.length; i++) out[i] = row[i];
  for (let i = row.length; i < width; i++) out[i] = null;
  return out;
}

/** Prefers the parser's static types where it knows them (e.g. `int` vs `long`). */
function adoptTypes(columns: Column[], parserView: Column[] | undefined): Column[] {
  if (!parserView || parserView.length !== columns.length) return columns;
  return columns.map((c, i) =>
    parserView[i].name === c.name && parserView[i].type !== "dynamic" ? { name: c.name, type: parserView[i].type } : c,
  );
}

export function projectStage(input: readonly Column[], node: SyntaxNode, oc: OperatorContext): Stage {
  const expressions = listElements(node.Expressions);
  const scope = new Scope(input);
  const compiled = expressions.map((expr) => compileFor(input, computed(expr), oc, undefined, scope));
  const fns = compiled.map((c) => c.fn);
  const widths = compiled.map((c) => c.members?.length ?? 1);
  const width = widths.reduce((a, b) => a + b, 0);
  const columns = parserColumns(node, width, oc);
  const reads = scope.reads;
  return {
    columns,
    // A new row of its own: what it reads of its input is all that is read before it.
    reads: () => reads,
    wrap: (next) => (row) => {
      const out: Row = new Array<Value>(width);
      let at = 0;
      for (let i = 0; i < fns.length; i++) {
        if (!compiled[i].members) out[at++] = fns[i](row);
        else {
          const values = fns[i](row) as Value[];
          for (let k = 0; k < widths[i]; k++) out[at++] = values[k] ?? null;
        }
      }
      next(out);
    },
  };
}

export function takeStage(input: readonly Column[], node: SyntaxNode, oc: OperatorContext): Stage {
  const limit = Number(compileFor(input, node.Expression, oc).fn([]));
  return {
    columns: input,
    reads: (output) => output,
    wrap: (next) => {
      let taken = 0;
      return (row) => {
        if (taken < limit) {
          taken++;
          next(row);
        }
      };
    },
  };
}

export function countSink(): Sink {
  let n = 0;
  return {
    push: () => void n++,
    finish: () => ({ columns: [{ name: "Count", type: "long" }], rows: [[n]] }),
    retainsRows: false,
    reads: new Set(),
  };
}

// ---------- project family ----------

/** project-away, project-keep, project-reorder, project-rename: the parser knows the resulting columns. */
export function reshapeByName(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const columns = resultColumns(node);
  if (!columns) throw errorAt(oc.query, node, "Cannot determine the columns this operator keeps");
  const renames = new Map<string, string>();
  if (nodeKind(node) === "ProjectRenameOperator") {
    for (const expr of listElements(node.Expressions)) {
      renames.set(String(expr.Name.SimpleName), String(referencedName(expr.Expression) ?? nodeText(expr.Expression)));
    }
  }
  const scope = Scope.of(input);
  // A column the parser accepted that the data lacks (one of an open schema, or of a table the
  // workspace lacks) is empty, as a reference to it is elsewhere (-1 below).
  const sources = columns.map((c) => scope.indexOf(renames.get(c.name) ?? c.name) ?? -1);
  const out = columns.map((c, i) => ({ name: c.name, type: sources[i] < 0 ? c.type : input.columns[sources[i]].type }));
  const empty = out.map((c) => emptyValue(c.type));
  return { columns: out, rows: input.rows.map((row) => sources.map((i, k) => (i < 0 ? empty[k] : row[i]))) };
}

// ---------- summarize ----------

interface AggregatePlan {
  name: string;
  width: number;
  make: () => Aggregator;
  multi: boolean;
}

export function summarizeSink(inputColumns: readonly Column[], node: SyntaxNode, oc: OperatorContext): Sink {
  const input: Table = { columns: inputColumns, rows: [] };
  const scope = Scope.of(input);
  const baseCtx: CompileContext = { query: oc.query, env: oc.env, scope };
  const byNodes = node.ByClause ? listElements(node.ByClause.Expressions) : [];
  const keys = byNodes.map((expr) => compileScalar(expr, baseCtx).fn);
  const byColumnNames = new Set(byNodes.map((expr) => (nodeKind(expr) === "NameReference" ? String(expr.SimpleName) : "")));

  // Every aggregate call gets a slot; the expressions around them are evaluated after grouping.
  const plans: AggregatePlan[] = [];
  const slotOf = new Map<SyntaxNode, number>();
  const outputs: { expr: SyntaxNode; firstSlot: number; width: number; direct: boolean }[] = [];
  const addAggregate = (call: SyntaxNode): number => {
    const name = String(referencedName(call)).toLowerCase();
    const factory = AGGREGATES[name];
    if (!factory) throw errorAt(oc.query, call, `Unsupported aggregate function '${name}' in the local KQL engine`, "unsupported-function");
    const argNodes = call.ArgumentList ? listElements(call.ArgumentList.Expressions) : [];
    const isStar = (n: SyntaxNode) => nodeKind(n) === "StarExpression";
    const multi =
      MULTI_COLUMN_AGGREGATES.has(name) || ((name === "take_any" || name === "any") && (argNodes.length > 1 || argNodes.some(isStar)));
    let args: Compiled[];
    let extraColumns: Evaluator[] | undefined;
    let width = 1;
    if (MULTI_COLUMN_AGGREGATES.has(name)) {
      args = [compileScalar(argNodes[0], baseCtx)];
      extraColumns = expandColumns(argNodes.slice(1), input, baseCtx, byColumnNames, argNodes[0]);
      width = 1 + extraColumns.length;
    } else if (multi) {
      const all = expandColumns(argNodes, input, baseCtx, byColumnNames);
      args = all.map((fn) => ({ fn, type: "dynamic", constant: false }));
      width = args.length;
    } else {
      args = argNodes.map((n) => compileScalar(n, baseCtx));
      const leading = PER_ARGUMENT_AGGREGATES.get(name);
      if (leading !== undefined) width = Math.max(1, argNodes.length - leading);
    }
    const slot = plans.reduce((sum, p) => sum + p.width, 0);
    plans.push({ name, width, multi: multi || width > 1, make: () => factory({ args, extraColumns, resultType: "dynamic" }) });
    slotOf.set(call, slot);
    return slot;
  };

  for (const aggregateExpr of listElements(node.Aggregates)) {
    // `(a, b) = arg_max(x, y)` names each column of a several-column aggregate; the parser's result gives the names.
    const named = nodeKind(aggregateExpr) === "SimpleNamedExpression" || nodeKind(aggregateExpr) === "CompoundNamedExpression";
    const inner = named ? aggregateExpr.Expression : aggregateExpr;
    if (nodeKind(inner) === "FunctionCallExpression" && isAggregateName(String(referencedName(inner)).toLowerCase())) {
      const slot = addAggregate(inner);
      outputs.push({ expr: aggregateExpr, firstSlot: slot, width: plans[plans.length - 1].width, direct: true });
    } else {
      collectAggregateCalls(inner, addAggregate);
      outputs.push({ expr: aggregateExpr, firstSlot: -1, width: 1, direct: false });
    }
  }

  // Group as rows arrive. One key: a Map from the key value; several: nested Maps, which avoid
  // building a composite string per row.
  type Group = { keys: Value[]; states: unknown[] };
  const groups: Group[] = [];
  const aggregators = plans.map((p) => p.make());
  const steps = aggregators.map((a) => a.step);
  const stepCount = steps.length;
  const depth = keys.length;
  const root = new Map<unknown, unknown>();
  const newGroup = (keyValues: Value[]): Group => {
    const group = { keys: keyValues, states: aggregators.map((a) => a.init()) };
    groups.push(group);
    return group;
  };
  const push: Emit = (row) => {
    let group: Group | undefined;
    if (depth === 0) {
      group = groups[0] ?? newGroup([]);
    } else if (depth === 1) {
      const v = keys[0](row);
      const k = valueIdentity(v);
      group = root.get(k) as Group | undefined;
      if (!group) {
        group = newGroup([v]);
        root.set(k, group);
      }
    } else {
      let level = root;
      for (let d = 0; d < depth - 1; d++) {
        const k = valueIdentity(keys[d](row));
        let next = level.get(k) as Map<unknown, unknown> | undefined;
        if (!next) {
          next = new Map();
          level.set(k, next);
        }
        level = next;
      }
      const last = valueIdentity(keys[depth - 1](row));
      group = level.get(last) as Group | undefined;
      if (!group) {
        group = newGroup(keys.map((f) => f(row)));
        level.set(last, group);
      }
    }
    const states = group.states;
    for (let i = 0; i < stepCount; i++) states[i] = steps[i](states[i], row);
  };

  const finish = (): Table => {
    if (keys.length === 0 && groups.length === 0) newGroup([]);
    // Slot values first, then the expressions around aggregates.
    const slotColumns: Column[] = [];
    plans.forEach((p) => {
      for (let i = 0; i < p.width; i++) slotColumns.push({ name: `__slot${slotColumns.length}`, type: "dynamic" });
    });
    const postCtx: CompileContext = {
      query: oc.query,
      env: oc.env,
      scope: new Scope(slotColumns),
      aggregateSlot: (n) => slotOf.get(n),
    };
    const post = outputs.map((o) => (o.direct ? undefined : compileScalar(o.expr, postCtx).fn));
    const width = keys.length + outputs.reduce((sum, o) => sum + o.width, 0);
    const columns = parserColumns(node, width, oc);
    const rows: Row[] = [];
    for (const group of groups) {
      const slots: Value[] = [];
      plans.forEach((p, i) => {
        if (p.multi) slots.push(...aggregators[i].results!(group.states[i]));
        else slots.push(aggregators[i].result(group.states[i]));
      });
      const row: Row = group.keys.slice();
      outputs.forEach((o, i) => {
        if (o.direct) for (let j = 0; j < o.width; j++) row.push(slots[o.firstSlot + j]);
        else row.push(post[i]!(slots));
      });
      rows.push(row);
    }
    return { columns: columns.map((c) => ({ ...c })), rows: normalizeTypes(columns, rows) };
  };
  // Aggregates copy whatever they keep (arg_max copies its row), so rows may be reused upstream.
  // Read once every key and aggregate is compiled (a `*` among them reads every column).
  return { push, finish, retainsRows: false, reads: scope.reads };
}

/** Aggregates hold values in the engine's representation; make sure dynamics are JSON-friendly. */
function normalizeTypes(columns: Column[], rows: Row[]): Row[] {
  const dynamicIdx = columns.map((c, i) => (c.type === "dynamic" ? i : -1)).filter((i) => i >= 0);
  if (!dynamicIdx.length) return rows;
  for (const row of rows) for (const i of dynamicIdx) row[i] = row[i] ?? null;
  return rows;
}

function collectAggregateCalls(node: SyntaxNode, add: (call: SyntaxNode) => number): void {
  if (!node) return;
  if (nodeKind(node) === "FunctionCallExpression" && isAggregateName(String(referencedName(node)).toLowerCase())) {
    add(node);
    return;
  }
  for (let i = 0; i < node.ChildCount; i++) {
    const child = node.GetChild(i);
    if (child && typeof child.ChildCount === "number") collectAggregateCalls(child, add);
  }
}

/** Columns named after an arg_max/arg_min/take_any expression; `*` means every column not already produced. */
function expandColumns(
  nodes: SyntaxNode[],
  input: Table,
  ctx: CompileContext,
  byColumnNames: Set<string>,
  first?: SyntaxNode,
): Evaluator[] {
  const out: Evaluator[] = [];
  for (const n of nodes) {
    if (nodeKind(n) === "StarExpression") {
      ctx.scope.readAll();
      const firstName = first && nodeKind(first) === "NameReference" ? String(first.SimpleName) : undefined;
      input.columns.forEach((c, index) => {
        if (c.name === firstName || byColumnNames.has(c.name)) return;
        out.push((row) => row[index]);
      });
    } else out.push(compileScalar(n, ctx).fn);
  }
  return out;
}

// ---------- count, take, distinct, sort, top ----------

export function distinct(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const expressions = listElements(node.Expressions);
  const star = expressions.length === 1 && nodeKind(expressions[0]) === "StarExpression";
  const evaluators = star ? input.columns.map((_, i) => (row: Row) => row[i]) : expressions.map((e) => compileIn(input, e, oc).fn);
  const columns = star ? input.columns : parserColumns(node, evaluators.length, oc);
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const row of input.rows) {
    const values = evaluators.map((f) => f(row));
    const key = values.map(groupKey).join("\u0001");
    if (!seen.has(key)) {
      seen.add(key);
      rows.push(values);
    }
  }
  return { columns, rows };
}

interface SortKey {
  fn: Evaluator;
  descending: boolean;
  nullsFirst: boolean;
}

function sortKeys(input: Table, expressions: SyntaxNode[], oc: OperatorContext, defaultDescending: boolean): SortKey[] {
  return expressions.map((expr) => {
    const ordered = nodeKind(expr) === "OrderedExpression";
    const inner = ordered ? expr.Expression : expr;
    const ordering = ordered ? expr.Ordering : undefined;
    const direction = String(ordering?.AscOrDescKeyword?.Text ?? "").toLowerCase();
    const descending = direction ? direction === "desc" : defaultDescending;
    const nulls = String(ordering?.NullsClause?.FirstOrLastKeyword?.Text ?? "").toLowerCase();
    // Kusto: nulls first for ascending, last for descending, unless said otherwise.
    const nullsFirst = nulls ? nulls === "first" : !descending;
    return { fn: compileIn(input, inner, oc).fn, descending, nullsFirst };
  });
}

function sortRows(rows: Row[], keys: SortKey[]): Row[] {
  const decorated = rows.map((row, index) => ({ row, index, values: keys.map((k) => k.fn(row)) }));
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const x = a.values[i];
      const y = b.values[i];
      const xNull = x === null;
      const yNull = y === null;
      if (xNull || yNull) {
        if (xNull && yNull) continue;
        return xNull === key.nullsFirst ? -1 : 1;
      }
      const c = compareValues(x, y);
      if (c !== 0) return key.descending ? -c : c;
    }
    return a.index - b.index;
  });
  return decorated.map((d) => d.row);
}

export function sort(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const keys = sortKeys(input, listElements(node.Expressions), oc, true);
  return { columns: input.columns, rows: sortRows(input.rows, keys) };
}

export function top(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const n = Number(compileIn(input, node.Expression, oc).fn([]));
  const keys = sortKeys(input, [node.ByExpression], oc, true);
  return { columns: input.columns, rows: sortRows(input.rows, keys).slice(0, Math.max(0, n)) };
}

/** Index of the column `name` in `columns`, typed `type`: the one there, retyped, or a new one appended. */
function columnAt(columns: Column[], name: string, type: KqlType): number {
  let index = columns.findIndex((c) => c.name === name);
  if (index < 0) {
    index = columns.length;
    columns.push({ name, type });
  } else columns[index] = { name, type };
  return index;
}

/** How mv-expand and mv-apply expand a property bag: `kind=array` (or the older `bagexpansion=array`) gives [key, value] arrays. */
function bagExpansionOf(parameters: ReadonlyMap<string, string>): string {
  return (parameters.get("kind") ?? parameters.get("bagexpansion") ?? "bag").toLowerCase();
}

// ---------- mv-expand ----------

export function mvExpand(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const parameters = namedParameters(node.Parameters);
  const bagExpansion = bagExpansionOf(parameters);
  const itemIndexName = parameters.get("with_itemindex");
  const limit = node.RowLimitClause ? Number(compileIn(input, node.RowLimitClause.RowLimit, oc).fn([])) : Infinity;
  const finalColumns = resultColumns(node);
  // An expansion of a path such as `values.properties.addressPrefixes` fills a new column the
  // parser names (values_properties_addressPrefixes): the output columns the input lacks, in order.
  const items = listElements(node.Expressions);
  const ownNames = items.map((mv) => expansionName(mv.Expression, finalColumns));
  const newColumns = (finalColumns ?? []).filter(
    (c) => c.name !== itemIndexName && !ownNames.includes(c.name) && !input.columns.some((i) => i.name === c.name),
  );
  const expansions = items.map((mv, k) => {
    const expr = mv.Expression;
    const name = ownNames[k] ?? newColumns.shift()?.name;
    if (!name) throw errorAt(oc.query, expr, "mv-expand needs a column or `name = expression`");
    const typeName = mv.ToTypeOf ? nodeText(mv.ToTypeOf.TypeOf).replace(/^typeof\(|\)$/g, "") : "dynamic";
    const type: KqlType = normalizeTypeName(typeName) ?? "dynamic";
    return { name, fn: compileIn(input, expr, oc).fn, type };
  });
  const columns = [...input.columns];
  const targets = expansions.map((e) => columnAt(columns, e.name, e.type));
  if (itemIndexName) columns.push({ name: itemIndexName, type: "long" });
  const rows: Row[] = [];
  for (const row of input.rows) {
    const arrays = expansions.map((e) => toExpandable(e.fn(row), bagExpansion));
    const length = Math.min(limit, Math.max(0, ...arrays.map((a) => a.length)));
    for (let i = 0; i < length; i++) {
      const out = row.slice();
      while (out.length < columns.length) out.push(null);
      expansions.forEach((e, j) => {
        const item = arrays[j][i] ?? null;
        out[targets[j]] = e.type === "dynamic" ? item : coerceToType(item, e.type);
      });
      if (itemIndexName) out[columns.length - 1] = i;
      rows.push(out);
    }
  }
  return { columns, rows };
}

/**
 * The column an mv-expand or mv-apply item fills: its own name, or for an expression such as
 * `todynamic(AuthenticationDetails)` the column it reads, as Kusto names it (checked against the
 * parser's output columns).
 */
function expansionName(expr: SyntaxNode, finalColumns: readonly Column[] | undefined): string | undefined {
  const own = outputName(expr) ?? (nodeKind(expr) === "NameReference" ? String(expr.SimpleName) : undefined);
  if (own) return own;
  let node: SyntaxNode | null = expr;
  while (node && nodeKind(node) !== "NameReference") {
    const args: SyntaxNode[] = node.ArgumentList ? listElements(node.ArgumentList.Expressions) : [];
    node = args[0] ?? (nodeKind(node) === "ParenthesizedExpression" ? node.Expression : null);
  }
  const read = node ? String(node.SimpleName) : undefined;
  return read && (!finalColumns || finalColumns.some((c) => c.name === read)) ? read : undefined;
}

/** The items mv-expand makes rows of: a null or scalar is one item (Kusto keeps the row), a bag is its entries. */
function toExpandable(value: Value, bagExpansion: string): Value[] {
  if (Array.isArray(value)) return value;
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => (bagExpansion === "array" ? [k, v] : { [k]: v }));
  }
  return [value];
}

// ---------- join and lookup ----------

interface JoinKeys {
  left: Evaluator[];
  right: Evaluator[];
}

function joinKeys(left: Table, right: Table, clause: SyntaxNode, oc: OperatorContext): JoinKeys {
  const leftCtx: CompileContext = { query: oc.query, env: oc.env, scope: Scope.of(left) };
  const rightCtx: CompileContext = { query: oc.query, env: oc.env, scope: Scope.of(right) };
  const keys: JoinKeys = { left: [], right: [] };
  const side = (n: SyntaxNode): "left" | "right" | undefined => {
    if (nodeKind(n) !== "PathExpression") return undefined;
    const root = String(n.Expression?.SimpleName ?? nodeText(n.Expression)).toLowerCase();
    return root === "$left" ? "left" : root === "$right" ? "right" : undefined;
  };
  const columnOf = (n: SyntaxNode, table: Table): Evaluator => {
    const name = String(n.Selector?.SimpleName ?? referencedName(n));
    const index = Scope.of(table).indexOf(name);
    if (index !== undefined) return (row) => row[index];
    // A side with no rows may lack a column the parser accepted from an open schema (bag_unpack of
    // an empty watchlist): nothing on it can match, as with any other empty side.
    if (table.rows.length === 0) return () => null;
    throw errorAt(oc.query, n, `Join column '${name}' is not in that side's input`);
  };
  const addCondition = (cond: SyntaxNode) => {
    const kind = nodeKind(cond);
    if (kind === "NameReference") {
      keys.left.push(compileScalar(cond, leftCtx).fn);
      keys.right.push(compileScalar(cond, rightCtx).fn);
      return;
    }
    if (kind === "BinaryExpression") {
      const op = String(cond.Operator.Text).toLowerCase();
      if (op === "and") {
        addCondition(cond.Left);
        addCondition(cond.Right);
        return;
      }
      if (op === "==") {
        const ls = side(cond.Left);
        const rs = side(cond.Right);
        if (ls && rs && ls !== rs) {
          const [l, r] = ls === "left" ? [cond.Left, cond.Right] : [cond.Right, cond.Left];
          keys.left.push(columnOf(l, left));
          keys.right.push(columnOf(r, right));
          return;
        }
      }
    }
    throw errorAt(oc.query, cond, `Unsupported join condition '${nodeText(cond)}': use 'on Column' or '$left.A == $right.B'`);
  };
  for (const cond of listElements(clause.Expressions)) addCondition(cond);
  return keys;
}

function keyOf(fns: Evaluator[], row: Row): string | undefined {
  let key = "";
  for (const f of fns) {
    const v = f(row);
    if (v === null) return undefined; // null keys never match
    key += (typeof v === "string" ? `s${v}` : groupKey(v)) + "\u0001";
  }
  return key;
}

function indexRows(rows: Row[], fns: Evaluator[]): Map<string, Row[]> {
  const index = new Map<string, Row[]>();
  for (const row of rows) {
    const key = keyOf(fns, row);
    if (key === undefined) continue;
    const bucket = index.get(key);
    if (bucket) bucket.push(row);
    else index.set(key, [row]);
  }
  return index;
}

const JOIN_KINDS = new Set([
  "inner",
  "innerunique",
  "leftouter",
  "rightouter",
  "fullouter",
  "leftanti",
  "leftantisemi",
  "rightanti",
  "rightantisemi",
  "leftsemi",
  "rightsemi",
  "anti",
]);

export function join(left: Table, right: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const kind = (namedParameters(node.Parameters).get("kind") ?? "innerunique").toLowerCase();
  if (!JOIN_KINDS.has(kind)) throw errorAt(oc.query, node, `Unsupported join kind '${kind}' in the local KQL engine`);
  const keys = joinKeys(left, right, node.ConditionClause, oc);
  const nullRight = emptyRow(right.columns);
  const nullLeft = emptyRow(left.columns);
  let leftRows = left.rows;
  if (kind === "innerunique") {
    // Kusto deduplicates the left side on the join key before an inner join.
    const seen = new Set<string>();
    leftRows = leftRows.filter((row) => {
      const key = keyOf(keys.left, row);
      if (key === undefined || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  const rightIndex = indexRows(right.rows, keys.right);
  const rows: Row[] = [];
  const matchedRight = new Set<Row>();
  const emitsLeftOnly = kind === "leftanti" || kind === "leftantisemi" || kind === "anti" || kind === "leftsemi";
  for (const l of leftRows) {
    const key = keyOf(keys.left, l);
    const matches = key === undefined ? undefined : rightIndex.get(key);
    if (emitsLeftOnly) {
      if ((kind === "leftsemi") === !!matches) rows.push(l);
      continue;
    }
    if (matches) {
      for (const r of matches) {
        matchedRight.add(r);
        if (kind !== "rightanti" && kind !== "rightantisemi" && kind !== "rightsemi") rows.push([...l, ...r]);
      }
    } else if (kind === "leftouter" || kind === "fullouter") rows.push([...l, ...nullRight]);
  }
  if (kind === "rightanti" || kind === "rightantisemi" || kind === "rightsemi") {
    const wantMatched = kind === "rightsemi";
    const out = right.rows.filter((r) => matchedRight.has(r) === wantMatched);
    return { columns: outputColumns([right.columns]), rows: out };
  }
  if (kind === "rightouter" || kind === "fullouter") {
    for (const r of right.rows) if (!matchedRight.has(r)) rows.push([...nullLeft, ...r]);
  }
  return { columns: outputColumns(emitsLeftOnly ? [left.columns] : [left.columns, right.columns]), rows };
}

/**
 * The columns of a join's output, from the columns the inputs really have: a name already taken
 * takes the first free numbered name (`TimeGenerated1`), as Kusto names them. The parser names
 * them the same way, but from its own view of the inputs, which misses or misorders the columns
 * of a side built by bag_unpack or pivot; the rows follow the inputs, so the inputs decide.
 */
function outputColumns(sides: (readonly Column[])[]): Column[] {
  // A renamed column skips every name either side already has (left A, right A and A1: right A becomes A2).
  const original = new Set(sides.flat().map((c) => c.name));
  const taken = new Set<string>();
  return sides.flat().map((c) => {
    let name = c.name;
    for (let n = 1; taken.has(name); n++) {
      name = `${c.name}${n}`;
      if (original.has(name)) name = c.name;
    }
    taken.add(name);
    return { name, type: c.type };
  });
}

function emptyRow(columns: readonly Column[]): Row {
  return columns.map((c) => emptyValue(c.type));
}

export function lookup(left: Table, right: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const kind = (namedParameters(node.Parameters).get("kind") ?? "leftouter").toLowerCase();
  if (kind !== "leftouter" && kind !== "inner") throw errorAt(oc.query, node, `Unsupported lookup kind '${kind}'`);
  const keys = joinKeys(left, right, node.LookupClause, oc);
  // The right side's key columns are not repeated in the output (`on X` and `on $left.A == $right.B` alike).
  const rightKeys = new Set(listElements(node.LookupClause.Expressions).flatMap(rightKeyNames));
  const keptRight = right.columns.map((c, i) => ({ c, i })).filter(({ c }) => !rightKeys.has(c.name));
  const index = indexRows(right.rows, keys.right);
  const rows: Row[] = [];
  for (const l of left.rows) {
    const key = keyOf(keys.left, l);
    const matches = key === undefined ? undefined : index.get(key);
    if (matches) for (const r of matches) rows.push([...l, ...keptRight.map(({ i }) => r[i])]);
    else if (kind === "leftouter") rows.push([...l, ...emptyRow(keptRight.map(({ c }) => c))]);
  }
  return { columns: outputColumns([left.columns, keptRight.map(({ c }) => c)]), rows };
}

/** The right-side column names a join condition uses: `X`, or `B` in `$left.A == $right.B`, through `and`. */
function rightKeyNames(condition: SyntaxNode): string[] {
  const kind = nodeKind(condition);
  if (kind === "NameReference") return [String(condition.SimpleName)];
  if (kind !== "BinaryExpression") return [];
  return [condition.Left, condition.Right].flatMap((side) => {
    if (nodeKind(side) === "BinaryExpression") return rightKeyNames(side);
    const isRight =
      nodeKind(side) === "PathExpression" && String(side.Expression?.SimpleName ?? nodeText(side.Expression)).toLowerCase() === "$right";
    return isRight ? [String(side.Selector?.SimpleName ?? referencedName(side))] : [];
  });
}

// ---------- union ----------

export function union(inputs: { table: Table; source: string }[], node: SyntaxNode): Table {
  const parameters = namedParameters(node.Parameters);
  const withSource = parameters.get("withsource");
  const kind = (parameters.get("kind") ?? "outer").toLowerCase();
  let columns: Column[];
  if (kind === "inner") {
    const names = inputs.map((i) => new Set(i.table.columns.map((c) => c.name)));
    columns = inputs[0]?.table.columns.filter((c) => names.every((s) => s.has(c.name))) ?? [];
    if (withSource) columns = [{ name: withSource, type: "string" }, ...columns];
  } else {
    columns =
      resultColumns(node) ??
      outerColumns(
        inputs.map((i) => i.table),
        withSource,
      );
  }
  const rows: Row[] = [];
  for (const { table, source } of inputs) {
    const scope = Scope.of(table);
    const picks = columns.map((c) => {
      if (withSource && c.name === withSource) return () => source;
      let index = scope.indexOf(c.name);
      if (index !== undefined && table.columns[index].type !== c.type && c.type !== "dynamic") index = undefined;
      if (index === undefined) {
        // Kusto names clashing columns `Name_type`.
        const m = /^(.*)_([a-z]+)$/.exec(c.name);
        const candidate = m ? scope.indexOf(m[1]) : undefined;
        if (candidate !== undefined && table.columns[candidate].type === m![2]) index = candidate;
      }
      if (index === undefined) return () => emptyValue(c.type);
      const i = index;
      return c.type === "dynamic" && table.columns[i].type !== "dynamic"
        ? (row: Row) => toDynamic(row[i], table.columns[i].type)
        : (row: Row) => row[i];
    });
    for (const row of table.rows) rows.push(picks.map((p) => p(row)));
  }
  return { columns, rows };
}

function outerColumns(tables: Table[], withSource?: string): Column[] {
  const out: Column[] = withSource ? [{ name: withSource, type: "string" }] : [];
  for (const t of tables) for (const c of t.columns) if (!out.some((o) => o.name === c.name)) out.push(c);
  return out;
}

export function isTabularNode(node: SyntaxNode): boolean {
  return isTabular(node);
}

export { compareValues };

// ---------- mv-apply ----------

/**
 * mv-apply: expands each row's arrays into a small table (the row's columns beside each item), runs
 * the subquery on it, and unions the results. Columns the subquery drops keep the row's values.
 */
export function mvApply(
  input: Table,
  node: SyntaxNode,
  oc: OperatorContext,
  runSubquery: (table: Table, operators: SyntaxNode[]) => Table,
): Table {
  const parameters = namedParameters(node.Parameters);
  const itemIndexName = parameters.get("with_itemindex");
  const bagExpansion = bagExpansionOf(parameters);
  const limit = node.RowLimitClause ? Number(compileIn(input, node.RowLimitClause.RowLimit, oc).fn([])) : Infinity;
  const expansions = listElements(node.Expressions).map((mv) => {
    const expr = mv.Expression;
    const name = expansionName(expr, undefined);
    if (!name) throw errorAt(oc.query, expr, "mv-apply needs a column or `name = expression`");
    const typeName = mv.ToTypeOf ? nodeText(mv.ToTypeOf.TypeOf).replace(/^typeof\(|\)$/g, "") : "dynamic";
    return { name, fn: compileIn(input, expr, oc).fn, type: normalizeTypeName(typeName) ?? "dynamic" };
  });
  const subColumns = [...input.columns];
  const targets = expansions.map((e) => columnAt(subColumns, e.name, e.type));
  if (itemIndexName) subColumns.push({ name: itemIndexName, type: "long" });
  const operators = subqueryOperators(node.Subquery?.Expression);
  const outColumns = resultColumns(node);
  const rows: Row[] = [];
  let columns: readonly Column[] | undefined = outColumns;
  for (const row of input.rows) {
    const arrays = expansions.map((e) => {
      const v = e.fn(row);
      return Array.isArray(v) ? v : v === null ? [] : toExpandable(v, bagExpansion);
    });
    const length = Math.min(limit, Math.max(0, ...arrays.map((a) => a.length)));
    const subRows: Row[] = [];
    for (let i = 0; i < length; i++) {
      const out = widen(row, subColumns.length);
      expansions.forEach((e, j) => {
        const item = arrays[j][i] ?? null;
        out[targets[j]] = e.type === "dynamic" ? item : coerceToType(item, e.type);
      });
      if (itemIndexName) out[subColumns.length - 1] = i;
      subRows.push(out);
    }
    const result = runSubquery({ columns: subColumns, rows: subRows }, operators);
    columns ??= result.columns;
    const scope = Scope.of(result);
    const inputScope = Scope.of(input);
    const picks = columns.map((c) => {
      const fromResult = scope.indexOf(c.name);
      if (fromResult !== undefined) return (r: Row) => r[fromResult];
      const fromInput = inputScope.indexOf(c.name);
      return fromInput !== undefined ? () => row[fromInput] : () => emptyValue(c.type);
    });
    for (const r of result.rows) rows.push(picks.map((p) => p(r)));
  }
  return { columns: columns ?? subColumns, rows };
}

/** The operators of `(op1 | op2 ...)`, the sub-query of mv-apply, in order. */
export function subqueryOperators(expr: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  let node = expr;
  while (node && nodeKind(node) === "ParenthesizedExpression") node = node.Expression;
  while (node && nodeKind(node) === "PipeExpression") {
    out.unshift(node.Operator);
    node = node.Expression;
  }
  if (node) out.unshift(node);
  return out;
}

// ---------- parse ----------

type ParsePart = { literal: string } | { column: number; type: KqlType } | { skip: true };

/** What each type's value looks like, for a column followed by `*` and in a regex-mode pattern (strings and the rest take any text). */
const REGEX_FOR_TYPE: Partial<Record<KqlType, string>> = {
  int: "(-?\\d+)",
  long: "(-?\\d+)",
  real: "(-?\\d+(?:\\.\\d*)?(?:[eE][+-]?\\d+)?)",
  decimal: "(-?\\d+(?:\\.\\d*)?)",
  bool: "(true|false|True|False|TRUE|FALSE)",
  guid: "([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})",
};

/** Capturing groups a regex text opens: `(` not escaped, not in a class, and not `(?:` or another `(?` form but `(?P<`. */
function capturingGroups(regex: string): number {
  let n = 0;
  let inClass = false;
  for (let i = 0; i < regex.length; i++) {
    const c = regex[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(" && (regex[i + 1] !== "?" || regex.startsWith("(?P<", i))) n++;
  }
  return n;
}

/**
 * parse and parse-where. The pattern becomes a regular expression whose groups are the new columns:
 * - `simple` and `relaxed`: the literals are plain text and the match starts at the text's start; a
 *   column followed by a literal takes the text up to it, a number, bool or guid column followed by
 *   `*` takes what such a value looks like, the last column the rest;
 * - `regex`: the literals are regular expressions, `*` any text, a string column any text, a number
 *   column its digits; greedy unless `flags=U` (Kusto's documented examples return greedy matches).
 * A text that does not fit leaves the new columns empty (parse) or drops the row (parse-where); so
 * does a value that is not of its column's type, except in `relaxed`, where only that column is empty.
 */
export function parse(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const parameters = namedParameters(node.Parameters);
  const kind = (parameters.get("kind") ?? "simple").toLowerCase();
  const dropUnmatched = nodeKind(node) === "ParseWhereOperator";
  const source = compileIn(input, node.Expression, oc);
  const columns = [...input.columns];
  const parts: ParsePart[] = [];
  for (const pattern of listElements(node.Patterns)) {
    const patternKind = nodeKind(pattern);
    if (patternKind === "LiteralExpression" || patternKind === "CompoundStringLiteralExpression") {
      parts.push({ literal: plainText(pattern.LiteralValue ?? "") });
    } else if (patternKind === "StarExpression") {
      parts.push({ skip: true });
    } else {
      const name = String(pattern.Name?.SimpleName ?? pattern.SimpleName ?? nodeText(pattern));
      const type = pattern.Type ? (normalizeTypeName(nodeText(pattern.Type)) ?? "string") : "string";
      parts.push({ column: columnAt(columns, name, type), type });
    }
  }
  const match = parseMatcher(parts, kind === "regex", parameters.get("flags"), oc, node);
  const width = columns.length;
  const newColumns = columns.map((_, i) => i).filter((i) => parts.some((p) => "column" in p && p.column === i));
  const rows: Row[] = [];
  for (const row of input.rows) {
    const out = widen(row, width);
    const captured = match(toKqlString(source.fn(row), source.type));
    let values = newColumns.map((i) => (captured ? convertCaptured(captured.get(i) ?? "", columns[i].type) : undefined));
    if ((kind !== "relaxed" || !captured) && values.some((v) => v === undefined)) values = newColumns.map(() => undefined);
    if (dropUnmatched && values.some((v) => v === undefined)) continue;
    newColumns.forEach((i, k) => (out[i] = values[k] ?? emptyValue(columns[i].type)));
    rows.push(out);
  }
  return { columns: adoptTypes(columns, resultColumns(node)), rows };
}

/** A captured text as its column's type; undefined when it is not a value of that type. */
function convertCaptured(text: string, type: KqlType): Value | undefined {
  const value = coerceToType(text, type);
  return value === null && type !== "dynamic" ? undefined : value;
}

/** The regular expression of a parse pattern, and the group each column takes. */
function parseMatcher(parts: ParsePart[], regexKind: boolean, flags: string | undefined, oc: OperatorContext, node: SyntaxNode) {
  let pattern = regexKind ? "" : "^";
  const groupOf = new Map<number, number>();
  let groups = 0;
  parts.forEach((part, i) => {
    const next = parts[i + 1];
    if ("literal" in part) {
      pattern += regexKind ? part.literal : escapeRegex(part.literal);
      if (regexKind) groups += capturingGroups(part.literal);
    } else if ("skip" in part) pattern += regexKind ? ".*" : ".*?";
    else {
      groupOf.set(part.column, ++groups);
      const digits = REGEX_FOR_TYPE[part.type];
      if (regexKind) pattern += digits ?? "(.*)";
      else if (!next) pattern += "(.*)";
      else pattern += "skip" in next && digits ? digits : "(.*?)";
    }
  });
  const flagText = regexKind ? plainText(flags ?? "").replace(/[^imsU]/g, "") : "s";
  const regex = compileRegex(flagText ? `(?${flagText})${pattern}` : pattern, { query: oc.query, env: oc.env, scope: new Scope([]) }, node);
  return (text: string): Map<number, string> | undefined => {
    const m = regex.exec(text);
    if (!m) return undefined;
    return new Map([...groupOf].map(([column, group]) => [column, m[group] ?? ""]));
  };
}

// ---------- top-nested ----------

interface NestedLevel {
  key: Evaluator;
  limit: number;
  aggregate: () => Aggregator;
  descending: boolean;
}

/** top-nested: the top groups by an aggregate at each level, within each group of the level above. */
export function topNested(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const ctx: CompileContext = { query: oc.query, env: oc.env, scope: Scope.of(input) };
  const levels: NestedLevel[] = listElements(node.Clauses).map((clause) => {
    const limit = clause.Expression ? Number(compileScalar(clause.Expression, ctx).fn([])) : Infinity;
    const ofExpr = clause.OfExpression;
    const keyExpr = nodeKind(ofExpr) === "SimpleNamedExpression" ? ofExpr.Expression : ofExpr;
    let by = clause.ByExpression;
    let descending = true;
    if (nodeKind(by) === "OrderedExpression") {
      descending = String(by.Ordering?.AscOrDescKeyword?.Text ?? "desc").toLowerCase() !== "asc";
      by = by.Expression;
    }
    if (nodeKind(by) === "SimpleNamedExpression") by = by.Expression;
    const name = String(referencedName(by) ?? "").toLowerCase();
    const factory = AGGREGATES[name];
    if (!factory) throw errorAt(oc.query, by, `Unsupported aggregate '${nodeText(by)}' in top-nested`, "unsupported-function");
    const args = listElements(by.ArgumentList?.Expressions).map((a: SyntaxNode) => compileScalar(a, ctx));
    return { key: compileScalar(keyExpr, ctx).fn, limit, descending, aggregate: () => factory({ args, resultType: "dynamic" }) };
  });
  const rows: Row[] = [];
  const descend = (group: Row[], level: number, prefix: Value[]) => {
    if (level === levels.length) {
      rows.push(prefix);
      return;
    }
    const { key, limit, aggregate, descending } = levels[level];
    const aggregator = aggregate();
    const groups = new Map<unknown, { key: Value; rows: Row[]; state: unknown }>();
    for (const row of group) {
      const k = key(row);
      const id = valueIdentity(k);
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { key: k, rows: [], state: aggregator.init() }));
      g.rows.push(row);
      g.state = aggregator.step(g.state, row);
    }
    const ranked = [...groups.values()].map((g) => ({ ...g, value: aggregator.result(g.state) }));
    ranked.sort((a, b) => (descending ? -1 : 1) * compareValues(a.value ?? -Infinity, b.value ?? -Infinity));
    for (const g of ranked.slice(0, limit)) descend(g.rows, level + 1, [...prefix, g.key, g.value]);
  };
  descend(input.rows, 0, []);
  return { columns: parserColumns(node, levels.length * 2, oc), rows };
}

// ---------- make-series ----------

/** make-series: per group, each aggregate over fixed time (or number) bins, as arrays; empty bins take the default. */
export function makeSeries(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const ctx: CompileContext = { query: oc.query, env: oc.env, scope: Scope.of(input) };
  const on = compileScalar(node.OnClause.Expression, ctx);
  const range = node.RangeClause;
  let from: number | null = null;
  let to: number | null = null;
  let step: number;
  if (nodeKind(range) === "MakeSeriesInRangeClause") {
    const [a, b, c] = listElements(range.Arguments.Expressions).map((e: SyntaxNode) => Number(compileScalar(e, ctx).fn([])));
    [from, to, step] = [a, b, c];
  } else {
    if (range.MakeSeriesFromClause) from = Number(compileScalar(range.MakeSeriesFromClause.Expression, ctx).fn([]));
    if (range.MakeSeriesToClause) to = Number(compileScalar(range.MakeSeriesToClause.Expression, ctx).fn([]));
    step = Number(compileScalar(range.MakeSeriesStepClause.Expression, ctx).fn([]));
  }
  if (!(step > 0)) throw errorAt(oc.query, node, "make-series needs a positive step");
  if (from === null || to === null) {
    let min = Infinity;
    let max = -Infinity;
    for (const row of input.rows) {
      const t = on.fn(row);
      if (typeof t === "number") {
        min = Math.min(min, t);
        max = Math.max(max, t);
      }
    }
    from ??= min === Infinity ? 0 : binValue(min, step, on.type);
    to ??= max === -Infinity ? 0 : max + step;
  }
  const bins = Math.max(0, Math.ceil((to - from) / step));
  const aggregates = listElements(node.Aggregates).map((expr) => {
    const inner = nodeKind(expr.Expression) === "SimpleNamedExpression" ? expr.Expression.Expression : expr.Expression;
    const name = String(referencedName(inner) ?? "").toLowerCase();
    const factory = AGGREGATES[name];
    if (!factory) throw errorAt(oc.query, inner, `Unsupported aggregate '${name}' in make-series`, "unsupported-function");
    const args = listElements(inner.ArgumentList?.Expressions).map((a: SyntaxNode) => compileScalar(a, ctx));
    const fallback = expr.DefaultExpression ? compileScalar(expr.DefaultExpression.Expression, ctx).fn([]) : 0;
    return { make: () => factory({ args, resultType: "dynamic" }), fallback };
  });
  const keyNodes = node.ByClause ? listElements(node.ByClause.Expressions) : [];
  const keys = keyNodes.map((k) => compileScalar(k, ctx).fn);
  const aggregators = aggregates.map((a) => a.make());
  const groups = new Map<string, { keys: Value[]; states: unknown[][] }>();
  for (const row of input.rows) {
    const t = on.fn(row);
    if (typeof t !== "number" || t < from || t >= to) continue;
    const bin = Math.floor((t - from) / step);
    const keyValues = keys.map((k) => k(row));
    const id = keyValues.map(groupKey).join("\u0001");
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { keys: keyValues, states: aggregators.map(() => new Array<unknown>(bins)) }));
    aggregators.forEach((a, i) => {
      const states = group.states[i];
      states[bin] = a.step(states[bin] === undefined ? a.init() : states[bin], row);
    });
  }
  const timeline: Value[] = [];
  for (let i = 0; i < bins; i++) timeline.push(toDynamic(from + i * step, on.type));
  // kind=nonempty: an empty input (without by keys) still gives one row, every bin at its default.
  const nonempty = (namedParameters(node.Parameters).get("kind") ?? "").toLowerCase() === "nonempty";
  if (nonempty && groups.size === 0 && keys.length === 0)
    groups.set("", { keys: [], states: aggregators.map(() => new Array<unknown>(bins)) });
  const columns = parserColumns(node, keys.length + aggregates.length + 1, oc);
  const rows: Row[] = [...groups.values()].map((g) => [
    ...g.keys,
    ...aggregators.map((a, i) => {
      const out: Value[] = [];
      for (let b = 0; b < bins; b++) out.push(g.states[i][b] === undefined ? aggregates[i].fallback : a.result(g.states[i][b]));
      return out;
    }),
    timeline,
  ]);
  return { columns, rows };
}

// ---------- sample, getschema ----------

/**
 * sample N: N rows (Kusto picks them at random; here, the first N, so a run is repeatable);
 * sample-distinct N of X: N distinct values of X.
 */
export function sample(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const count = Number(compileIn(input, node.Expression, oc).fn([]));
  if (nodeKind(node) !== "SampleDistinctOperator") return { columns: input.columns, rows: input.rows.slice(0, Math.max(0, count)) };
  const of = compileIn(input, node.OfExpression, oc);
  const seen = new Set<unknown>();
  const rows: Row[] = [];
  for (const row of input.rows) {
    if (rows.length >= count) break;
    const v = of.fn(row);
    if (seen.has(valueIdentity(v))) continue;
    seen.add(valueIdentity(v));
    rows.push([v]);
  }
  return { columns: parserColumns(node, 1, oc), rows };
}

/** The type names getschema shows (DataType), by Kusto type. */
const DOTNET_TYPES: Record<KqlType, string> = {
  bool: "System.SByte",
  int: "System.Int32",
  long: "System.Int64",
  real: "System.Double",
  decimal: "System.Data.SqlTypes.SqlDecimal",
  string: "System.String",
  datetime: "System.DateTime",
  timespan: "System.TimeSpan",
  dynamic: "System.Object",
  guid: "System.Guid",
};

/** getschema: one row per input column (ColumnName, ColumnOrdinal, DataType, ColumnType). */
export function getSchema(input: Table): Table {
  return {
    columns: [
      { name: "ColumnName", type: "string" },
      { name: "ColumnOrdinal", type: "int" },
      { name: "DataType", type: "string" },
      { name: "ColumnType", type: "string" },
    ],
    rows: input.columns.map((c, i) => [c.name, i, DOTNET_TYPES[c.type], c.type]),
  };
}

// ---------- top-hitters ----------

/** top-hitters N of X [by S]: the N values of X with the most rows (or the largest sum of S), exactly counted. */
export function topHitters(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const count = Number(compileIn(input, node.Expression, oc).fn([]));
  const of = compileIn(input, node.OfExpression, oc).fn;
  const by = node.ByClause ? compileIn(input, node.ByClause.Expression, oc).fn : undefined;
  const totals = new Map<unknown, { value: Value; total: number }>();
  for (const row of input.rows) {
    const value = of(row);
    const id = valueIdentity(value);
    let entry = totals.get(id);
    if (!entry) totals.set(id, (entry = { value, total: 0 }));
    entry.total += by ? Number(by(row) ?? 0) : 1;
  }
  const rows = [...totals.values()]
    .sort((a, b) => b.total - a.total)
    .slice(0, Math.max(0, count))
    .map((e) => [e.value, e.total]);
  return { columns: parserColumns(node, 2, oc), rows };
}

// ---------- parse-kv ----------

/** The quotes a value or key may be wrapped in (open, close) and the escape characters inside them. */
interface KvQuoting {
  quotes: [string, string][];
  escapes: string[];
}

/** A quoted text starting at `at` (its open quote): its content, unescaped, and where it ends; undefined when `at` opens none. */
function quotedAt(text: string, at: number, quoting: KvQuoting): { value: string; end: number } | undefined {
  const quote = quoting.quotes.find(([open]) => text[at] === open);
  if (!quote) return undefined;
  let value = "";
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i];
    if (quoting.escapes.includes(c) && i + 1 < text.length) value += text[++i];
    else if (c === quote[1]) return { value, end: i + 1 };
    else value += c;
  }
  // Unclosed: the rest of the text.
  return { value, end: text.length };
}

/** Key/value pairs of a text with given pair and key/value delimiters (the first appearance of a key counts). */
function delimitedPairs(
  text: string,
  pairDelimiter: string,
  kvDelimiter: string,
  quoting: KvQuoting,
  greedy: boolean,
): Map<string, string> {
  const pairs = new Map<string, string>();
  // Where each key starts and its value begins: at the text's start or after a pair delimiter, a key, then the key/value delimiter.
  const starts: { key: string; valueAt: number; keyAt: number }[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]) && !text.startsWith(pairDelimiter, i)) i++;
    const keyAt = i;
    const quoted = quotedAt(text, i, quoting);
    let key: string;
    if (quoted) {
      key = quoted.value;
      i = quoted.end;
    } else {
      let end = i;
      while (end < text.length && !text.startsWith(kvDelimiter, end) && !text.startsWith(pairDelimiter, end)) end++;
      key = text.slice(i, end);
      i = end;
    }
    const next = text.indexOf(pairDelimiter, i);
    if (text.startsWith(kvDelimiter, i) && key.trim()) {
      starts.push({ key: key.trim(), valueAt: i + kvDelimiter.length, keyAt });
      i += kvDelimiter.length;
      // The value: quoted (then up to the next pair delimiter), or up to the next pair delimiter.
      let at = i;
      while (at < text.length && /\s/.test(text[at])) at++;
      const value = quotedAt(text, at, quoting);
      if (value) {
        const after = text.indexOf(pairDelimiter, value.end);
        if (!pairs.has(key.trim())) pairs.set(key.trim(), value.value);
        starts[starts.length - 1].valueAt = -1;
        i = after < 0 ? text.length : after + pairDelimiter.length;
        continue;
      }
    }
    i = next < 0 ? text.length : next + pairDelimiter.length;
  }
  starts.forEach((start, k) => {
    if (start.valueAt < 0 || pairs.has(start.key)) return;
    let end: number;
    if (greedy) {
      // Up to the pair delimiter before the next key, or the end.
      const nextKey = starts[k + 1];
      end = nextKey ? text.lastIndexOf(pairDelimiter, nextKey.keyAt - 1) : text.length;
      if (end < start.valueAt) end = nextKey ? nextKey.keyAt : text.length;
    } else {
      end = text.indexOf(pairDelimiter, start.valueAt);
      if (end < 0) end = text.length;
    }
    pairs.set(start.key, text.slice(start.valueAt, end).trim());
  });
  return pairs;
}

/** Key/value pairs where any character that is not a letter, digit or underscore delimits: each wanted key, the word after it. */
function undelimitedPairs(text: string, keys: readonly string[], quoting: KvQuoting): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const key of keys) {
    const found = new RegExp(`(?<![\\w])${escapeRegex(key)}(?![\\w])`, "g");
    for (const m of text.matchAll(found)) {
      let at = m.index + key.length;
      // The delimiters between key and value (quotes open a value, they do not delimit).
      while (at < text.length && !/\w/.test(text[at]) && !quoting.quotes.some(([open]) => open === text[at])) at++;
      if (at >= text.length) continue;
      const quoted = quotedAt(text, at, quoting);
      if (quoted) pairs.set(key, quoted.value.trim());
      else {
        let end = at;
        while (end < text.length && /\w/.test(text[end])) end++;
        pairs.set(key, text.slice(at, end));
      }
      break;
    }
  }
  return pairs;
}

/**
 * parse-kv: columns for the listed keys from a text of key/value pairs, by delimiters
 * (`pair_delimiter`, `kv_delimiter`, optional quotes, escapes and `greedy`), by any character that
 * is not a letter or digit, or by a regex of two groups (key, value). A key the text lacks reads as
 * empty; the first appearance of a key counts; white space around keys and values is dropped.
 */
export function parseKv(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const source = compileIn(input, node.Expression, oc);
  const keys = listElements(node.Keys?.Columns).map((declaration) => ({
    name: String(declaration.Name?.SimpleName ?? nodeText(declaration.Name)),
    type: normalizeTypeName(nodeText(declaration.Type)) ?? "string",
  }));
  const quoting: KvQuoting = { quotes: [], escapes: [] };
  const settings = new Map<string, string>();
  for (const parameter of listElements(node.WithClause?.Properties)) {
    const name = String(parameter.Name?.SimpleName ?? "").toLowerCase();
    const value = plainText(parameter.Expression?.LiteralValue ?? nodeText(parameter.Expression));
    if (name === "quote" && value) quoting.quotes.push([value[0], value[1] ?? value[0]]);
    else if (name === "escape" && value) quoting.escapes.push(value[0]);
    else settings.set(name, value);
  }
  const regexText = settings.get("regex");
  const regex = regexText === undefined ? undefined : compileRegex(regexText, { query: oc.query, env: oc.env, scope: new Scope([]) }, node);
  const pairDelimiter = settings.get("pair_delimiter");
  const kvDelimiter = settings.get("kv_delimiter");
  const greedy = settings.get("greedy")?.toLowerCase() === "true";
  const pairsOf = (text: string): Map<string, string> => {
    if (regex) {
      const pairs = new Map<string, string>();
      for (const m of regex.execAll(text)) {
        const key = (m[1] ?? "").trim();
        if (key && !pairs.has(key)) pairs.set(key, (m[2] ?? "").trim());
      }
      return pairs;
    }
    if (pairDelimiter && kvDelimiter) return delimitedPairs(text, pairDelimiter, kvDelimiter, quoting, greedy);
    return undelimitedPairs(
      text,
      keys.map((k) => k.name),
      quoting,
    );
  };
  const columns = [...input.columns];
  const targets = keys.map(({ name, type }) => columnAt(columns, name, type));
  const rows = input.rows.map((row) => {
    const out = widen(row, columns.length);
    const pairs = pairsOf(toKqlString(source.fn(row), source.type));
    keys.forEach(({ name, type }, k) => {
      const text = pairs.get(name);
      const value = text === undefined ? null : type === "string" ? text : coerceToType(text, type);
      out[targets[k]] = value ?? emptyValue(type);
    });
    return out;
  });
  return { columns: adoptTypes(columns, resultColumns(node)), rows };
}
