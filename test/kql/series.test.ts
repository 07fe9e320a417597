/**
 * The series_* functions, against the outputs Microsoft documents for them (dataexplorer-docs,
 * the series_* function pages) or values computed by hand in the comments.
 */
import { describe, expect, it } from "vitest";
import { decompose, detectPeriods, seriesOutliers } from "../../lib/kql/series.js";
import { columnsOf, q } from "./helpers.js";

/** The series_periods_detect / series_periods_validate documentation's month of traffic in 12-hour bins. */
const TRAFFIC = `dynamic([80, 139, 87, 110, 68, 54, 50, 51, 53, 133, 86, 141, 97, 156, 94, 149, 95, 140, 77, 61, 50, 54, 47, 133, 72, 152, 94,
  148, 105, 162, 101, 160, 87, 63, 53, 55, 54, 151, 103, 189, 108, 183, 113, 175, 113, 178, 90, 71, 62, 62, 65, 165, 109, 181, 115, 182,
  121, 178, 114, 170])`;

describe("series_fit_line, series_stats", () => {
  it("series_fit_line: the documented example's r-square, slope, variances, interception and fitted line", () => {
    const [row] = q(`print y = dynamic([2, 5, 6, 8, 11, 15, 17, 18, 25, 26, 30, 30])
      | extend (RSquare, Slope, Variance, RVariance, Interception, LineFit) = series_fit_line(y)`);
    expect(row.RSquare).toBeGreaterThanOrEqual(0.982); // the documentation truncates to 0.982
    expect(row.RSquare).toBeLessThan(0.983);
    // The documented figures are cut to three decimals: 2.730, 98.628, 1.686, -1.666.
    expect(row.Slope).toBeCloseTo(2.73, 2);
    expect(row.Variance).toBeCloseTo(98.628, 2);
    expect(row.RVariance).toBeCloseTo(1.686, 2);
    expect(row.Interception).toBeCloseTo(-1.666, 2);
    const documented = [1.064, 3.7945, 6.526, 9.256, 11.987, 14.718, 17.449, 20.18, 22.91, 25.641, 28.371, 31.102];
    (row.LineFit as number[]).forEach((v, i) => expect(v).toBeCloseTo(documented[i], 2));
  });

  it("series_stats: the documented example, in the documented column names and order", () => {
    const text = `print x = dynamic([23, 46, 23, 87, 4, 8, 3, 75, 2, 56, 13, 75, 32, 16, 29]) | project series_stats(x)`;
    expect(columnsOf(text)).toEqual([
      "series_stats_x_min:real",
      "series_stats_x_min_idx:long",
      "series_stats_x_max:real",
      "series_stats_x_max_idx:long",
      "series_stats_x_avg:real",
      "series_stats_x_stdev:real",
      "series_stats_x_variance:real",
    ]);
    const [row] = q(text);
    expect(row).toMatchObject({ series_stats_x_min: 2, series_stats_x_min_idx: 8, series_stats_x_max: 87, series_stats_x_max_idx: 3 });
    expect(row.series_stats_x_avg).toBeCloseTo(32.8, 10);
    expect(row.series_stats_x_stdev).toBeCloseTo(28.5036338535483, 10);
    expect(row.series_stats_x_variance).toBeCloseTo(812.457142857143, 9);
  });

  it("series_stats_dynamic adds sum and len; a null element makes every statistic null unless ignored", () => {
    const [row] = q(`print x = dynamic([23, 46, 23, 87, 4, 8, 3, 75, 2, 56, 13, 75, 32, 16, 29]), y = dynamic([1, null, 3])
      | project s = series_stats_dynamic(x), strict = series_stats_dynamic(y), lenient = series_stats_dynamic(y, true)`);
    expect(row.s).toMatchObject({ min: 2, min_idx: 8, max: 87, max_idx: 3, avg: 32.8, sum: 492, len: 15 });
    expect(row.strict).toMatchObject({ min: null, avg: null, len: 3 });
    expect(row.lenient).toMatchObject({ min: 1, max: 3, max_idx: 2, avg: 2, sum: 4 });
  });

  it("fewer names than a function's columns name the first ones; the parser names the rest", () => {
    expect(columnsOf(`print y = dynamic([1, 2, 4]) | extend (r2, slope) = series_fit_line(y) | project-away y`)).toEqual([
      "r2:real",
      "slope:real",
      "series_fit_line_y_variance:real",
      "series_fit_line_y_rvariance:real",
      "series_fit_line_y_interception:real",
      "series_fit_line_y_line_fit:dynamic",
    ]);
  });
});

