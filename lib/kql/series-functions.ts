/**
 * The series_* scalar functions (and array_iff): Kusto values in and out, the numeric work in
 * series.ts. Functions that return several columns (series_fit_line, series_decompose_anomalies, ...)
 * return one value per column of the parser's tuple type, matched to it by the column name's suffix.
 */
import { rowwise, type CallSite, type ScalarFunction } from "./call.js";
import type { Compiled } from "./context.js";
import { errorAt, tupleColumns } from "./kusto.js";
import {
  decompose,
  decomposeAnomalies,
  detectPeriods,
  fitLine,
  iirFilter,
  seriesOutliers,
  seriesStats,
  toSeries,
  validatePeriods,
  type Series,
  type TrendKind,
} from "./series.js";
import type { Value } from "./types.js";
import { TICKS_PER_HOUR, plainText, toBool, toDynamic, toNumber } from "./values.js";

/** A number that Kusto's dynamic can hold: NaN and infinities become null. */
const finite = (n: number | null | undefined): number | null => (typeof n === "number" && Number.isFinite(n) ? n : null);
const numbers = (values: readonly (number | null)[]): Value[] => values.map(finite);

function seriesArgument(value: Value): Series | null {
  return toSeries(value);
}

function optionalNumber(values: Value[], index: number, fallback: number): number {
  const v = values[index];
  const n = v === undefined || v === null ? null : toNumber(v);
  return n === null ? fallback : n;
}

function optionalText(values: Value[], index: number, fallback: string): string {
  const v = values[index];
  return v === undefined || v === null || v === "" ? fallback : plainText(v).toLowerCase();
}

function trendKind(call: CallSite, text: string): TrendKind {
  if (text === "avg" || text === "linefit" || text === "none") return text;
  throw errorAt(call.ctx.query, call.node, `Trend must be 'avg', 'linefit' or 'none', not '${text}'`);
}

function outlierMethod(call: CallSite, text: string): "tukey" | "ctukey" {
  if (text === "tukey" || text === "ctukey") return text;
  throw errorAt(call.ctx.query, call.node, `The outlier method must be 'tukey' or 'ctukey', not '${text}'`);
}

/** series_fit_line's record: the fitted line and how well it fits. */
function lineFit([value]: Value[]): Record<string, Value> | null {
  const series = seriesArgument(value);
  if (!series) return null;
  const fit = fitLine(series);
  return {
    rsquare: finite(fit.rsquare),
    slope: finite(fit.slope),
    variance: finite(fit.variance),
    rvariance: finite(fit.rvariance),
    interception: finite(fit.interception),
    line_fit: numbers(fit.line_fit),
  };
}

/** series_stats' record; the second argument ignores non-numeric values. */
function statsOf([value, ignore]: Value[]): Record<string, Value> | null {
  if (!Array.isArray(value)) return null;
  return { ...seriesStats(value, toBool(ignore ?? false) === true) };
}

/**
 * A function returning several columns: `impl` gives the values by member name (ad_flag, slope, ...),
 * placed in the order of the parser's tuple columns (series_fit_line_y_slope -> slope).
 */
function tupleFunction(impl: (values: Value[], call: CallSite) => Record<string, Value> | null): ScalarFunction {
  return (call) => {
    const members = tupleColumns(call.node);
    if (!members) throw errorAt(call.ctx.query, call.node, "Internal error: the parser gave no columns for this function");
    let keys: string[] | undefined;
    const base = rowwise((values) => {
      const record = impl(values, call);
      keys ??= members.map((m) => longestSuffix(m.name, Object.keys(record ?? {})));
      return record ? keys.map((key) => record[key] ?? null) : members.map(() => null);
    })(call);
    return { ...base, type: "dynamic", members } satisfies Compiled;
  };
}

/** The member name a generated column name ends with (`series_stats_y_min_idx` -> `min_idx`, not `idx`). */
function longestSuffix(column: string, keys: string[]): string {
  let best = "";
  for (const key of keys) if ((column === key || column.endsWith(`_${key}`)) && key.length > best.length) best = key;
  return best;
}

function decomposeOptions(values: Value[], call: CallSite, from: number) {
  return {
    seasonality: optionalNumber(values, from, -1),
    trend: trendKind(call, optionalText(values, from + 1, "avg")),
  };
}

