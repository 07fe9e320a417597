/**
 * Compiles scalar expressions of the official parser's syntax tree into closures over rows.
 * Each closure is built once per operator, so the per-row cost is a few calls and no tree walk.
 */
import JSON5 from "json5";
import { constant, type Compiled, type CompileContext, type Evaluator } from "./context.js";
import {
  errorAt,
  isTabular,
  kustoStringValue,
  listElements,
  nodeKind,
  nodeText,
  sourceText,
  referencedName,
  referencedSymbolKind,
  scalarTypeOf,
  type SyntaxNode,
} from "./kusto.js";
import { SCALAR_FUNCTIONS } from "./scalar-functions.js";
import { isAggregateName } from "./aggregates.js";
import { hasTerm, hasAllTerms, hasAnyTerm, compileRegex } from "./text.js";
import type { KqlType, Row, Value } from "./types.js";
import { INTEGER_TYPES, NUMERIC_TYPES } from "./types.js";
import {
  coerceToType,
  compareValues,
  groupKey,
  kqlEquals,
  parseDatetime,
  parseTimespan,
  plainText,
  toDynamic,
  toKqlString,
} from "./values.js";

export function compileScalar(node: SyntaxNode, ctx: CompileContext): Compiled {
  const compiled = compileNode(node, ctx);
  if (compiled.constant) {
    // Fold constants once so per-row work is a plain return.
    const value = compiled.fn([] as Row);
    return { ...constant(value, compiled.type), members: compiled.members };
  }
  return compiled;
}

function staticType(node: SyntaxNode, fallback: KqlType = "dynamic"): KqlType {
  return scalarTypeOf(node) ?? fallback;
}

function compileNode(node: SyntaxNode, ctx: CompileContext): Compiled {
  const slot = ctx.aggregateSlot?.(node);
  if (slot !== undefined) {
    return { fn: (row) => row[slot], type: staticType(node), constant: false };
  }
  const kind = nodeKind(node);
  switch (kind) {
    case "LiteralExpression":
      return compileLiteral(node, ctx);
    case "CompoundStringLiteralExpression":
      // String literals side by side (`"a" "b"`) are one literal; the parser joins them.
      return constant(plainText(node.LiteralValue ?? ""), "string");
    case "DynamicExpression":
      return constant(parseDynamicLiteral(node, ctx), "dynamic");
    case "ParenthesizedExpression":
      return compileNode(node.Expression, ctx);
    case "NameReference":
    case "BracketedName":
      return compileNameReference(node, ctx);
    case "BracketedExpression":
      return compileNode(node.Expression, ctx);
    case "SimpleNamedExpression":
      return compileNode(node.Expression, ctx);
    case "FunctionCallExpression":
      return compileCall(node, ctx);
    case "BinaryExpression":
      return compileBinary(node, ctx);
    case "PrefixUnaryExpression":
      return compileUnary(node, ctx);
    case "InExpression":
      return compileIn(node, ctx);
    case "HasAnyExpression":
    case "HasAllExpression":
      return compileHasAny(node, ctx);
    case "BetweenExpression":
      return compileBetween(node, ctx);
    case "PathExpression":
      return compilePath(node, ctx);
    case "ElementExpression":
      return compileElement(node, ctx);
    case "TypeOfLiteralExpression":
      // Only used as a marker argument, e.g. extract(..., typeof(long)); the parser typed the call.
      return constant(nodeText(node), "string");
    case "ToScalarExpression":
      return compileToScalar(node.Expression, ctx, node);
    default:
      throw errorAt(ctx.query, node, `Unsupported expression '${nodeText(node)}' (${kind}) in the local KQL engine`, "unsupported");
  }
}

// ---------- literals and names ----------