describe("series_outliers", () => {
  it("matches the Kusto maintainers' worked example: 10th/90th percentiles by interpolation, normalised to Tukey's k", () => {
    // p10 = 2.7, p90 = 11 (linear interpolation); -3 scores (-3 - 2.7) / 8.3 * 2.7726 = -1.904 (stackoverflow.com/q/75264555).
    const [row] = q(`print s = dynamic([-3, 2.4, 15, 3.9, 5, 6, 4.5, 5.2, 3, 4, 5, 16, 7, 5, 5, 4]) | project o = series_outliers(s)`);
    const expected = [
      -1.9040785483608571, -0.10021466044004519, 1.3361954725339347, 0, 0, 0, 0, 0, 0, 0, 0, 1.6702443406674186, 0, 0, 0, 0,
    ];
    (row.o as number[]).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 10));
  });

  it("tukey uses the quartiles without normalisation; null points score 0 and stay out of the percentiles", () => {
    // [1..8] and null: Q1 = 2.75, Q3 = 6.25, range 3.5; 20 scores (20 - 6.25) / 3.5 on [1..7, 20].
    const [row] = q(`print s = dynamic([1, 2, 3, 4, 5, 6, 7, 20, null]) | project o = series_outliers(s, "tukey")`);
    expect((row.o as number[])[7]).toBeCloseTo((20 - 6.25) / 3.5, 10);
    expect((row.o as number[])[8]).toBe(0);
    expect((row.o as number[]).slice(2, 6)).toEqual([0, 0, 0, 0]);
  });

  it("a series whose values are nearly all equal puts anything else infinitely far out", () => {
    expect(seriesOutliers([5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 50])).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, Infinity]);
  });
});

describe("periods", () => {
  it("series_periods_detect finds the documented 14-point (weekly) period and no second one", () => {
    const [row] = q(`print y = ${TRAFFIC} | project series_periods_detect(y, 0.0, 50.0, 2)`);
    expect(row.series_periods_detect_y_periods).toEqual([14, 0]);
    const [score, none] = row.series_periods_detect_y_scores as number[];
    expect(score).toBeGreaterThan(0.6); // documented as about 0.84; Kusto's exact scoring is not published
    expect(none).toBe(0);
  });

  it("series_periods_validate: the weekly period scores high, the five-day one 0, as documented", () => {
    const [row] = q(`print y = ${TRAFFIC} | project series_periods_validate(y, 14.0, 10.0)`);
    expect(row.series_periods_validate_y_periods).toEqual([14, 10]);
    const [weekly, fiveDay] = row.series_periods_validate_y_scores as number[];
    expect(weekly).toBeGreaterThan(0.6);
    expect(fiveDay).toBe(0);
  });

  it("periods under 4 points or over half the series are not looked for", () => {
    expect(detectPeriods([1, 9, 1, 9, 1, 9, 1, 9, 1, 9, 1, 9], 1, 3, 1)).toEqual({ periods: [0], scores: [0] });
  });
});