/** Element-wise arithmetic and comparison over two series or a series and a number; missing elements give null. */
function elementwise(op: (a: number, b: number) => Value): ScalarFunction {
  return rowwise(([left, right]) => {
    if (!Array.isArray(left) && !Array.isArray(right)) return null;
    const length = Math.max(Array.isArray(left) ? left.length : 0, Array.isArray(right) ? right.length : 0);
    const at = (side: Value, i: number) => {
      const v = Array.isArray(side) ? side[i] : side;
      return typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : null;
    };
    const out: Value[] = [];
    for (let i = 0; i < length; i++) {
      const a = at(left, i);
      const b = at(right, i);
      const r = a === null || b === null ? null : op(a, b);
      out.push(typeof r === "number" ? finite(r) : r);
    }
    return out;
  });
}

/** Whether an element is the missing-value placeholder (null by default; `double(null)` is null too). */
function isMissing(v: Value, placeholder: Value): boolean {
  return v === null || v === undefined || (placeholder !== null && placeholder !== undefined && v === placeholder);
}

function fillDirection(forward: boolean): ScalarFunction {
  return rowwise(([series, placeholder]) => {
    if (!Array.isArray(series)) return null;
    const out = [...series];
    let last: Value = null;
    const indexes = forward ? out.keys() : [...out.keys()].reverse();
    for (const i of indexes) {
      if (isMissing(out[i], placeholder ?? null)) {
        if (last !== null) out[i] = last;
      } else last = out[i];
    }
    return out;
  });
}

