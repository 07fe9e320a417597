/**
 * The `evaluate` plugins that summarize rows into patterns of shared column values: autocluster
 * (a few patterns that best trade coverage against specificity) and basket (every frequent pattern).
 * A pattern fixes some columns to one value each and leaves the others as a wildcard; both return
 * SegmentId, Count, Percent and then the input's columns, as the parser types them.
 */
import { errorAt, nodeKind, referencedName, resultColumns, type SyntaxNode } from "./kusto.js";
import { compileIn, inputColumn, type OperatorContext } from "./operators.js";
import type { Column, KqlType, Row, Table, Value } from "./types.js";
import { emptyValue, plainText, valueIdentity } from "./values.js";

/** A pattern: per attribute, the index of its value among that attribute's values, or -1 for a wildcard. */
type Pattern = number[];

/** The rows as value indexes per attribute (null and empty values are no value: they never form a pattern). */
interface Encoded {
  attributes: number[];
  values: Value[][];
  codes: Int32Array[];
  weights: number[];
  total: number;
}

function optional(input: Table, arg: SyntaxNode | undefined, oc: OperatorContext): Value | undefined {
  if (!arg) return undefined;
  const value = compileIn(input, arg, oc).fn([]);
  return value === "~" ? undefined : value;
}

/** The weight column, given by name (`sample_Count`) or as a string (`'sample_Count'`); `~` for none. */
function weightColumn(input: Table, arg: SyntaxNode | undefined, plugin: string, oc: OperatorContext): number | undefined {
  if (!arg) return undefined;
  const name = nodeKind(arg) === "NameReference" ? referencedName(arg) : optional(input, arg, oc);
  if (name === undefined || name === null) return undefined;
  return inputColumn(input, plainText(name), arg, plugin, oc);
}

function encode(input: Table, weightIndex: number | undefined): Encoded {
  const attributes = input.columns.map((_, i) => i).filter((i) => i !== weightIndex);
  const values: Value[][] = attributes.map(() => []);
  const lookups = attributes.map(() => new Map<unknown, number>());
  const codes = attributes.map(() => new Int32Array(input.rows.length));
  const weights: number[] = [];
  let total = 0;
  input.rows.forEach((row, r) => {
    attributes.forEach((column, a) => {
      const value = row[column];
      if (value === null || value === undefined || value === "") {
        codes[a][r] = -1;
        return;
      }
      const id = valueIdentity(value);
      let code = lookups[a].get(id);
      if (code === undefined) {
        lookups[a].set(id, (code = values[a].length));
        values[a].push(value);
      }
      codes[a][r] = code;
    });
    const weight = weightIndex === undefined ? 1 : Number(row[weightIndex]);
    weights.push(Number.isFinite(weight) ? weight : 0);
    total += weights[r];
  });
  return { attributes, values, codes, weights, total };
}

/** The weight of the rows a pattern matches. */
function coverage(data: Encoded, pattern: Pattern): number {
  let weight = 0;
  const fixed = pattern.map((v, a) => ({ v, a })).filter(({ v }) => v >= 0);
  for (let r = 0; r < data.weights.length; r++) {
    if (fixed.every(({ v, a }) => data.codes[a][r] === v)) weight += data.weights[r];
  }
  return weight;
}

/**
 * The result table: the parser's columns (SegmentId, Count, Percent, the input's), a pattern's fixed
 * values where it has them and the wildcard elsewhere: null, an empty string for strings, or a custom
 * wildcard given per type (`'*'` for strings, `int(-1)` for ints, ...).
 */
function patternTable(
  input: Table,
  node: SyntaxNode,
  data: Encoded,
  found: { pattern: Pattern; weight: number }[],
  wildcards: Map<KqlType, Value>,
  oc: OperatorContext,
  plugin: string,
): Table {
  const columns = resultColumns(node);
  if (!columns || columns.length !== input.columns.length + 3)
    throw errorAt(oc.query, node, `${plugin}: cannot determine the columns it returns`);
  const wildcard = (column: Column) => (wildcards.has(column.type) ? wildcards.get(column.type)! : emptyValue(column.type));
  const rows: Row[] = found.map(({ pattern, weight }, segment) => {
    const cells = input.columns.map((column, i) => {
      const a = data.attributes.indexOf(i);
      return a >= 0 && pattern[a] >= 0 ? data.values[a][pattern[a]] : wildcard(column);
    });
    return [segment, Math.round(weight), data.total > 0 ? (100 * weight) / data.total : 0, ...cells];
  });
  return { columns, rows };
}