function compileLiteral(node: SyntaxNode, ctx: CompileContext): Compiled {
  const type = staticType(node);
  const text = nodeText(node);
  if (/^\w+\(\s*null\s*\)$/i.test(text) || text === "null") return constant(null, type);
  switch (type) {
    case "string":
      return constant(plainText(node.LiteralValue ?? ""), "string");
    case "bool":
      return constant(/^true$/i.test(text) || /\(\s*true\s*\)/i.test(text), "bool");
    case "int":
    case "long":
    case "real":
    case "decimal": {
      const inner = unwrapTypedLiteral(text);
      const n = /^[+-]?0x[0-9a-f]+$/i.test(inner) ? parseInt(inner, 16) : Number(inner);
      if (Number.isNaN(n)) throw errorAt(ctx.query, node, `Cannot read number literal '${text}'`);
      return constant(n, type);
    }
    case "datetime": {
      // From the query's own text: a cached analysis may hold a masked window datetime (kusto.ts analyze).
      // The literal's ISO forms first; then the other forms todatetime reads (datetime('12-02-2022') is 2022-12-02, as documented).
      const literal = unwrapTypedLiteral(sourceText(ctx.query, node));
      const ms = parseDatetime(literal, { strict: true }) ?? parseDatetime(literal);
      if (ms === null) throw errorAt(ctx.query, node, `Cannot read datetime literal '${text}'`);
      return constant(ms, "datetime");
    }
    case "timespan": {
      const ms = parseTimespan(unwrapTypedLiteral(text));
      if (ms === null) throw errorAt(ctx.query, node, `Cannot read timespan literal '${text}'`);
      return constant(ms, "timespan");
    }
    case "guid":
      return constant(unwrapTypedLiteral(text), "guid");
    case "dynamic":
      return constant(parseDynamicLiteral(node, ctx), "dynamic");
  }
}

