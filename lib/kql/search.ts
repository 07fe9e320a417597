/**
 * search: rows of one or more tables in which a term appears. A bare string is a term looked for
 * in every column (`"x"` as with has, `"x*"` a prefix, `"*x"` a suffix, `"*x*"` anywhere), `Col:"x"`
 * the same in one column, combined with and/or/not; any other predicate is evaluated as in where.
 * The result has a `$table` column naming each row's table.
 */
import { Scope, type CompileContext } from "./context.js";
import { errorAt, listElements, namedParameters, nodeKind, nodeText, resultColumns, type SyntaxNode } from "./kusto.js";
import type { OperatorContext } from "./operators.js";
import { compileScalar } from "./scalar.js";
import { hasTerm } from "./text.js";
import type { Column, Row, Table, Value } from "./types.js";
import { emptyValue, plainText, toKqlString } from "./values.js";

type RowTest = (row: Row) => boolean;

/** A search term as a test of one text. */
function termTest(term: string, caseSensitive: boolean): (text: string) => boolean {
  const needle = caseSensitive ? term : term.toLowerCase();
  const starts = needle.startsWith("*");
  const ends = needle.endsWith("*") && needle.length > 1;
  const core = needle.replace(/^\*|\*$/g, "");
  const fold = (text: string) => (caseSensitive ? text : text.toLowerCase());
  if (!core) return () => true;
  if (starts && ends) return (text) => fold(text).includes(core);
  if (ends) return (text) => hasTerm(fold(text), core, "prefix");
  if (starts) return (text) => hasTerm(fold(text), core, "suffix");
  return (text) => hasTerm(fold(text), core, "whole");
}

function compileTest(condition: SyntaxNode, table: Table, caseSensitive: boolean, oc: OperatorContext): RowTest {
  const kind = nodeKind(condition);
  if (kind === "ParenthesizedExpression") return compileTest(condition.Expression, table, caseSensitive, oc);
  if (kind === "LiteralExpression" && typeof condition.LiteralValue === "string") {
    const test = termTest(plainText(condition.LiteralValue), caseSensitive);
    return (row) => row.some((v, i) => v !== null && test(toKqlString(v, table.columns[i].type)));
  }
  if (kind === "BinaryExpression") {
    const op = String(condition.Operator?.Text ?? "").toLowerCase();
    if (op === "and" || op === "or") {
      const left = compileTest(condition.Left, table, caseSensitive, oc);
      const right = compileTest(condition.Right, table, caseSensitive, oc);
      return op === "and" ? (row) => left(row) && right(row) : (row) => left(row) || right(row);
    }
    if (op === ":") {
      const index = Scope.of(table).indexOf(String(condition.Left.SimpleName ?? nodeText(condition.Left)));
      if (index === undefined) return () => false;
      const test = termTest(plainText(condition.Right.LiteralValue ?? nodeText(condition.Right)), caseSensitive);
      const type = table.columns[index].type;
      return (row) => row[index] !== null && test(toKqlString(row[index], type));
    }
  }
  if (kind === "FunctionCallExpression" && String(condition.Name?.SimpleName ?? "").toLowerCase() === "not") {
    const inner = compileTest(listElements(condition.ArgumentList?.Expressions)[0], table, caseSensitive, oc);
    return (row) => !inner(row);
  }
  // Any other predicate runs as in where; a table without its columns has no matching rows.
  const ctx: CompileContext = { query: oc.query, env: oc.env, scope: Scope.of(table) };
  let compiled: ReturnType<typeof compileScalar>;
  try {
    compiled = compileScalar(condition, ctx);
  } catch {
    return () => false;
  }
  return (row) => compiled.fn(row) === true;
}

export function search(inputs: { name: string; table: Table }[], node: SyntaxNode, oc: OperatorContext): Table {
  if (!node.Condition) throw errorAt(oc.query, node, "search needs a predicate");
  const caseSensitive = (namedParameters(node.Parameters).get("kind") ?? "").toLowerCase() === "case_sensitive";
  const columns: Column[] = resultColumns(node) ?? [
    { name: "$table", type: "string" },
    ...inputs.flatMap(({ table }) => table.columns).filter((c, i, all) => all.findIndex((x) => x.name === c.name) === i),
  ];
  const positions = new Map(columns.map((c, i) => [c.name, i]));
  const tableColumn = positions.get("$table");
  const rows: Row[] = [];
  for (const { name, table } of inputs) {
    const test = compileTest(node.Condition, table, caseSensitive, oc);
    const targets = table.columns.map((c) => positions.get(c.name));
    for (const row of table.rows) {
      if (!test(row)) continue;
      const out: Value[] = columns.map((c) => emptyValue(c.type));
      if (tableColumn !== undefined) out[tableColumn] = name;
      row.forEach((v, i) => {
        const at = targets[i];
        if (at !== undefined) out[at] = v;
      });
      rows.push(out);
    }
  }
  return { columns, rows };
}
