/** The `evaluate` plugins the local engine runs: bag_unpack, pivot, ipv4_lookup, sequence_detect (and, from pattern-plugins, autocluster and basket). */
import { AGGREGATES } from "./aggregates.js";
import { Scope } from "./context.js";
import {
  errorAt,
  listElements,
  nodeKind,
  nodeText,
  referencedName,
  referencedSymbolNames,
  resultColumns,
  scalarTypeOf,
  type SyntaxNode,
} from "./kusto.js";
import { autocluster, basket } from "./pattern-plugins.js";
import { compileIn, inputColumn, type OperatorContext } from "./operators.js";
import { compileScalar } from "./scalar.js";
import type { Column, KqlType, Row, Table, Value } from "./types.js";
import { coerceToType, emptyValue, plainText, toKqlString, valueIdentity } from "./values.js";
import { parseIpv4 } from "./ip-functions.js";

type Plugin = (input: Table, args: SyntaxNode[], node: SyntaxNode, oc: OperatorContext) => Table;

function columnIndex(input: Table, arg: SyntaxNode, plugin: string, oc: OperatorContext): number {
  return inputColumn(input, String(referencedName(arg) ?? nodeText(arg)), arg, plugin, oc);
}

/** The type of a bag's slot: its values' own when they all have one (null aside), dynamic otherwise. */
function slotType(values: Iterable<Value>): KqlType {
  let type: KqlType | undefined;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const own: KqlType =
      typeof v === "string"
        ? "string"
        : typeof v === "boolean"
          ? "bool"
          : typeof v === "number"
            ? Number.isInteger(v)
              ? "long"
              : "real"
            : "dynamic";
    if (type === undefined) type = own;
    else if (type !== own) return "dynamic";
  }
  return type ?? "dynamic";
}

/**
 * bag_unpack(Column [, OutputColumnPrefix [, columnsConflict [, ignoredProperties]]]) [: OutputSchema]:
 * one column per key of the bags (sorted by name, typed by its values), the bag column dropped;
 * parameters by position or by name. A slot named like another input column is an error, or
 * replaces it (`replace_source`), or gives way to it (`keep_source`). With an output schema, the
 * columns it names, in its types (`*` first keeps the others).
 */