export const SERIES_FUNCTIONS: Record<string, ScalarFunction> = {
  series_outliers: rowwise((values, call) => {
    const series = seriesArgument(values[0]);
    if (!series) return null;
    const ignore = values[2] === undefined || values[2] === null ? null : toNumber(values[2]);
    return numbers(
      seriesOutliers(series, {
        kind: outlierMethod(call, optionalText(values, 1, "ctukey")),
        ignore,
        lowPercentile: optionalNumber(values, 3, 10),
        highPercentile: optionalNumber(values, 4, 90),
      }),
    );
  }),
  series_decompose: tupleFunction((values, call) => {
    const series = seriesArgument(values[0]);
    if (!series) return null;
    const parts = decompose(series, {
      ...decomposeOptions(values, call, 1),
      testPoints: optionalNumber(values, 3, 0),
      seasonalityThreshold: optionalNumber(values, 4, 0.6),
    });
    return {
      baseline: numbers(parts.baseline),
      seasonal: numbers(parts.seasonal),
      trend: numbers(parts.trend),
      residual: numbers(parts.residual),
    };
  }),
  series_decompose_anomalies: tupleFunction((values, call) => {
    const series = seriesArgument(values[0]);
    if (!series) return null;
    const result = decomposeAnomalies(series, optionalNumber(values, 1, 1.5), {
      ...decomposeOptions(values, call, 2),
      testPoints: optionalNumber(values, 4, 0),
      method: outlierMethod(call, optionalText(values, 5, "ctukey")),
      seasonalityThreshold: optionalNumber(values, 6, 0.6),
    });
    return { ad_flag: result.ad_flag, ad_score: numbers(result.ad_score), baseline: numbers(result.baseline) };
  }),
  /** series_decompose_forecast: series_decompose learning all but the last `points`, whose baseline is the forecast. */
  series_decompose_forecast: tupleFunction((values, call) => {
    const series = seriesArgument(values[0]);
    if (!series) return null;
    const parts = decompose(series, {
      testPoints: optionalNumber(values, 1, 0),
      ...decomposeOptions(values, call, 2),
      seasonalityThreshold: optionalNumber(values, 4, 0.6),
    });
    return {
      baseline: numbers(parts.baseline),
      seasonal: numbers(parts.seasonal),
      trend: numbers(parts.trend),
      residual: numbers(parts.residual),
    };
  }),
  // The plain forms spread the record into columns; the _dynamic forms return it as one bag.
  series_fit_line: tupleFunction(lineFit),
  series_fit_line_dynamic: rowwise(lineFit),
  series_stats: tupleFunction(statsOf), // sum and len match no column of series_stats
  series_stats_dynamic: rowwise(statsOf),
  series_periods_detect: tupleFunction((values) => {
    const series = seriesArgument(values[0]);
    if (!series) return null;
    const found = detectPeriods(
      series,
      optionalNumber(values, 1, 4),
      optionalNumber(values, 2, series.length / 2),
      optionalNumber(values, 3, 1),
    );
    return { periods: found.periods, scores: numbers(found.scores) };
  }),
  series_periods_validate: tupleFunction((values) => {
    const series = seriesArgument(values[0]);
    if (!series) return null;
    const periods = values.slice(1).map((v) => toNumber(v) ?? 0);
    return { periods, scores: numbers(validatePeriods(series, periods)) };
  }),
  series_fill_forward: fillDirection(true),
  series_fill_backward: fillDirection(false),
  series_fill_const: rowwise(([series, fill, placeholder]) =>
    Array.isArray(series) ? series.map((v) => (isMissing(v, placeholder ?? null) ? (fill ?? null) : v)) : null,
  ),
  /**
   * Linear interpolation between the nearest present neighbours; the edges take the nearest present
   * value unless fill_edges is false; an all-missing series takes the constant (0 by default).
   * Kusto rounds interpolated values for int and long arrays; dynamic values here do not keep that
   * distinction, so interpolated values are always real.
   */
  series_fill_linear: rowwise(([series, placeholder, fillEdges, constantValue]) => {
    if (!Array.isArray(series)) return null;
    const missing = (v: Value) => isMissing(v, placeholder ?? null) || typeof v !== "number";
    const known = series.map((v, i) => (missing(v) ? -1 : i)).filter((i) => i >= 0);
    if (!known.length) return series.map(() => (constantValue === undefined ? 0 : constantValue));
    const edges = fillEdges === undefined || fillEdges === null || toBool(fillEdges) !== false;
    const out: Value[] = [...series];
    for (let k = 0; k + 1 < known.length; k++) {
      const [i, j] = [known[k], known[k + 1]];
      const [a, b] = [series[i] as number, series[j] as number];
      for (let m = i + 1; m < j; m++) out[m] = a + ((b - a) * (m - i)) / (j - i);
    }
    if (edges) {
      for (let m = 0; m < known[0]; m++) out[m] = series[known[0]];
      for (let m = known[known.length - 1] + 1; m < series.length; m++) out[m] = series[known[known.length - 1]];
    }
    return out;
  }),
  series_iir: rowwise(([series, numerators, denominators], call) => {
    const x = seriesArgument(series);
    const b = toSeries(numerators);
    const a = toSeries(denominators);
    if (!x || !b || !a) return null;
    if (!a[0]) throw errorAt(call.ctx.query, call.node, "series_iir: the first denominator coefficient must not be 0");
    return numbers(
      iirFilter(
        x,
        b.map((v) => v ?? 0),
        a.map((v) => v ?? 0),
      ),
    );
  }),
  series_add: elementwise((a, b) => a + b),
  series_subtract: elementwise((a, b) => a - b),
  series_multiply: elementwise((a, b) => a * b),
  series_divide: elementwise((a, b) => a / b),
  series_pow: elementwise((a, b) => a ** b),
  series_greater: elementwise((a, b) => a > b),
  series_greater_equals: elementwise((a, b) => a >= b),
  series_less: elementwise((a, b) => a < b),
  series_less_equals: elementwise((a, b) => a <= b),
  series_equals: elementwise((a, b) => a === b),
  series_not_equals: elementwise((a, b) => a !== b),
  series_abs: rowwise(([series]) =>
    Array.isArray(series) ? numbers(toSeries(series)!.map((v) => (v === null ? null : Math.abs(v)))) : null,
  ),
  /** range(start, stop [, step]): the arithmetic sequence from start to stop inclusive, at most 1,048,576 elements. */
  range: (call) => {
    const type = call.args[0].type;
    return rowwise(([start, stop, step]) => {
      const from = toNumber(start);
      const to = toNumber(stop);
      const by = step === undefined ? (type === "timespan" || type === "datetime" ? TICKS_PER_HOUR : 1) : toNumber(step);
      if (from === null || to === null || by === null || by === 0) return null;
      const out: Value[] = [];
      for (let v = from; by > 0 ? v <= to : v >= to; v += by) {
        out.push(toDynamic(v, type));
        if (out.length >= 1_048_576) break;
      }
      return out;
    })(call);
  },
  /** array_iff: per element, when_true where the condition is true (non-zero), when_false where false, null otherwise. */
  array_iff: rowwise(([condition, whenTrue, whenFalse]) => {
    if (!Array.isArray(condition)) return null;
    const pick = (side: Value, i: number) => (Array.isArray(side) ? (side[i] ?? null) : (side ?? null));
    return condition.map((c, i) => {
      const truth = typeof c === "boolean" ? c : typeof c === "number" ? c !== 0 : null;
      return truth === null ? null : truth ? pick(whenTrue, i) : pick(whenFalse, i);
    });
  }),
};