/** Custom wildcards: type literals after the fixed parameters, each for the columns of its type. */
function customWildcards(input: Table, args: SyntaxNode[], oc: OperatorContext): Map<KqlType, Value> {
  const out = new Map<KqlType, Value>();
  for (const arg of args) {
    const compiled = compileIn(input, arg, oc);
    const value = compiled.fn([]);
    if (value !== "~") out.set(compiled.type, value);
  }
  return out;
}

/**
 * autocluster([SizeWeight [, WeightColumn [, NumSeeds [, CustomWildcard...]]]]): the Seed-Expand search the
 * documentation names. A pattern scores the weighted geometric mean of its coverage (the share of the rows'
 * weight it matches) and its specificity (the share of columns it fixes), with weights SizeWeight (0.5 by
 * default) and 1 - SizeWeight. Seeds are the NumSeeds (25) most frequent whole rows; each is generalized one
 * column at a time while that raises the score. The local optima that fix at least one column and match at
 * least two rows (a weight of 2) are returned, best score first (patterns may overlap and need not cover every row).
 */
export function autocluster(input: Table, args: SyntaxNode[], node: SyntaxNode, oc: OperatorContext): Table {
  const sizeWeight = Number(optional(input, args[0], oc) ?? 0.5);
  if (!(sizeWeight >= 0 && sizeWeight <= 1)) throw errorAt(oc.query, args[0], "autocluster: SizeWeight must be between 0 and 1");
  const weightIndex = weightColumn(input, args[1], "autocluster", oc);
  const seedCount = Math.max(1, Math.floor(Number(optional(input, args[2], oc) ?? 25)));
  const data = encode(input, weightIndex);
  const width = data.attributes.length;
  const score = (pattern: Pattern, weight: number) => {
    const fixed = pattern.filter((v) => v >= 0).length;
    if (!fixed || data.total <= 0) return 0;
    return Math.pow(weight / data.total, sizeWeight) * Math.pow(fixed / width, 1 - sizeWeight);
  };
  // Whole rows by weight, heaviest first (first seen first among equals).
  const wholeRows = new Map<string, { pattern: Pattern; weight: number }>();
  for (let r = 0; r < data.weights.length; r++) {
    const pattern = data.codes.map((codes) => codes[r]);
    const key = pattern.join(",");
    const seen = wholeRows.get(key);
    if (seen) seen.weight += data.weights[r];
    else wholeRows.set(key, { pattern, weight: data.weights[r] });
  }
  const seeds = [...wholeRows.values()].sort((a, b) => b.weight - a.weight).slice(0, seedCount);
  const optima = new Map<string, { pattern: Pattern; weight: number; score: number }>();
  for (const seed of seeds) {
    let current = { pattern: seed.pattern, weight: coverage(data, seed.pattern) };
    let currentScore = score(current.pattern, current.weight);
    for (;;) {
      let best: typeof current | undefined;
      let bestScore = currentScore;
      for (let a = 0; a < width; a++) {
        if (current.pattern[a] < 0) continue;
        const pattern = current.pattern.map((v, i) => (i === a ? -1 : v));
        const weight = coverage(data, pattern);
        const s = score(pattern, weight);
        if (s > bestScore) {
          best = { pattern, weight };
          bestScore = s;
        }
      }
      if (!best) break;
      current = best;
      currentScore = bestScore;
    }
    if (currentScore > 0 && current.weight >= 2) optima.set(current.pattern.join(","), { ...current, score: currentScore });
  }
  const found = [...optima.values()].sort((a, b) => b.score - a.score || b.weight - a.weight);
  return patternTable(input, node, data, found, customWildcards(input, args.slice(3), oc), oc, "autocluster");
}