/** `datetime(2024-01-01)` -> `2024-01-01`, `5m` -> `5m`. */
function unwrapTypedLiteral(text: string): string {
  const m = /^[a-z]+\((.*)\)$/is.exec(text.trim());
  const inner = (m ? m[1] : text).trim();
  // Kusto also takes the value quoted: datetime("2015-01-01"), guid('...').
  return /^(["'])(.*)\1$/s.exec(inner)?.[2].trim() ?? inner;
}

function parseDynamicLiteral(node: SyntaxNode, ctx: CompileContext): Value {
  const raw = node.LiteralValue;
  if (raw === null || raw === undefined) return null;
  // Kusto's dynamic literals are JSON with single-quoted strings allowed, which JSON5 reads.
  try {
    return JSON5.parse<Value>(plainText(raw));
  } catch {
    // Beyond JSON: strings Kusto writes otherwise (verbatim `@"c:\x"`, `h"..."`, ``` blocks, literals side
    // by side, `"a" "b"`) and typed literals (`datetime(...)`, `5m`): read from the parser's tree instead.
    const value = dynamicFromSyntax(node.Expression, ctx);
    if (value === undefined) throw errorAt(ctx.query, node, `Cannot read dynamic literal '${nodeText(node)}'`);
    return value;
  }
}

/** A dynamic literal's value from its syntax: arrays, objects and constant scalars; undefined for anything else. */
function dynamicFromSyntax(node: SyntaxNode | null | undefined, ctx: CompileContext): Value | undefined {
  if (!node) return undefined;
  const kind = nodeKind(node);
  if (kind === "JsonArrayExpression") {
    const items: Value[] = [];
    for (const element of listElements(node.Values)) {
      const value = dynamicFromSyntax(element, ctx);
      if (value === undefined) return undefined;
      items.push(value);
    }
    return items;
  }
  if (kind === "JsonObjectExpression") {
    const object: Record<string, Value> = {};
    for (const pair of listElements(node.Pairs)) {
      const name = kustoStringValue(pair.Name?.Text);
      const value = dynamicFromSyntax(pair.Value, ctx);
      if (name === undefined || value === undefined) return undefined;
      object[name] = value;
    }
    return object;
  }
  let compiled: Compiled;
  try {
    compiled = compileScalar(node, ctx);
  } catch {
    return undefined;
  }
  return compiled.constant ? toDynamic(compiled.fn([] as Row), compiled.type) : undefined;
}

function compileNameReference(node: SyntaxNode, ctx: CompileContext): Compiled {
  const name: string = node.SimpleName ?? referencedName(node) ?? nodeText(node);
  const symbolKind = referencedSymbolKind(node);
  if (symbolKind === "ParameterSymbol" || symbolKind === "VariableSymbol") {
    const parameter = ctx.env.parameter(name);
    if (parameter) return parameter;
  }
  if (symbolKind === "VariableSymbol" || symbolKind === "ParameterSymbol") {
    const binding = ctx.env.scalar(name);
    if (binding) return constant(binding.value, binding.type);
  }
  const index = ctx.scope.indexOf(name);
  if (index !== undefined) {
    const column = ctx.scope.columnAt(index);
    return { fn: (row) => row[index], type: column.type, constant: false };
  }
  if (symbolKind === "FunctionSymbol") return compileCall(node, ctx);
  // A column the parser accepted that the data lacks: a column of an open (schema-less, empty) table.
  if (symbolKind === "ColumnSymbol") return constant(null, staticType(node));
  throw errorAt(ctx.query, node, `Unknown name '${name}': not a column of the input or a scalar let`, "unknown-name");
}

// ---------- calls ----------

function compileCall(node: SyntaxNode, ctx: CompileContext): Compiled {
  const name = String(referencedName(node) ?? node.Name?.SimpleName ?? "").toLowerCase();
  const argNodes: SyntaxNode[] = node.ArgumentList ? listElements(node.ArgumentList.Expressions) : [];
  if (name === "toscalar") return compileToScalar(argNodes[0], ctx, node);
  if (name === "column_ifexists" || name === "columnifexists") return compileColumnIfExists(argNodes, ctx, node);
  const implementation = SCALAR_FUNCTIONS[name];
  if (!implementation) {
    const userDefined = compileUserFunction(node, argNodes, ctx);
    if (userDefined) return userDefined;
    throw errorAt(ctx.query, node, `Unsupported function '${name}' in the local KQL engine`, "unsupported-function");
  }
  const args = argNodes.map((arg) => compileNode(arg, ctx));
  return implementation({ args, argNodes, ctx, node, resultType: staticType(node) });
}

/** Names the engine implements beyond SCALAR_FUNCTIONS and AGGREGATES (handled where they occur). */
const SPECIAL_FUNCTIONS = new Set(["toscalar", "column_ifexists", "columnifexists", "materialize", "table", "view"]);

export function isImplementedFunction(name: string): boolean {
  return Object.hasOwn(SCALAR_FUNCTIONS, name) || isAggregateName(name) || SPECIAL_FUNCTIONS.has(name);
}

/**
 * A call of a scalar function the query defines (`let f = (x:string) { ... }`): the parser's
 * expansion of the body for this call site, compiled with each parameter bound to its argument.
 */
function compileUserFunction(node: SyntaxNode, argNodes: SyntaxNode[], ctx: CompileContext): Compiled | undefined {
  const body = node.GetExpansion?.();
  if (!body || nodeKind(body) !== "FunctionBody" || !body.Expression || isTabular(body.Expression)) return undefined;
  const declaration = ctx.env.functionDeclaration?.(String(referencedName(node) ?? ""));
  const names: string[] = declaration
    ? listElements(declaration.Parameters?.Parameters).map((p) => String(p.NameAndType?.Name?.SimpleName ?? ""))
    : [];
  const bound = new Map<string, Compiled>();
  names.forEach((parameterName, i) => {
    const arg = argNodes[i] ?? listElements(declaration?.Parameters?.Parameters)[i]?.DefaultValue?.Value;
    if (parameterName && arg) bound.set(parameterName, compileNode(arg, ctx));
  });
  // The body's own scalar lets read the parameters (and earlier lets) row by row, as parameters do.
  for (const statement of listElements(body.Statements)) {
    if (
      nodeKind(statement) !== "LetStatement" ||
      isTabular(statement.Expression) ||
      nodeKind(statement.Expression) === "FunctionDeclaration"
    ) {
      throw errorAt(
        ctx.query,
        statement,
        "Only scalar lets are supported in the body of a scalar function by the local KQL engine",
        "unsupported",
      );
    }
    bound.set(String(statement.Name.SimpleName), compileNode(statement.Expression, { ...ctx, env: ctx.env.withParameters(bound) }));
  }
  return compileNode(body.Expression, { ...ctx, env: ctx.env.withParameters(bound) });
}

function compileToScalar(tabular: SyntaxNode, ctx: CompileContext, node: SyntaxNode): Compiled {
  if (!tabular) throw errorAt(ctx.query, node, "toscalar() needs an expression");
  if (!isTabular(tabular)) {
    // toscalar(x * 2) of a scalar is its value, evaluated once for the query; it may not depend on a row.
    const scalar = compileNode(tabular, ctx);
    if (scalar.rowFree) return constant(scalar.fn([]), scalar.type);
    if (!scalar.constant) throw errorAt(ctx.query, node, "toscalar() of a scalar needs a value that does not depend on a row");
    return scalar;
  }
  const table = ctx.env.evaluateTabular(tabular);
  const first = table.rows[0];
  const type = table.columns[0]?.type ?? "dynamic";
  return constant(first ? first[0] : null, type);
}

function compileColumnIfExists(args: SyntaxNode[], ctx: CompileContext, node: SyntaxNode): Compiled {
  const nameArg = compileNode(args[0], ctx);
  if (!nameArg.constant) throw errorAt(ctx.query, node, "column_ifexists() needs a constant column name");
  const index = ctx.scope.indexOf(plainText(nameArg.fn([])));
  if (index !== undefined) {
    const column = ctx.scope.columnAt(index);
    return { fn: (row) => row[index], type: column.type, constant: false };
  }
  return compileNode(args[1], ctx);
}

// ---------- operators ----------

function operatorText(node: SyntaxNode): string {
  return String(node.Operator?.Text ?? "").toLowerCase();
}

/**
 * Lower-cases with a bounded memo: log columns repeat a small set of values, so case-insensitive
 * operators would otherwise allocate a fresh string per row.
 */
const lowerMemo = new Map<string, string>();
export function lowerCached(value: string): string {
  let lowered = lowerMemo.get(value);
  if (lowered === undefined) {
    lowered = value.toLowerCase();
    if (lowerMemo.size > 50_000) lowerMemo.clear();
    lowerMemo.set(value, lowered);
  }
  return lowered;
}

function lower(value: Value): string {
  return value === null || value === undefined ? "" : (typeof value === "string" ? value : toKqlString(value, "dynamic")).toLowerCase();
}

function lowerOf(value: Value): string {
  return typeof value === "string" ? lowerCached(value) : lower(value);
}

function text(value: Value, type: KqlType): string {
  return typeof value === "string" ? value : toKqlString(value, type);
}

function compileBinary(node: SyntaxNode, ctx: CompileContext): Compiled {
  const op = operatorText(node);
  const left = compileNode(node.Left, ctx);
  const right = compileNode(node.Right, ctx);
  const resultType = staticType(node);
  const both = left.constant && right.constant;
  const a = left.fn;
  const b = right.fn;
  const make = (fn: Evaluator, type: KqlType = "bool"): Compiled => ({ fn, type, constant: both });

  switch (op) {
    case "and":
      return make((row) => {
        const x = a(row);
        if (x === false) return false;
        const y = b(row);
        if (y === false) return false;
        return x === null || y === null ? null : true;
      });
    case "or":
      return make((row) => {
        const x = a(row);
        if (x === true) return true;
        const y = b(row);
        if (y === true) return true;
        return x === null || y === null ? null : false;
      });
    case "==":
      return make(equalityEvaluator(left, right));
    // `<>` is the parser's other spelling of `!=` (it types both the same), as SQL writes it.
    case "<>":
    case "!=": {
      if (right.constant && left.type === "string" && right.type === "string") {
        const c = right.fn([]);
        return make((row) => a(row) !== c);
      }
      const eq = equalityEvaluator(left, right);
      return make((row) => {
        const r = eq(row);
        return r === null ? null : !r;
      });
    }
    case "<":
    case "<=":
    case ">":
    case ">=":
      return make(orderingEvaluator(op, left, right));
    case "+":
    case "-":
    case "*":
    case "/":
    case "%":
      return make(arithmeticEvaluator(op, left, right, resultType), resultType);
    case "=~":
      return make((row) => lowerOf(a(row)) === lowerOf(b(row)));
    case "!~":
      return make((row) => lowerOf(a(row)) !== lowerOf(b(row)));
  }
  const stringOp = STRING_OPERATORS[op];
  if (stringOp) {
    const caseSensitive = op.endsWith("_cs");
    const negate = op.startsWith("!");
    if (right.constant) {
      const raw = text(right.fn([]), right.type);
      const needle = caseSensitive ? raw : raw.toLowerCase();
      const lt = left.type;
      return make((row) => {
        const v = a(row);
        const hay = typeof v === "string" ? v : text(v, lt);
        const r = stringOp(caseSensitive ? hay : lowerCached(hay), needle);
        return negate ? !r : r;
      });
    }
    return make((row) => {
      const hay = text(a(row), left.type);
      const needle = text(b(row), right.type);
      const r = caseSensitive ? stringOp(hay, needle) : stringOp(hay.toLowerCase(), needle.toLowerCase());
      return negate ? !r : r;
    });
  }
  if (op === "matches regex") {
    if (right.constant) {
      const re = compileRegex(text(right.fn([]), right.type), ctx, node.Right);
      return make((row) => re.test(text(a(row), left.type)));
    }
    return make((row) => compileRegex(text(b(row), right.type), ctx, node.Right).test(text(a(row), left.type)));
  }
  throw errorAt(ctx.query, node, `Unsupported operator '${op}' in the local KQL engine`, "unsupported-operator");
}

const startsWith = (h: string, n: string) => h.startsWith(n);
const endsWith = (h: string, n: string) => h.endsWith(n);
const contains = (h: string, n: string) => h.includes(n);
const hasPrefix = (h: string, n: string) => hasTerm(h, n, "prefix");
const hasSuffix = (h: string, n: string) => hasTerm(h, n, "suffix");
const has = (h: string, n: string) => hasTerm(h, n, "whole");

/** String operators; `!x` negates `x`, `_cs` is case-sensitive (the caller lower-cases otherwise). */
const STRING_OPERATORS: Record<string, (haystack: string, needle: string) => boolean> = {
  has,
  "!has": has,
  has_cs: has,
  "!has_cs": has,
  hasprefix: hasPrefix,
  "!hasprefix": hasPrefix,
  hasprefix_cs: hasPrefix,
  "!hasprefix_cs": hasPrefix,
  hassuffix: hasSuffix,
  "!hassuffix": hasSuffix,
  hassuffix_cs: hasSuffix,
  "!hassuffix_cs": hasSuffix,
  contains,
  "!contains": contains,
  contains_cs: contains,
  "!contains_cs": contains,
  startswith: startsWith,
  "!startswith": startsWith,
  startswith_cs: startsWith,
  "!startswith_cs": startsWith,
  endswith: endsWith,
  "!endswith": endsWith,
  endswith_cs: endsWith,
  "!endswith_cs": endsWith,
};

const TIME_OR_NUMBER: ReadonlySet<KqlType> = new Set(["int", "long", "real", "decimal", "datetime", "timespan"]);

function equalityEvaluator(left: Compiled, right: Compiled): Evaluator {
  // Column == constant is the commonest filter; give it a closure with nothing else in it.
  if (right.constant && !left.constant) {
    const c = right.fn([]);
    const a = left.fn;
    if (left.type === "string" && typeof c === "string") return (row) => a(row) === c;
    if (TIME_OR_NUMBER.has(left.type) && typeof c === "number")
      return (row) => {
        const x = a(row);
        return x === null ? false : x === c;
      };
  }
  const a = left.fn;
  const b = right.fn;
  if (left.type === "string" && right.type === "string") return (row) => a(row) === b(row);
  if (TIME_OR_NUMBER.has(left.type) && TIME_OR_NUMBER.has(right.type)) {
    return (row) => {
      const x = a(row);
      const y = b(row);
      if (x === null || y === null) return x === null && y === null ? null : false;
      return x === y;
    };
  }
  // Dynamic against a typed value: bring the dynamic side to the other's type first.
  if (left.type === "dynamic" && right.type !== "dynamic") return (row) => kqlEquals(coerceToType(a(row), right.type), b(row));
  if (right.type === "dynamic" && left.type !== "dynamic") return (row) => kqlEquals(a(row), coerceToType(b(row), left.type));
  return (row) => kqlEquals(a(row), b(row));
}

function orderingEvaluator(op: string, left: Compiled, right: Compiled): Evaluator {
  const a = left.fn;
  const b = right.fn;
  const lt = left.type;
  const rt = right.type;
  // datetime compared with a string literal: Kusto converts the string.
  const normalize = (value: Value, own: KqlType, other: KqlType): Value =>
    own === "dynamic" || (own === "string" && other !== "string") ? coerceToType(value, other === "dynamic" ? "real" : other) : value;
  return (row) => {
    const x = normalize(a(row), lt, rt);
    const y = normalize(b(row), rt, lt);
    if (x === null || y === null) return null;
    const c = compareValues(x, y);
    switch (op) {
      case "<":
        return c < 0;
      case "<=":
        return c <= 0;
      case ">":
        return c > 0;
      default:
        return c >= 0;
    }
  };
}

function arithmeticEvaluator(op: string, left: Compiled, right: Compiled, resultType: KqlType): Evaluator {
  const a = left.fn;
  const b = right.fn;
  const toNum = (value: Value, type: KqlType): number | null =>
    typeof value === "number" ? value : value === null ? null : (coerceToType(value, type === "dynamic" ? "real" : type) as number | null);
  const integerResult = INTEGER_TYPES.has(resultType);
  const lt = left.type;
  const rt = right.type;
  return (row) => {
    const x = toNum(a(row), lt);
    const y = toNum(b(row), rt);
    if (x === null || y === null) return null;
    switch (op) {
      case "+":
        return x + y;
      case "-":
        return x - y;
      case "*":
        return integerResult ? Math.trunc(x * y) : x * y;
      case "/":
        if (integerResult) return y === 0 ? null : Math.trunc(x / y);
        return x / y;
      default:
        if (y === 0) return null;
        return integerResult ? Math.trunc(x % y) : x % y;
    }
  };
}

function compileUnary(node: SyntaxNode, ctx: CompileContext): Compiled {
  const operand = compileNode(node.Expression, ctx);
  const op = operatorText(node);
  const f = operand.fn;
  if (op === "-") {
    return {
      fn: (row) => {
        const v = f(row);
        return typeof v === "number" ? -v : v === null ? null : -Number(v);
      },
      type: operand.type,
      constant: operand.constant,
    };
  }
  if (op === "+") return operand;
  throw errorAt(ctx.query, node, `Unsupported unary operator '${op}'`, "unsupported-operator");
}

/** Values an `in` list names: literals, dynamic arrays, let-bound arrays, or a sub-query's first column. */
function inListValues(listNode: SyntaxNode, ctx: CompileContext): { values: Value[]; rowDependent?: Compiled[] } {
  const values: Value[] = [];
  const rowDependent: Compiled[] = [];
  for (const element of listElements(listNode.Expressions)) {
    if (isTabular(element)) {
      const table = ctx.env.evaluateTabular(element);
      for (const row of table.rows) values.push(row[0]);
      continue;
    }
    const compiled = compileNode(element, ctx);
    if (!compiled.constant) {
      rowDependent.push(compiled);
      continue;
    }
    const value = compiled.fn([]);
    if (compiled.type === "dynamic" && Array.isArray(value)) values.push(...value);
    else values.push(value);
  }
  return { values, rowDependent: rowDependent.length ? rowDependent : undefined };
}

function compileIn(node: SyntaxNode, ctx: CompileContext): Compiled {
  const op = operatorText(node);
  const caseInsensitive = op.endsWith("~");
  const negate = op.startsWith("!");
  const left = compileNode(node.Left, ctx);
  const listed = inListValues(node.Right, ctx);
  const rowDependent = listed.rowDependent;
  // Kusto converts the list to the left side's type: `EventID in ("4624", "4625")` matches 4624.
  const values = TIME_OR_NUMBER.has(left.type)
    ? listed.values.map((v) => (typeof v === "string" ? coerceToType(v, left.type) : v))
    : listed.values;
  const a = left.fn;
  // Specialised membership tests: these run once per row in hot filters.
  let member: (v: Value) => boolean;
  if (caseInsensitive) {
    const set = new Set(values.map((v) => lower(v)));
    member = (v) => set.has(typeof v === "string" ? lowerCached(v) : lower(v));
  } else if (left.type === "string") {
    const set = new Set(values.map((v) => text(v, "dynamic")));
    member = (v) => set.has(v as string);
  } else if (TIME_OR_NUMBER.has(left.type) && values.every((v) => typeof v === "number")) {
    const set = new Set(values);
    member = (v) => set.has(v as number);
  } else {
    const key = (v: Value) =>
      typeof v === "string" ? `s${v}` : groupKey(typeof v === "number" || v === null ? v : coerceToType(v, "real"));
    const set = new Set(values.map(key));
    member = (v) => set.has(key(v));
  }
  const equalsAny = rowDependent?.map((c) => equalityEvaluator(left, c));
  if (!equalsAny) {
    // The usual case, a constant list: one closure per shape, no extra calls per row.
    if (caseInsensitive && left.type === "string") {
      // Remember each column value's answer: logs repeat a small set of values.
      const answers = new Map<string, boolean>();
      const lowered = new Set(values.map((v) => lower(v)));
      return {
        fn: (row) => {
          const v = a(row) as string;
          let found = answers.get(v);
          if (found === undefined) {
            found = lowered.has(v.toLowerCase());
            if (answers.size < 50_000) answers.set(v, found);
          }
          return negate ? !found : found;
        },
        type: "bool",
        constant: false,
      };
    }
    if (left.type === "string" && !caseInsensitive) {
      const set = new Set(values.map((v) => text(v, "dynamic")));
      return { fn: negate ? (row) => !set.has(a(row) as string) : (row) => set.has(a(row) as string), type: "bool", constant: false };
    }
    if (TIME_OR_NUMBER.has(left.type) && values.every((v) => typeof v === "number")) {
      const set = new Set(values);
      return {
        fn: negate
          ? (row) => {
              const v = a(row);
              return v === null || !set.has(v as number);
            }
          : (row) => {
              const v = a(row);
              return v !== null && set.has(v as number);
            },
        type: "bool",
        constant: false,
      };
    }
  }
  return {
    fn: (row) => {
      const v = a(row);
      if (v === null && left.type !== "string") return negate;
      let found = member(v);
      if (!found && equalsAny) found = equalsAny.some((eq) => eq(row) === true);
      return negate ? !found : found;
    },
    type: "bool",
    constant: false,
  };
}

function compileHasAny(node: SyntaxNode, ctx: CompileContext): Compiled {
  const op = operatorText(node);
  const left = compileNode(node.Left, ctx);
  const { values, rowDependent } = inListValues(node.Right, ctx);
  if (rowDependent) throw errorAt(ctx.query, node.Right, `${op} needs constant terms in the local KQL engine`);
  const terms = values.map((v) => text(v, "dynamic").toLowerCase());
  const a = left.fn;
  const matcher = op === "has_all" ? hasAllTerms : hasAnyTerm;
  return { fn: (row) => matcher(text(a(row), left.type).toLowerCase(), terms), type: "bool", constant: false };
}

function compileBetween(node: SyntaxNode, ctx: CompileContext): Compiled {
  const negate = operatorText(node).startsWith("!");
  const left = compileNode(node.Left, ctx);
  const low = compileNode(node.Right.First, ctx);
  const high = compileNode(node.Right.Second, ctx);
  // `datetime between (start .. 1d)` means start to start + 1d.
  const highIsSpan = high.type === "timespan" && left.type === "datetime";
  const a = left.fn;
  const lo = low.fn;
  const hi = high.fn;
  return {
    fn: (row) => {
      const v = a(row) as number | null;
      const l = lo(row) as number | null;
      let h = hi(row) as number | null;
      if (v === null || l === null || h === null) return null;
      if (highIsSpan) h = l + h;
      const inside = compareValues(v, l) >= 0 && compareValues(v, h) <= 0;
      return negate ? !inside : inside;
    },
    type: "bool",
    constant: false,
  };
}

// ---------- dynamic access ----------

export function memberOf(value: Value, key: Value): Value {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") {
    const s = value.trim();
    if (s.startsWith("{") || s.startsWith("[")) {
      try {
        value = JSON.parse(s) as Value;
      } catch {
        return null;
      }
    } else return null;
  }
  if (Array.isArray(value)) {
    if (typeof key !== "number") return null;
    const index = key < 0 ? value.length + key : key;
    return value[index] ?? null;
  }
  if (typeof value === "object") {
    const found = (value as Record<string, Value>)[plainText(key)];
    return found === undefined ? null : found;
  }
  return null;
}

function compilePath(node: SyntaxNode, ctx: CompileContext): Compiled {
  // `$left.x` / `$right.x` resolve to a column of the scope (join conditions are compiled by the join).
  const symbolKind = referencedSymbolKind(node);
  const columnName = referencedName(node);
  const columnIndex = columnName === undefined ? undefined : ctx.scope.indexOf(columnName);
  if (
    symbolKind === "ColumnSymbol" &&
    columnIndex !== undefined &&
    nodeKind(node.Expression) === "NameReference" &&
    !isDynamicType(node.Expression)
  ) {
    const index = columnIndex;
    return { fn: (row) => row[index], type: ctx.scope.columnAt(index).type, constant: false };
  }
  const target = compileNode(node.Expression, ctx);
  const selector = node.Selector;
  const key = selectorKey(selector, ctx);
  const t = target.fn;
  if (key.constant) {
    const k = key.fn([]);
    return { fn: (row) => memberOf(t(row), k), type: "dynamic", constant: target.constant };
  }
  const kf = key.fn;
  return { fn: (row) => memberOf(t(row), kf(row)), type: "dynamic", constant: false };
}

function isDynamicType(node: SyntaxNode): boolean {
  return scalarTypeOf(node) === "dynamic";
}

function selectorKey(selector: SyntaxNode, ctx: CompileContext): Compiled {
  const kind = nodeKind(selector);
  if (kind === "NameReference") return constant(String(selector.SimpleName), "string");
  if (kind === "BracketedExpression") return compileNode(selector.Expression, ctx);
  if (kind === "BracketedName")
    return constant(String(selector.Name?.Text ?? nodeText(selector)).replace(/^\[['"]|['"]\]$/g, ""), "string");
  return compileNode(selector, ctx);
}

function compileElement(node: SyntaxNode, ctx: CompileContext): Compiled {
  const target = compileNode(node.Expression, ctx);
  const key = selectorKey(node.Selector, ctx);
  const t = target.fn;
  const k = key.fn;
  return { fn: (row) => memberOf(t(row), k(row)), type: "dynamic", constant: target.constant && key.constant };
}

/** Converts a compiled value to dynamic form (for make_set, pack, ...). */
export function asDynamic(compiled: Compiled): Evaluator {
  const f = compiled.fn;
  const type = compiled.type;
  if (type !== "datetime" && type !== "timespan") return f;
  return (row) => toDynamic(f(row), type);
}

export { NUMERIC_TYPES };