const bagUnpack: Plugin = (input, args, node, oc) => {
  const settings = new Map<string, SyntaxNode>();
  const positional = ["outputcolumnprefix", "columnsconflict", "ignoredproperties"];
  args.slice(1).forEach((arg, i) => {
    if (nodeKind(arg) === "SimpleNamedExpression") settings.set(String(arg.Name.SimpleName).toLowerCase(), arg.Expression);
    else if (positional[i]) settings.set(positional[i], arg);
  });
  const constant = (name: string) => {
    const arg = settings.get(name);
    return arg ? compileIn(input, arg, oc).fn([]) : undefined;
  };
  const prefix = plainText(constant("outputcolumnprefix") ?? "");
  const conflict = plainText(constant("columnsconflict") ?? "error").toLowerCase();
  const ignoredValue = constant("ignoredproperties");
  const ignored = new Set(Array.isArray(ignoredValue) ? ignoredValue.map((v) => plainText(v)) : []);
  const bagIndex = columnIndex(input, args[0], "bag_unpack", oc);
  const slots = new Map<string, Value[]>();
  for (const row of input.rows) {
    const bag = row[bagIndex];
    if (bag && typeof bag === "object" && !Array.isArray(bag)) {
      for (const [key, value] of Object.entries(bag)) {
        if (ignored.has(key)) continue;
        let values = slots.get(key);
        if (!values) slots.set(key, (values = []));
        values.push(value);
      }
    }
  }
  const keys = [...slots.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  type Slot = { key: string; name: string; type: KqlType };
  // Each input column but the bag, or the slot replacing it (`replace_source` keeps its place).
  const kept: { c: Column; i: number; slot?: Slot }[] = input.columns.map((c, i) => ({ c, i })).filter(({ i }) => i !== bagIndex);
  let unpacked: Slot[] = keys.map((k) => ({ key: k, name: `${prefix}${k}`, type: slotType(slots.get(k)!) }));
  const clashing = unpacked.filter((u) => kept.some(({ c }) => c.name === u.name));
  if (clashing.length) {
    if (conflict === "replace_source") for (const k of kept) k.slot = clashing.find((u) => u.name === k.c.name);
    else if (conflict !== "keep_source")
      throw errorAt(
        oc.query,
        node,
        `bag_unpack: the column '${clashing[0].name}' is in the input already (columnsConflict: replace_source or keep_source)`,
      );
    unpacked = unpacked.filter((u) => !clashing.includes(u));
  }
  const columns: Column[] = [
    ...kept.map(({ c, slot }) => (slot ? { name: slot.name, type: slot.type } : c)),
    ...unpacked.map((u): Column => ({ name: u.name, type: u.type })),
  ];
  const rows = input.rows.map((row) => {
    const bag = row[bagIndex];
    const record = bag && typeof bag === "object" && !Array.isArray(bag) ? (bag as Record<string, Value>) : {};
    const value = (slot: Slot) => record[slot.key] ?? emptyValue(slot.type);
    return [...kept.map(({ i, slot }) => (slot ? value(slot) : row[i])), ...unpacked.map(value)];
  });
  const schema = node.Schema ? resultColumns(node) : undefined;
  if (!schema) return { columns, rows };
  // The output schema: its columns in its types, each read from the unpacked row by name (absent: empty).
  const at = schema.map((c) => columns.findIndex((x) => x.name === c.name));
  return {
    columns: schema,
    rows: rows.map((row) =>
      schema.map((c, k) => (at[k] < 0 || row[at[k]] === null ? emptyValue(c.type) : coerceToType(row[at[k]], c.type))),
    ),
  };
};

/** What a pivot cell holds without rows, and its type, by aggregation. */
function pivotCell(aggregate: string, argumentType: KqlType): { type: KqlType; empty: Value } {
  switch (aggregate) {
    case "count":
    case "dcount":
      return { type: "long", empty: 0 };
    case "sum":
      return { type: argumentType === "int" ? "long" : argumentType, empty: 0 };
    case "avg":
    case "stdev":
    case "variance":
      return { type: "real", empty: null };
    case "make_list":
    case "make_set":
    case "make_bag":
      return { type: "dynamic", empty: null };
    default:
      return { type: argumentType, empty: null };
  }
}

/**
 * pivot(PivotColumn [, Aggregation] [, Column...]): one row per combination of the given columns
 * (by default every column but the pivoted one and the aggregated ones), one column per value of
 * the pivoted column in order of appearance, each cell the aggregation (count() by default) of its rows.
 */
const pivot: Plugin = (input, args, _node, oc) => {
  const pivotIndex = columnIndex(input, args[0], "pivot", oc);
  const hasAggregate = !!args[1] && nodeKind(args[1]) === "FunctionCallExpression";
  const aggregateNode = hasAggregate ? args[1] : undefined;
  const aggregateName = aggregateNode ? String(referencedName(aggregateNode) ?? "").toLowerCase() : "count";
  const factory = AGGREGATES[aggregateName];
  if (!factory) throw errorAt(oc.query, args[1], `pivot: unsupported aggregation '${aggregateName}'`);
  const ctx = { query: oc.query, env: oc.env, scope: Scope.of(input) };
  const aggregateArgs = listElements(aggregateNode?.ArgumentList?.Expressions).map((a: SyntaxNode) => compileScalar(a, ctx));
  const aggregated = aggregateNode ? referencedSymbolNames(aggregateNode, "ColumnSymbol") : new Set<string>();
  const explicit = args.slice(hasAggregate ? 2 : 1).map((a) => columnIndex(input, a, "pivot", oc));
  const keyIndexes = explicit.length
    ? explicit
    : input.columns
        .map((c, i) => ({ c, i }))
        .filter(({ c, i }) => i !== pivotIndex && !aggregated.has(c.name))
        .map(({ i }) => i);
  const make = () => factory({ args: aggregateArgs, resultType: "dynamic" });
  const aggregator = make();
  const pivotValues: string[] = [];
  const groups = new Map<string, { keys: Value[]; cells: Map<string, unknown> }>();
  for (const row of input.rows) {
    const value = toKqlString(row[pivotIndex] ?? null, input.columns[pivotIndex].type);
    if (!pivotValues.includes(value)) pivotValues.push(value);
    const keys = keyIndexes.map((i) => row[i]);
    const id = keys.map(valueIdentity).join("\u0001");
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { keys, cells: new Map() }));
    group.cells.set(value, aggregator.step(group.cells.has(value) ? group.cells.get(value) : aggregator.init(), row));
  }
  const cell = pivotCell(aggregateName, aggregateArgs[0]?.type ?? "long");
  const columns: Column[] = [
    ...keyIndexes.map((i) => input.columns[i]),
    ...pivotValues.map((name): Column => ({ name: name === "" ? "Column1" : name, type: cell.type })),
  ];
  const rows: Row[] = [...groups.values()].map((g) => [
    ...g.keys,
    ...pivotValues.map((v) => (g.cells.has(v) ? aggregator.result(g.cells.get(v)) : cell.empty)),
  ]);
  return { columns, rows };
};

