/**
 * Aggregation functions for `summarize`. Each aggregate keeps a small state per group; nulls are
 * ignored as the Kusto docs specify for count/dcount/sum/make_* and friends.
 */
import type { Compiled, Evaluator } from "./context.js";
import type { KqlType, Row, Value } from "./types.js";
import { compareValues, toDynamic, valueIdentity } from "./values.js";

export interface Aggregator {
  init(): unknown;
  /** A property, not a method: summarize calls the steps detached from their aggregator. */
  step: (state: unknown, row: Row) => unknown;
  result(state: unknown): Value;
  /** arg_max/arg_min yield several columns; every other aggregate yields one. */
  results?(state: unknown): Value[];
}

export interface AggregateArgs {
  args: Compiled[];
  /** For arg_max/arg_min: the evaluators of the columns to return beside the extreme value. */
  extraColumns?: Evaluator[];
  resultType: KqlType;
}

type AggregateFactory = (spec: AggregateArgs) => Aggregator;

const isTrue = (f: Evaluator | undefined, row: Row) => (f ? f(row) === true : true);

function counting(predicate?: Evaluator): Aggregator {
  return {
    init: () => 0,
    step: (state, row) => (isTrue(predicate, row) ? (state as number) + 1 : state),
    result: (state) => state as number,
  };
}

/**
 * Exact distinct count. Values are dictionary-encoded once per summarize (logs repeat a small
 * vocabulary across groups), so each group only keeps small integers.
 */
function distinctCount(value: Evaluator, predicate?: Evaluator): Aggregator {
  const dictionary = new Map<unknown, number>();
  const idOf = (v: Value): number => {
    const key = valueIdentity(v);
    let id = dictionary.get(key);
    if (id === undefined) {
      id = dictionary.size;
      dictionary.set(key, id);
    }
    return id;
  };
  return {
    init: () => new DistinctIds(),
    step: (state, row) => {
      if (predicate && predicate(row) !== true) return state;
      const v = value(row);
      if (v !== null) (state as DistinctIds).add(idOf(v));
      return state;
    },
    result: (state) => (state as DistinctIds).size(),
  };
}

/**
 * A set of small integers: a bitmap while ids stay below BITMAP_LIMIT (the common case of a
 * low-cardinality column, and far cheaper than a hash set), a Set beyond it.
 */
const BITMAP_LIMIT = 4096;
class DistinctIds {
  private bits: Uint32Array | undefined = new Uint32Array(4);
  private set: Set<number> | undefined;
  add(id: number): void {
    if (this.bits && id < BITMAP_LIMIT) {
      const word = id >>> 5;
      if (word >= this.bits.length) {
        const grown = new Uint32Array(Math.min(BITMAP_LIMIT >>> 5, Math.max(word + 1, this.bits.length * 2)));
        grown.set(this.bits);
        this.bits = grown;
      }
      this.bits[word] |= 1 << (id & 31);
      return;
    }
    if (!this.set) {
      this.set = new Set<number>();
      this.bits?.forEach((w, i) => {
        for (let b = 0; b < 32; b++) if (w & (1 << b)) this.set!.add(i * 32 + b);
      });
      this.bits = undefined;
    }
    this.set.add(id);
  }
  size(): number {
    if (this.set) return this.set.size;
    let n = 0;
    for (let w of this.bits!) {
      while (w) {
        w &= w - 1;
        n++;
      }
    }
    return n;
  }
}

function summing(value: Evaluator, predicate?: Evaluator): Aggregator {
  return {
    init: () => null,
    step: (state, row) => {
      if (!isTrue(predicate, row)) return state;
      const v = value(row);
      if (v === null || typeof v !== "number") return state;
      return ((state as number | null) ?? 0) + v;
    },
    result: (state) => (state as number | null) ?? 0,
  };
}

function extreme(value: Evaluator, sign: 1 | -1, predicate?: Evaluator): Aggregator {
  return {
    init: () => null,
    step: (state, row) => {
      if (!isTrue(predicate, row)) return state;
      const v = value(row);
      if (v === null || v === "") return state;
      if (state === null || compareValues(v, state as Value) * sign > 0) return v;
      return state;
    },
    result: (state) => state as Value,
  };
}