describe("series_decompose, series_decompose_anomalies, series_decompose_forecast", () => {
  it("a straight line with linefit trend and no seasonality is all baseline", () => {
    const [row] = q(
      `print y = dynamic([1, 2, 3, 4, 5, 6, 7, 8]) | extend (baseline, seasonal, trend, residual) = series_decompose(y, 0, 'linefit')`,
    );
    (row.baseline as number[]).forEach((v, i) => expect(v).toBeCloseTo(i + 1, 10));
    (row.residual as number[]).forEach((v) => expect(v).toBeCloseTo(0, 10));
    expect(row.seasonal).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("a period of 4: the seasonal part is each phase's median, the trend the deseasonalised average", () => {
    // Phases [1,1,1], [5,5,5], [3,3,3], [7,7,17]: medians 1, 5, 3, 7; deseasonalised is 0 but the last point's 10;
    // its average is 10/12, so baseline = seasonal + 0.8333 and the last residual is 17 - 7.8333.
    const parts = decompose([1, 5, 3, 7, 1, 5, 3, 7, 1, 5, 3, 17], { seasonality: 4, trend: "avg" });
    expect(parts.seasonal).toEqual([1, 5, 3, 7, 1, 5, 3, 7, 1, 5, 3, 7]);
    parts.trend.forEach((v) => expect(v).toBeCloseTo(10 / 12, 10));
    expect(parts.residual[11]).toBeCloseTo(17 - 7 - 10 / 12, 10);
    expect(parts.residual[0]).toBeCloseTo(-10 / 12, 10);
  });

  it("series_decompose_anomalies flags the spike, scored on the residuals' fences (computed by hand)", () => {
    // Mean 13.8; residuals -3.8 (x5), -1.8 (x4), 26.2. p10 = -3.8, p90 = -1.8 + 0.1 * 28 = 1.0, range 4.8:
    // 26.2 scores (26.2 - 1.0) / 4.8 * 2.7726 = 14.556; -3.8 is not below p10, so scores 0.
    const [row] = q(`print y = dynamic([10, 12, 10, 12, 10, 12, 10, 12, 10, 40])
      | extend (flag, score, baseline) = series_decompose_anomalies(y, 1.5, 0, 'avg')`);
    expect(row.flag).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect((row.score as number[])[9]).toBeCloseTo((25.2 / 4.8) * 2.7726056, 4);
    expect((row.score as number[]).slice(0, 9)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    (row.baseline as number[]).forEach((v) => expect(v).toBeCloseTo(13.8, 10));
    const [strict] = q(
      `print y = dynamic([10, 12, 10, 12, 10, 12, 10, 12, 10, 40]) | extend (flag, score, baseline) = series_decompose_anomalies(y, 20, 0)`,
    );
    expect(strict.flag).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("unnamed, the three columns take Kusto's generated names", () => {
    expect(columnsOf(`print y = dynamic([1, 2, 3, 4]) | extend series_decompose_anomalies(y) | project-away y`)).toEqual([
      "series_decompose_anomalies_y_ad_flag:dynamic",
      "series_decompose_anomalies_y_ad_score:dynamic",
      "series_decompose_anomalies_y_baseline:dynamic",
    ]);
  });

  it("series_decompose_forecast extends the learnt line over the points held out", () => {
    // Learns 1..6 (a line y = x), forecasts the last two slots, whatever they hold.
    // Kusto's parser types the result as series_decompose's four columns; the name goes to the first, the baseline.
    const [row] = q(`print y = dynamic([1, 2, 3, 4, 5, 6, 0, 0]) | project f = series_decompose_forecast(y, 2, 0, 'linefit')`);
    (row.f as number[]).forEach((v, i) => expect(v).toBeCloseTo(i + 1, 10));
  });
});

describe("gap filling, filters, element-wise arithmetic", () => {
  it("series_fill_forward, _backward and _const: the documented examples", () => {
    const [row] =
      q(`print a = dynamic([null, null, 36, 41, null, null, 16, 61, 33, null, null]), b = dynamic([111, null, 36, 41, null, null, 16, 61, 33, null, null]),
      c = dynamic([111, null, 36, 41, 23, null, 16, 61, 33, null, null])
      | project f = series_fill_forward(a), g = series_fill_backward(b), h = series_fill_const(c, 0.0), i = series_fill_const(c, -1)`);
    expect(row.f).toEqual([null, null, 36, 41, 41, 41, 16, 61, 33, 33, 33]);
    expect(row.g).toEqual([111, 36, 36, 41, 16, 16, 16, 61, 33, null, null]);
    expect(row.h).toEqual([111, 0, 36, 41, 23, 0, 16, 61, 33, 0, 0]);
    expect(row.i).toEqual([111, -1, 36, 41, 23, -1, 16, 61, 33, -1, -1]);
  });

  it("series_fill_linear: the documented example's double row, with and without edges, and the all-null row", () => {
    const [row] =
      q(`print a = dynamic([null, 111.0, null, 36.0, 41.0, null, null, 16.0, 61.0, 33.0, null, null]), z = dynamic([null, null, null, null])
      | project e = series_fill_linear(a), w = series_fill_linear(a, double(null), false), z0 = series_fill_linear(z), zc = series_fill_linear(z, double(null), true, 3.14159)`);
    const expected = [111, 111, 73.5, 36, 41, 32.667, 24.333, 16, 61, 33, 33, 33];
    (row.e as number[]).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 3));
    expect((row.w as number[])[0]).toBeNull();
    expect((row.w as number[]).slice(10)).toEqual([null, null]);
    expect(row.z0).toEqual([0, 0, 0, 0]);
    expect(row.zc).toEqual([3.14159, 3.14159, 3.14159, 3.14159]);
  });

  it("series_iir with numerators [1] and denominators [1, -1] is a cumulative sum (documented), also inside a function", () => {
    expect(q(`print x = range(1.0, 4, 1) | project y = series_iir(x, dynamic([1]), dynamic([1, -1]))`)).toEqual([{ y: [1, 3, 6, 10] }]);
    const text = `let vector_sum = (x: dynamic) { let y = array_length(x) - 1; todouble(series_iir(x, dynamic([1]), dynamic([1, -1]))[y]) };
      print d = dynamic([0, 1, 2, 3, 4]) | extend dd = vector_sum(d)`;
    expect(q(text)).toEqual([{ d: [0, 1, 2, 3, 4], dd: 10 }]);
  });

  it("series_add and series_multiply broadcast a number; a missing element gives null (documented)", () => {
    expect(
      q(
        `print s1 = dynamic([1, 2, 4]), s2 = dynamic([4, 2, 1]) | project a = series_add(s1, s2), m = series_multiply(10, s1), d = series_subtract(s1, dynamic([1]))`,
      ),
    ).toEqual([{ a: [5, 4, 5], m: [10, 20, 40], d: [0, null, null] }]);
  });

  it("series_greater_equals and array_iff: the documented examples", () => {
    expect(
      q(`print c = dynamic([true, false, true]), t = dynamic([1, 2, 3]), f = dynamic([4, 5, 6]), n = dynamic([1, 0, 50])
        | project r = array_iff(c, t, f), s = array_iff(n, "yes", "no"), g = series_greater_equals(dynamic([1, 2, 3]), 2)`),
    ).toEqual([{ r: [1, 5, 3], s: ["yes", "no", "yes"], g: [false, true, true] }]);
  });

  it("range(start, stop, step) builds the array (documented: range(1, 8, 3) is [1, 4, 7])", () => {
    expect(q(`print r = range(1, 8, 3), d = range(datetime(2024-01-01), datetime(2024-01-01 02:00), 1h)`)).toEqual([
      { r: [1, 4, 7], d: ["2024-01-01T00:00:00.0000000Z", "2024-01-01T01:00:00.0000000Z", "2024-01-01T02:00:00.0000000Z"] },
    ]);
  });
});