/** An IPv4 range (`10.0.0.0/8`, or one address) as its network number and prefix length. */
function ipv4Range(text: string): { network: number; bits: number } | null {
  const [base, bitsText] = text.trim().split("/");
  const address = parseIpv4(base);
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (address === null || !(bits >= 0 && bits <= 32)) return null;
  const mask = bits === 0 ? 0 : ~((1 << (32 - bits)) - 1) >>> 0;
  return { network: (address & mask) >>> 0, bits };
}

/**
 * ipv4_lookup(LookupTable, SourceIPv4Key, IPv4LookupRange [, return_unmatched]): each input row with
 * the lookup row whose range holds its address (the most specific range when several do); rows
 * without one are dropped, or kept with empty lookup columns when return_unmatched is true.
 */
const ipv4Lookup: Plugin = (input, args, _node, oc) => {
  const lookupTable = oc.env.evaluateTabular(args[0]);
  const sourceIndex = columnIndex(input, args[1], "ipv4_lookup", oc);
  const rangeIndex = columnIndex(lookupTable, args[2], "ipv4_lookup", oc);
  const returnUnmatched = args[3] ? compileIn(input, args[3], oc).fn([]) === true : false;
  const ranges = lookupTable.rows
    .map((row) => ({ row, range: ipv4Range(toKqlString(row[rangeIndex] ?? null, lookupTable.columns[rangeIndex].type)) }))
    .filter((r): r is { row: Row; range: { network: number; bits: number } } => r.range !== null)
    .sort((a, b) => b.range.bits - a.range.bits);
  const extra = lookupTable.columns.map((c, i) => ({ c, i })).filter(({ c }) => !input.columns.some((x) => x.name === c.name));
  const rows: Row[] = [];
  for (const row of input.rows) {
    const address = parseIpv4(toKqlString(row[sourceIndex] ?? null, input.columns[sourceIndex].type));
    const match =
      address === null
        ? undefined
        : ranges.find(({ range }) => {
            const mask = range.bits === 0 ? 0 : ~((1 << (32 - range.bits)) - 1) >>> 0;
            return (address & mask) >>> 0 === range.network;
          });
    if (match) rows.push([...row, ...extra.map(({ i }) => match.row[i])]);
    else if (returnUnmatched) rows.push([...row, ...extra.map(({ c }) => emptyValue(c.type))]);
  }
  return { columns: [...input.columns, ...extra.map(({ c }) => c)], rows };
};

/**
 * sequence_detect(TimelineColumn, MaxSequenceStepWindow, MaxSequenceSpan, Name1 = Predicate1, Name2 = Predicate2, ..., Dim1, ...):
 * one row per occurrence of the steps in order, in rows with equal dimensions: each step at or after the
 * one before and at most the step window later, the last at most the span after the first. Every
 * combination is an occurrence (the documentation's StormEvents example pairs one heat event with each
 * wildfire that follows it, and one wildfire with each heat event before it). Columns: the dimensions,
 * `<Name>_<TimelineColumn>` per step, Duration; in order of the steps' times.
 */
/** Occurrences sequence_detect returns at most (as many rows as a Log Analytics query returns). */
export const SEQUENCE_ROWS_LIMIT = 500_000;