function averaging(value: Evaluator, predicate?: Evaluator): Aggregator {
  return {
    init: () => ({ sum: 0, n: 0 }),
    step: (state, row) => {
      if (!isTrue(predicate, row)) return state;
      const v = value(row);
      if (typeof v === "number") {
        const s = state as { sum: number; n: number };
        s.sum += v;
        s.n += 1;
      }
      return state;
    },
    result: (state) => {
      const s = state as { sum: number; n: number };
      return s.n ? s.sum / s.n : null;
    },
  };
}

function varianceOf(value: Evaluator, sample: boolean, root: boolean, predicate?: Evaluator): Aggregator {
  return {
    init: () => ({ n: 0, mean: 0, m2: 0 }),
    step: (state, row) => {
      if (!isTrue(predicate, row)) return state;
      const v = value(row);
      if (typeof v !== "number") return state;
      // Welford's algorithm: stable for long streams.
      const s = state as { n: number; mean: number; m2: number };
      s.n += 1;
      const delta = v - s.mean;
      s.mean += delta / s.n;
      s.m2 += delta * (v - s.mean);
      return state;
    },
    result: (state) => {
      const s = state as { n: number; mean: number; m2: number };
      const denominator = sample ? s.n - 1 : s.n;
      if (denominator <= 0) return s.n ? 0 : null;
      const variance = s.m2 / denominator;
      return root ? Math.sqrt(variance) : variance;
    },
  };
}

/**
 * make_list and make_set. A set takes an array's elements, not the array (the documented "set from
 * array column": make_set over ['A1','A2'] and ['A2','C1'] is ["A1","A2","C1"]).
 */
function collecting(value: Evaluator, unique: boolean, limit: number, predicate?: Evaluator, keepNulls = false): Aggregator {
  const add = (s: { items: Value[]; seen?: Set<unknown> }, v: Value) => {
    if (s.items.length >= limit || (v === null && !keepNulls)) return;
    if (s.seen) {
      const key = valueIdentity(v);
      if (s.seen.has(key)) return;
      s.seen.add(key);
    }
    s.items.push(v);
  };
  return {
    init: () => ({ items: [] as Value[], seen: unique ? new Set<unknown>() : undefined }),
    step: (state, row) => {
      if (!isTrue(predicate, row)) return state;
      const s = state as { items: Value[]; seen?: Set<unknown> };
      if (s.items.length >= limit) return state;
      const v = value(row);
      if (unique && Array.isArray(v)) for (const item of v) add(s, item);
      else add(s, v);
      return state;
    },
    result: (state) => (state as { items: Value[] }).items,
  };
}

function bagMerging(value: Evaluator, predicate?: Evaluator): Aggregator {
  return {
    init: () => ({}),
    step: (state, row) => {
      if (!isTrue(predicate, row)) return state;
      const v = value(row);
      if (v && typeof v === "object" && !Array.isArray(v)) {
        const bag = state as Record<string, Value>;
        for (const [k, x] of Object.entries(v)) if (!(k in bag)) bag[k] = x;
      }
      return state;
    },
    result: (state) => state as Value,
  };
}

function argExtreme(value: Evaluator, extra: Evaluator[], sign: 1 | -1): Aggregator {
  return {
    init: () => ({ best: null as Value, row: null as Row | null }),
    step: (state, row) => {
      const s = state as { best: Value; row: Row | null };
      const v = value(row);
      // Rows may be a reused buffer (see the fused pipeline): keep a copy.
      if (v === null) {
        if (!s.row) s.row = row.slice(); // all-null groups still return their columns
        return state;
      }
      if (s.best === null || compareValues(v, s.best) * sign > 0) {
        s.best = v;
        s.row = row.slice();
      }
      return state;
    },
    result: (state) => (state as { best: Value }).best,
    results: (state) => {
      const s = state as { best: Value; row: Row | null };
      return [s.best, ...extra.map((f) => (s.row ? f(s.row) : null))];
    },
  };
}

function takeAny(values: Evaluator[]): Aggregator {
  return {
    init: () => null,
    step: (state, row) => (state === null ? values.map((f) => f(row)) : state),
    result: (state) => ((state as Value[] | null) ?? [null])[0],
    results: (state) => (state as Value[] | null) ?? values.map(() => null),
  };
}

