/**
 * Numeric series analysis behind the series_* functions: Tukey-fence outlier scores, seasonal and
 * trend decomposition, period detection, line fitting, statistics, gap filling and IIR filtering.
 * Pure functions over number arrays; scalar-functions.ts adapts them to Kusto values.
 *
 * Conventions follow Kusto's documentation (dataexplorer-docs, the series_* function pages), noted
 * where an algorithm detail is Kusto's own rather than textbook.
 */

/** A series as numbers; null where the input has no number (null, a string, NaN). */
export type Series = readonly (number | null)[];

export function toSeries(value: unknown): Series | null {
  if (!Array.isArray(value)) return null;
  return value.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "boolean" ? Number(v) : null));
}

const present = (series: Series): number[] => series.filter((v): v is number => v !== null);

/** Percentile by linear interpolation between closest ranks (what series_outliers uses), p in [0, 100]. */
export function percentileLinear(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const position = (p / 100) * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
}

export function median(values: readonly number[]): number {
  return percentileLinear(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Inverse of the standard normal distribution (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/**
 * How much a raw score over a custom percentile range is stretched so that, for normally
 * distributed data, the mild-outlier threshold k = 1.5 means what it means for Tukey's 25th/75th
 * percentiles (Kusto maintainers' description: microsoft/Kusto-Query-Language#136). For Kusto's default
 * 10th/90th percentiles the maintainers give the factor as 2.772 and a worked example that fixes it to
 * 2.7726056 (stackoverflow.com/q/75264555); other ranges use the normal-distribution derivation.
 */
export function tukeyNormalization(lowPercentile: number, highPercentile: number): number {
  if (lowPercentile === 10 && highPercentile === 90) return (1.9040785483608571 * 8.3) / 5.7; // the worked example: -3 against p10 = 2.7, p90 = 11
  const z75 = normalQuantile(0.75);
  const zHigh = normalQuantile(highPercentile / 100);
  const zLow = normalQuantile(lowPercentile / 100);
  return (1.5 * (zHigh - zLow)) / (4 * z75 - zHigh);
}

export interface OutlierOptions {
  kind?: "tukey" | "ctukey";
  /** A value marking a missing point (scored 0, left out of the percentiles); null always is. */
  ignore?: number | null;
  lowPercentile?: number;
  highPercentile?: number;
  /** Points after this index are scored but left out of the percentiles (series_decompose's test points). */
  learnLength?: number;
}

/**
 * series_outliers: Tukey's fences. A point above the high percentile scores
 * (x - p_high) / (p_high - p_low), below the low one (x - p_low) / (p_high - p_low), times the
 * normalisation for custom ranges; points between them, and missing ones, score 0. With a zero
 * range (most values equal), a point off that value is infinitely far out: it scores +/-Infinity,
 * as the division gives, and series_decompose_anomalies flags it.
 */
export function seriesOutliers(series: Series, options: OutlierOptions = {}): number[] {
  const tukey = options.kind === "tukey";
  const low = tukey ? 25 : (options.lowPercentile ?? 10);
  const high = tukey ? 75 : (options.highPercentile ?? 90);
  const missing = (v: number | null): v is null =>
    v === null || (options.ignore !== undefined && options.ignore !== null && v === options.ignore);
  const learn = series.slice(0, options.learnLength ?? series.length).filter((v): v is number => !missing(v));
  const sorted = learn.sort((a, b) => a - b);
  const qLow = percentileLinear(sorted, low);
  const qHigh = percentileLinear(sorted, high);
  const range = qHigh - qLow;
  const factor = tukey ? 1 : tukeyNormalization(low, high);
  return series.map((v) => {
    if (missing(v) || !sorted.length) return 0;
    if (v > qHigh) return range > 0 ? ((v - qHigh) / range) * factor : Infinity;
    if (v < qLow) return range > 0 ? ((v - qLow) / range) * factor : -Infinity;
    return 0;
  });
}

// ---------- line fitting ----------

export interface LineFit {
  rsquare: number;
  slope: number;
  variance: number;
  rvariance: number;
  interception: number;
  line_fit: number[];
}

/**
 * series_fit_line: least squares over x = 1..n (Kusto's documented example fits y = 2.730x - 1.666 to
 * its 12 points, so x starts at 1). variance and rvariance are sample variances (n - 1) of the input
 * and of the residuals. Missing points are left out of the fit.
 */
export function fitLine(series: Series, fitLength = series.length): LineFit {
  let n = 0;
  let sumX = 0;
  let sumY = 0;
  for (let i = 0; i < fitLength; i++) {
    const y = series[i];
    if (y === null) continue;
    n++;
    sumX += i + 1;
    sumY += y;
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < fitLength; i++) {
    const y = series[i];
    if (y === null) continue;
    const dx = i + 1 - meanX;
    sxx += dx * dx;
    sxy += dx * (y - meanY);
    syy += (y - meanY) * (y - meanY);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const interception = meanY - slope * meanX;
  const line = series.map((_, i) => interception + slope * (i + 1));
  let residual = 0;
  for (let i = 0; i < fitLength; i++) {
    const y = series[i];
    if (y !== null) residual += (y - line[i]) ** 2;
  }
  return {
    rsquare: syy > 0 ? 1 - residual / syy : n > 0 ? 1 : NaN,
    slope,
    variance: n > 1 ? syy / (n - 1) : 0,
    rvariance: n > 1 ? residual / (n - 1) : 0,
    interception,
    line_fit: line,
  };
}

// ---------- periods ----------

/** Scores below this are not periods (series_periods_validate gives them 0, series_periods_detect leaves them out). */
const PERIOD_SCORE_FLOOR = 0.3;

/** Autocorrelation of the series at each lag, after removing its straight-line trend. */
function detrendedAutocorrelation(values: readonly number[], maxLag: number): number[] {
  const fit = fitLine(values);
  const d = values.map((v, i) => v - fit.line_fit[i]);
  const denominator = d.reduce((sum, v) => sum + v * v, 0);
  const out: number[] = [];
  for (let lag = 0; lag <= maxLag; lag++) {
    let sum = 0;
    for (let i = 0; i + lag < d.length; i++) sum += d[i] * d[i + lag];
    out.push(denominator > 0 ? sum / denominator : 0);
  }
  return out;
}

/**
 * A period's score: the autocorrelation at that lag of the detrended series (0 to 1), counted only
 * where the autocorrelation peaks and reaches PERIOD_SCORE_FLOOR. Kusto does not publish its own
 * scoring; this one finds the documented example's 14-point period and rejects its 10-point one.
 */
function periodScores(values: readonly number[]): { acf: number[]; score: (period: number) => number } {
  const maxLag = Math.floor(values.length / 2);
  const acf = detrendedAutocorrelation(values, Math.min(values.length - 1, maxLag + 1));
  const score = (period: number) => {
    if (!Number.isInteger(period) || period < 4 || period > maxLag) return 0;
    const r = acf[period];
    const isPeak = r >= (acf[period - 1] ?? -Infinity) && r >= (acf[period + 1] ?? -Infinity);
    return isPeak && r >= PERIOD_SCORE_FLOOR ? r : 0;
  };
  return { acf, score };
}

/** Median of each phase of the period, repeated over the series' length. */
export function seasonalProfile(series: Series, period: number, learnLength = series.length): number[] {
  const phases: number[][] = Array.from({ length: period }, () => []);
  for (let i = 0; i < learnLength; i++) {
    const v = series[i];
    if (v !== null) phases[i % period].push(v);
  }
  const medians = phases.map((values) => (values.length ? median(values) : 0));
  return series.map((_, i) => medians[i % period]);
}

/**
 * series_periods_detect: up to `count` periods in [minPeriod, maxPeriod] (at least 4 points, at most
 * half the series), best first. After each period is found its seasonal profile is removed, so a
 * period's multiples and side lobes are not reported as further periods. Unused places hold 0.
 */
export function detectPeriods(
  series: Series,
  minPeriod: number,
  maxPeriod: number,
  count: number,
): { periods: number[]; scores: number[] } {
  let values = present(series);
  const periods: number[] = [];
  const scores: number[] = [];
  const from = Math.max(4, Math.ceil(minPeriod));
  for (let k = 0; k < count; k++) {
    const { score } = periodScores(values);
    let best = 0;
    let bestScore = 0;
    const to = Math.min(Math.floor(maxPeriod), Math.floor(values.length / 2));
    for (let p = from; p <= to; p++) {
      const s = score(p);
      if (s > bestScore) [best, bestScore] = [p, s];
    }
    if (!best) break;
    periods.push(best);
    scores.push(bestScore);
    const profile = seasonalProfile(values, best);
    values = values.map((v, i) => v - profile[i]);
  }
  while (periods.length < count) {
    periods.push(0);
    scores.push(0);
  }
  return { periods, scores };
}

/** series_periods_validate: each given period's score (0 for periods under 4 points or over half the series). */
export function validatePeriods(series: Series, periods: readonly number[]): number[] {
  const { score } = periodScores(present(series));
  return periods.map((p) => score(p));
}

// ---------- decomposition ----------

export type TrendKind = "avg" | "linefit" | "none";

export interface DecomposeOptions {
  /** -1 detects the period, 0 means none, a positive number is the period in bins. */
  seasonality?: number;
  trend?: TrendKind;
  /** Points at the end left out of learning (forecasting). */
  testPoints?: number;
  seasonalityThreshold?: number;
}

export interface Decomposition {
  baseline: number[];
  seasonal: number[];
  trend: number[];
  residual: number[];
  learnLength: number;
}

/**
 * series_decompose, in Kusto's documented order: the seasonal component (the median of the points
 * in the same phase, 0 without a period), then the trend of the deseasonalised series (its average,
 * a fitted line, or 0), baseline = seasonal + trend, residual = x - baseline. Missing points count as 0.
 */
export function decompose(input: Series, options: DecomposeOptions = {}): Decomposition {
  const series = input.map((v) => v ?? 0);
  const learnLength = Math.max(0, series.length - Math.max(0, options.testPoints ?? 0));
  const learn = series.slice(0, learnLength);
  let period = options.seasonality ?? -1;
  if (period < 0) {
    const found = detectPeriods(learn, 4, learn.length / 2, 1);
    period = found.scores[0] >= (options.seasonalityThreshold ?? 0.6) ? found.periods[0] : 0;
  }
  period = Math.floor(period);
  const seasonal = period > 0 && period <= learnLength ? seasonalProfile(series, period, learnLength) : series.map(() => 0);
  const deseasonal = series.map((v, i) => v - seasonal[i]);
  let trend: number[];
  switch (options.trend ?? "avg") {
    case "linefit":
      trend = learnLength ? fitLine(deseasonal, learnLength).line_fit : series.map(() => 0);
      break;
    case "none":
      trend = series.map(() => 0);
      break;
    default: {
      const mean = learnLength ? deseasonal.slice(0, learnLength).reduce((a, b) => a + b, 0) / learnLength : 0;
      trend = series.map(() => mean);
    }
  }
  const baseline = series.map((_, i) => seasonal[i] + trend[i]);
  return { baseline, seasonal, trend, residual: series.map((v, i) => v - baseline[i]), learnLength };
}

/**
 * series_decompose_anomalies: decompose, score the residuals with series_outliers (the learning part
 * sets the fences), and flag scores beyond the threshold: +1 up, -1 down, 0 none.
 */
export function decomposeAnomalies(
  series: Series,
  threshold = 1.5,
  options: DecomposeOptions & { method?: "tukey" | "ctukey" } = {},
): { ad_flag: number[]; ad_score: number[]; baseline: number[] } {
  const parts = decompose(series, options);
  const scores = seriesOutliers(parts.residual, { kind: options.method, learnLength: parts.learnLength });
  return {
    ad_flag: scores.map((s) => (s > threshold ? 1 : s < -threshold ? -1 : 0)),
    ad_score: scores,
    baseline: parts.baseline,
  };
}

// ---------- statistics ----------

export interface SeriesStats {
  min: number | null;
  min_idx: number | null;
  max: number | null;
  max_idx: number | null;
  avg: number | null;
  variance: number | null;
  stdev: number | null;
  sum: number | null;
  len: number;
}

/**
 * series_stats: minimum and maximum with their first positions, average, sample variance and
 * standard deviation. A non-finite element makes every statistic null unless ignored.
 */
export function seriesStats(values: readonly unknown[], ignoreNonFinite = false): SeriesStats {
  const numbers: { v: number; i: number }[] = [];
  let nonFinite = false;
  values.forEach((v, i) => {
    if (typeof v === "number" && Number.isFinite(v)) numbers.push({ v, i });
    else nonFinite = true;
  });
  if ((nonFinite && !ignoreNonFinite) || !numbers.length) {
    return { min: null, min_idx: null, max: null, max_idx: null, avg: null, variance: null, stdev: null, sum: null, len: values.length };
  }
  let min = numbers[0];
  let max = numbers[0];
  let sum = 0;
  for (const n of numbers) {
    if (n.v < min.v) min = n;
    if (n.v > max.v) max = n;
    sum += n.v;
  }
  const avg = sum / numbers.length;
  const variance = numbers.length > 1 ? numbers.reduce((s, n) => s + (n.v - avg) ** 2, 0) / (numbers.length - 1) : 0;
  return { min: min.v, min_idx: min.i, max: max.v, max_idx: max.i, avg, variance, stdev: Math.sqrt(variance), sum, len: values.length };
}

// ---------- filling and filtering ----------

/** series_iir: y[i] = (sum_j b[j] x[i-j] - sum_{j>=1} a[j] y[i-j]) / a[0]; missing inputs count as 0. */
export function iirFilter(series: Series, numerators: readonly number[], denominators: readonly number[]): number[] {
  const y: number[] = [];
  const a0 = denominators[0];
  series.forEach((_, i) => {
    let acc = 0;
    numerators.forEach((b, j) => {
      if (i - j >= 0) acc += b * (series[i - j] ?? 0);
    });
    for (let j = 1; j < denominators.length; j++) if (i - j >= 0) acc -= denominators[j] * y[i - j];
    y.push(acc / a0);
  });
  return y;
}