const sequenceDetect: Plugin = (input, args, node, oc) => {
  const timeline = columnIndex(input, args[0], "sequence_detect", oc);
  const stepWindow = Number(compileIn(input, args[1], oc).fn([]));
  const span = Number(compileIn(input, args[2], oc).fn([]));
  // The steps are the leading boolean expressions (named or not); what follows them are the dimensions.
  const rest = args.slice(3);
  const firstDim = rest.findIndex((a) => scalarTypeOf(a) !== "bool");
  const predicates = firstDim < 0 ? rest : rest.slice(0, firstDim);
  const dims = rest.slice(predicates.length);
  const columns = resultColumns(node);
  if (!predicates.length || !columns || columns.length !== dims.length + predicates.length + 1)
    throw errorAt(oc.query, node, "sequence_detect: expected boolean step predicates followed by dimensions");
  const tests = predicates.map((p) => compileIn(input, nodeKind(p) === "SimpleNamedExpression" ? p.Expression : p, oc).fn);
  const dimFns = dims.map((d) => compileIn(input, d, oc).fn);
  // Rows by dimensions, in time order; each row's steps are the predicates it satisfies.
  const groups = new Map<string, { dims: Value[]; events: { time: number; steps: boolean[] }[] }>();
  for (const row of input.rows) {
    const time = row[timeline];
    if (typeof time !== "number") continue;
    const steps = tests.map((t) => t(row) === true);
    if (!steps.some(Boolean)) continue;
    const values = dimFns.map((f) => f(row));
    const key = values.map(valueIdentity).join("\u0001");
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { dims: values, events: [] }));
    group.events.push({ time, steps });
  }
  const rows: Row[] = [];
  for (const group of groups.values()) {
    const events = [...group.events].sort((a, b) => a.time - b.time);
    const extend = (chain: number[]) => {
      const step = chain.length;
      if (step === tests.length) {
        const times = chain.map((i) => events[i].time);
        rows.push([...group.dims, ...times, times[times.length - 1] - times[0]]);
        // Every ordered combination is an occurrence: steps that match thousands of rows in one group multiply.
        if (rows.length > SEQUENCE_ROWS_LIMIT)
          throw errorAt(
            oc.query,
            node,
            `sequence_detect: more than ${SEQUENCE_ROWS_LIMIT} occurrences; narrow the steps, the step window or the span, or add dimensions`,
          );
        return;
      }
      const from = step === 0 ? 0 : chain[step - 1] + 1;
      for (let i = from; i < events.length; i++) {
        const time = events[i].time;
        if (step > 0 && (time - events[chain[step - 1]].time > stepWindow || time - events[chain[0]].time > span)) break;
        if (events[i].steps[step]) extend([...chain, i]);
      }
    };
    extend([]);
  }
  const stepColumns = dims.length;
  rows.sort((a, b) => {
    for (let i = 0; i < tests.length; i++) {
      const d = (a[stepColumns + i] as number) - (b[stepColumns + i] as number);
      if (d) return d;
    }
    return 0;
  });
  return { columns, rows };
};

const PLUGINS: Readonly<Record<string, Plugin>> = {
  bag_unpack: bagUnpack,
  pivot,
  ipv4_lookup: ipv4Lookup,
  sequence_detect: sequenceDetect,
  autocluster,
  basket,
};

/** Plugins `evaluate` runs locally. */
export const EVALUATE_PLUGINS: ReadonlySet<string> = new Set(Object.keys(PLUGINS));

/** Plugins that reach a service or a sandbox outside the query's data: no local engine can run them. */
const EXTERNAL_PLUGINS: Readonly<Record<string, string>> = {
  http_request: "it calls a web address",
  http_request_post: "it calls a web address",
  sql_request: "it queries an external SQL server",
  mysql_request: "it queries an external MySQL server",
  postgresql_request: "it queries an external PostgreSQL server",
  cosmosdb_sql_request: "it queries Azure Cosmos DB",
  azure_digital_twins_query_request: "it queries Azure Digital Twins",
  dax_request: "it queries a Power BI semantic model",
  python: "it runs Python in the Kusto cluster's sandbox",
  r: "it runs R in the Kusto cluster's sandbox",
  execute_show_command: "it runs a management command on the cluster",
  execute_query: "it runs a query on another cluster",
  ai_embed_text: "it calls an Azure OpenAI deployment",
  ai_embeddings: "it calls an Azure OpenAI deployment",
  ai_chat_completion: "it calls an Azure OpenAI deployment",
  ai_chat_completion_prompt: "it calls an Azure OpenAI deployment",
};

/** Why the local engine does not run a plugin, naming it. */
export function unsupportedPluginMessage(name: string): string {
  const reason = EXTERNAL_PLUGINS[name];
  return reason
    ? `The local engine cannot run the plugin '${name}': ${reason}, which only Log Analytics or Azure Data Explorer can do`
    : `The local engine cannot run the plugin '${name}' (not implemented locally; it runs on Log Analytics)`;
}

export function evaluatePlugin(input: Table, node: SyntaxNode, oc: OperatorContext): Table {
  const call = node.FunctionCall;
  const name = String(call?.Name?.SimpleName ?? "").toLowerCase();
  const plugin = PLUGINS[name];
  if (!plugin) throw errorAt(oc.query, node, unsupportedPluginMessage(name), "unsupported-operator");
  return plugin(input, listElements(call.ArgumentList?.Expressions), node, oc);
}