function dynamicValue(compiled: Compiled): Evaluator {
  const f = compiled.fn;
  const type = compiled.type;
  return type === "datetime" || type === "timespan" ? (row) => toDynamic(f(row), type) : f;
}

function limitArg(compiled: Compiled | undefined): number {
  return compiled ? Number(compiled.fn([])) : 1_048_576;
}

/**
 * Exact percentiles by nearest rank, as Kusto's percentile() documents for small inputs (its
 * estimate is exact below ~10,000 values per group): the smallest value with at least p% of
 * values at or below it.
 */
function percentiles(value: Evaluator, ranks: number[]): Aggregator {
  return weightedPercentiles(value, () => 1, ranks);
}

/**
 * percentilew/percentilesw: nearest rank as percentiles() ranks, each value counted as if it were repeated
 * weight times (the documentation's definition). A row whose weight is not a positive number adds nothing.
 */
function weightedPercentiles(value: Evaluator, weight: Evaluator, ranks: number[]): Aggregator {
  return {
    init: () => [] as [number, number][],
    step: (state, row) => {
      const v = value(row);
      const w = weight(row);
      if (typeof v === "number" && typeof w === "number" && w > 0) (state as [number, number][]).push([v, w]);
      return state;
    },
    result: (state) => percentileValues(state as [number, number][], ranks)[0],
    results: (state) => percentileValues(state as [number, number][], ranks),
  };
}

/** The ranks of percentiles_array and percentilesw_array: each argument a percentile, or a dynamic array of them. */
function arrayRanks(rankArgs: readonly Compiled[]): number[] {
  return rankArgs.flatMap((a) => {
    const v = a.fn([]);
    return (Array.isArray(v) ? v : [v]).map(Number);
  });
}

/** Every percentile of an aggregator as one dynamic array, not a column each. */
function asOneArray(inner: Aggregator): Aggregator {
  return { ...inner, result: (state) => inner.results!(state), results: undefined };
}

function percentileValues(weighted: [number, number][], ranks: number[]): Value[] {
  if (!weighted.length) return ranks.map(() => null);
  const sorted = [...weighted].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, w]) => sum + w, 0);
  return ranks.map((p) => {
    // Nearest rank; the product is rounded first, or (7 / 100) * 100 = 7.000000000000001 would take the 8th.
    const rank = Math.max(1, Math.ceil(Number(((p / 100) * total).toPrecision(12))));
    let seen = 0;
    for (const [v, w] of sorted) {
      seen += w;
      if (seen >= rank) return v;
    }
    return sorted[sorted.length - 1][0];
  });
}

/**
 * hll(x) and hll_merge(h): Kusto keeps a HyperLogLog sketch for dcount_hll to estimate from; here
 * the "sketch" is the exact set of values (an array), so dcount_hll counts exactly, as dcount does
 * on the small groups local data has.
 */
function sketching(value: Evaluator, merge: boolean): Aggregator {
  return {
    init: () => new Map<unknown, Value>(),
    step: (state, row) => {
      const v = value(row);
      const items = merge ? (Array.isArray(v) ? v : []) : v === null ? [] : [v];
      for (const item of items) (state as Map<unknown, Value>).set(valueIdentity(item), item);
      return state;
    },
    result: (state) => [...(state as Map<unknown, Value>).values()],
  };
}

function takeAnyIf(value: Evaluator, predicate: Evaluator): Aggregator {
  return {
    init: () => null,
    step: (state, row) => (state === null && predicate(row) === true ? [value(row)] : state),
    result: (state) => ((state as Value[] | null) ?? [null])[0],
  };
}