/** Frequent patterns basket looks at before it gives up (each is compared with the others for closure). */
export const BASKET_PATTERNS_LIMIT = 20_000;
/** Rows basket checks candidate patterns against, in all, before it gives up (a few seconds). */
export const BASKET_WORK_LIMIT = 200_000_000;

/**
 * basket([Threshold [, WeightColumn [, MaxDimensions [, CustomWildcard...]]]]): the Apriori search the
 * documentation names, for every pattern of at most MaxDimensions (5) fixed columns matching at least
 * Threshold (0.05) of the rows' weight. Of patterns that match the same rows only the most specific is
 * returned (the documentation's example lists Damage=NO with DamageCrops=0, which every NO row has, and
 * not Damage=NO alone). Most frequent first, then the more specific.
 */
export function basket(input: Table, args: SyntaxNode[], node: SyntaxNode, oc: OperatorContext): Table {
  const threshold = Number(optional(input, args[0], oc) ?? 0.05);
  // The documented range: below it the frequent patterns of a wide table run into the millions.
  if (!(threshold >= 0.015 && threshold <= 1)) throw errorAt(oc.query, args[0], "basket: Threshold must be between 0.015 and 1");
  const weightIndex = weightColumn(input, args[1], "basket", oc);
  const maxDimensions = Math.max(1, Math.floor(Number(optional(input, args[2], oc) ?? 5)));
  const data = encode(input, weightIndex);
  const width = data.attributes.length;
  const minimum = threshold * data.total;
  const frequent: { pattern: Pattern; weight: number; fixed: number }[] = [];
  // Level 1: every single value; level k+1: a frequent pattern with one more column fixed, to a value
  // that alone is frequent, past its last fixed column (so each pattern is built once).
  let level: Pattern[] = [];
  const singles: { a: number; v: number }[] = [];
  for (let a = 0; a < width; a++) {
    // One pass per column (a column may hold a value per row: scanning the rows per value would be quadratic).
    const weights = new Float64Array(data.values[a].length);
    data.codes[a].forEach((v, r) => {
      if (v >= 0) weights[v] += data.weights[r];
    });
    for (let v = 0; v < weights.length; v++) {
      const pattern = new Array<number>(width).fill(-1);
      pattern[a] = v;
      const weight = weights[v];
      if (weight >= minimum && weight > 0) {
        singles.push({ a, v });
        frequent.push({ pattern, weight, fixed: 1 });
        level.push(pattern);
      }
    }
  }
  let work = 0;
  for (let fixed = 2; fixed <= maxDimensions && level.length; fixed++) {
    const next: Pattern[] = [];
    for (const base of level) {
      const last = base.reduce((m, v, i) => (v >= 0 ? i : m), -1);
      for (const { a, v } of singles) {
        if (a <= last) continue;
        const pattern = base.map((x, i) => (i === a ? v : x));
        work += data.weights.length;
        if (work > BASKET_WORK_LIMIT)
          throw errorAt(
            oc.query,
            node,
            `basket: the search passed ${BASKET_WORK_LIMIT} row checks; raise the threshold, lower MaxDimensions or project fewer columns`,
          );
        const weight = coverage(data, pattern);
        if (weight >= minimum && weight > 0) {
          frequent.push({ pattern, weight, fixed });
          next.push(pattern);
          if (frequent.length > BASKET_PATTERNS_LIMIT)
            throw errorAt(
              oc.query,
              node,
              `basket: more than ${BASKET_PATTERNS_LIMIT} frequent patterns; raise the threshold, lower MaxDimensions or project fewer columns`,
            );
        }
      }
    }
    level = next;
  }
  const generalizes = (general: Pattern, specific: Pattern) => general.every((v, i) => v < 0 || specific[i] === v);
  const closed = frequent.filter(
    (p) => !frequent.some((q) => q.fixed > p.fixed && q.weight === p.weight && generalizes(p.pattern, q.pattern)),
  );
  closed.sort((a, b) => b.weight - a.weight || b.fixed - a.fixed);
  return patternTable(input, node, data, closed, customWildcards(input, args.slice(3), oc), oc, "basket");
}