export const AGGREGATES: Record<string, AggregateFactory> = {
  count: ({ args }) => (args.length ? counting((row) => args[0].fn(row) !== null) : counting()),
  countif: ({ args }) => counting(args[0].fn),
  dcount: ({ args }) => distinctCount(args[0].fn),
  count_distinct: ({ args }) => distinctCount(args[0].fn),
  dcountif: ({ args }) => distinctCount(args[0].fn, args[1].fn),
  sum: ({ args }) => summing(args[0].fn),
  sumif: ({ args }) => summing(args[0].fn, args[1].fn),
  min: ({ args }) => extreme(args[0].fn, -1),
  max: ({ args }) => extreme(args[0].fn, 1),
  minif: ({ args }) => extreme(args[0].fn, -1, args[1].fn),
  maxif: ({ args }) => extreme(args[0].fn, 1, args[1].fn),
  avg: ({ args }) => averaging(args[0].fn),
  avgif: ({ args }) => averaging(args[0].fn, args[1].fn),
  stdev: ({ args }) => varianceOf(args[0].fn, true, true),
  stdevp: ({ args }) => varianceOf(args[0].fn, false, true),
  variance: ({ args }) => varianceOf(args[0].fn, true, false),
  variancep: ({ args }) => varianceOf(args[0].fn, false, false),
  make_set: ({ args }) => collecting(dynamicValue(args[0]), true, limitArg(args[1])),
  makeset: ({ args }) => collecting(dynamicValue(args[0]), true, limitArg(args[1])),
  make_set_if: ({ args }) => collecting(dynamicValue(args[0]), true, limitArg(args[2]), args[1].fn),
  make_list: ({ args }) => collecting(dynamicValue(args[0]), false, limitArg(args[1])),
  makelist: ({ args }) => collecting(dynamicValue(args[0]), false, limitArg(args[1])),
  make_list_if: ({ args }) => collecting(dynamicValue(args[0]), false, limitArg(args[2]), args[1].fn),
  make_bag: ({ args }) => bagMerging(args[0].fn),
  make_bag_if: ({ args }) => bagMerging(args[0].fn, args[1].fn),
  make_dictionary: ({ args }) => bagMerging(args[0].fn),
  arg_max: ({ args, extraColumns }) => argExtreme(args[0].fn, extraColumns ?? [], 1),
  arg_min: ({ args, extraColumns }) => argExtreme(args[0].fn, extraColumns ?? [], -1),
  take_any: ({ args }) => takeAny(args.map((a) => a.fn)),
  take_anyif: ({ args }) => takeAnyIf(args[0].fn, args[1].fn),
  anyif: ({ args }) => takeAnyIf(args[0].fn, args[1].fn),
  percentile: ({ args }) => percentiles(args[0].fn, [Number(args[1].fn([]))]),
  percentiles: ({ args }) =>
    percentiles(
      args[0].fn,
      args.slice(1).map((a) => Number(a.fn([]))),
    ),
  any: ({ args }) => takeAny(args.map((a) => a.fn)),
  count_distinctif: ({ args }) => distinctCount(args[0].fn, args[1].fn),
  stdevif: ({ args }) => varianceOf(args[0].fn, true, true, args[1].fn),
  varianceif: ({ args }) => varianceOf(args[0].fn, true, false, args[1].fn),
  make_list_with_nulls: ({ args }) => collecting(dynamicValue(args[0]), false, limitArg(args[1]), undefined, true),
  hll: ({ args }) => sketching(args[0].fn, false),
  hll_if: ({ args }) => sketching((row) => (args[1].fn(row) === true ? args[0].fn(row) : null), false),
  hll_merge: ({ args }) => sketching(args[0].fn, true),
  percentilew: ({ args }) => weightedPercentiles(args[0].fn, args[1].fn, [Number(args[2].fn([]))]),
  percentilesw: ({ args }) =>
    weightedPercentiles(
      args[0].fn,
      args[1].fn,
      args.slice(2).map((a) => Number(a.fn([]))),
    ),
  percentilesw_array: ({ args }) => asOneArray(weightedPercentiles(args[0].fn, args[1].fn, arrayRanks(args.slice(2)))),
  percentiles_array: ({ args }) => asOneArray(percentiles(args[0].fn, arrayRanks(args.slice(1)))),
};

export const MULTI_COLUMN_AGGREGATES = new Set(["arg_max", "arg_min"]);

/**
 * Aggregates whose one call yields one column per argument after the leading ones, with how many lead:
 * percentiles(x, 50, 95), percentilesw(x, weight, 50, 95).
 */
export const PER_ARGUMENT_AGGREGATES: ReadonlyMap<string, number> = new Map([
  ["percentiles", 1],
  ["percentilesw", 2],
]);

export function isAggregateName(name: string): boolean {
  return Object.hasOwn(AGGREGATES, name);
}
