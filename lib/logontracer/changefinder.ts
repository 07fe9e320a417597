/**
 * ChangeFinder (Takeuchi & Yamanishi): two-stage sequentially discounting AR (SDAR) learning with
 * smoothing, as released in the Python `changefinder` 0.03 package that LogonTracer calls with
 * `ChangeFinder(r=0.04, order=1, smooth=5)` (and the default term=30):
 *
 * - stage 1 scores each point by its log loss under an SDAR model of the last `term` points;
 * - the last `smooth` stage-1 scores are summed (a convolution with ones, not a mean);
 * - stage 2 runs SDAR over those sums; the last round(smooth / 2) stage-2 scores are summed
 *   again. Python 3 rounds half to even, so smooth=5 gives a second window of 2, not 3.
 *
 * Two deliberate differences: the Python code initialises each SDAR's mean and variance with
 * numpy.random.random() (so LogonTracer's scores vary run to run); here they start at 0.5, the
 * mean of that distribution, so scores are reproducible. And the log loss is computed in log space,
 * so a huge jump scores a large finite number where the Python expression would underflow.
 */

/** Python 3's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Levinson-Durbin recursion: AR coefficients a[0..order] (a[0] = 1) from autocovariances r. */
export function levinsonDurbin(r: readonly number[], order: number): number[] {
  const a = new Float64Array(order + 1);
  levinsonDurbinInto(r, order, a, new Float64Array(order + 1), new Float64Array(order + 1));
  return [...a];
}

/**
 * The recursion into `a`, with `e` and `next` as scratch (each of length order + 1): a model's
 * update runs it for every point of every series, and fresh arrays each time were most of the
 * hunt's allocation. Each step adds `lambda` times the reversed coefficients, as written out.
 */
function levinsonDurbinInto(r: ArrayLike<number>, order: number, a: Float64Array, e: Float64Array, next: Float64Array): void {
  a.fill(0);
  e.fill(0);
  a[0] = 1;
  a[1] = -r[1] / r[0];
  e[1] = r[0] + r[1] * a[1];
  for (let k = 1; k < order; k++) {
    let lambda = 0;
    for (let j = 0; j <= k; j++) lambda -= a[j] * r[k + 1 - j];
    lambda /= e[k];
    next[0] = 1 + lambda * 0;
    for (let i = 1; i <= k; i++) next[i] = a[i] + lambda * a[k + 1 - i];
    next[k + 1] = 0 + lambda * 1;
    a.set(next.subarray(0, k + 2));
    e[k + 1] = e[k] * (1 - lambda * lambda);
  }
}

export class Sdar {
  private mu = 0.5;
  private sigma = 0.5;
  private readonly c: number[];
  constructor(
    private readonly r: number,
    private readonly term: number,
    private readonly order: number,
  ) {
    this.c = new Array<number>(term + 1).fill(0);
    this.a = new Float64Array(order + 1);
    this.e = new Float64Array(order + 1);
    this.next = new Float64Array(order + 1);
  }

  /** The recursion's coefficients and scratch, reused point after point. */
  private readonly a: Float64Array;
  private readonly e: Float64Array;
  private readonly next: Float64Array;

  /** Updates the model with x given the preceding points, and returns x's log loss. */
  update(x: number, history: readonly number[]): number {
    const { r } = this;
    this.mu = (1 - r) * this.mu + r * x;
    for (let i = 1; i < this.term; i++) {
      this.c[i] = (1 - r) * this.c[i] + r * (x - this.mu) * (history[history.length - i] - this.mu);
    }
    this.c[0] = (1 - r) * this.c[0] + r * (x - this.mu) * (x - this.mu);
    const { a } = this;
    levinsonDurbinInto(this.c, this.order, a, this.e, this.next);
    let xhat = this.mu;
    for (let i = 1; i <= this.order; i++) xhat += -a[i] * (history[history.length - i] - this.mu);
    this.sigma = (1 - r) * this.sigma + r * (x - xhat) * (x - xhat);
    // -log N(x; xhat, sigma), written out so it cannot underflow.
    return (0.5 * (x - xhat) ** 2) / this.sigma + 0.5 * Math.log(2 * Math.PI * this.sigma);
  }
}

function pushBounded(values: number[], value: number, size: number) {
  values.push(value);
  if (values.length === size + 1) values.shift();
}

const sum = (values: readonly number[]) => values.reduce((s, v) => s + v, 0);

export interface ChangeFinderOptions {
  r?: number;
  order?: number;
  smooth?: number;
  term?: number;
}

/** LogonTracer's settings. */
export const LOGONTRACER_CHANGEFINDER: Required<ChangeFinderOptions> = { r: 0.04, order: 1, smooth: 5, term: 30 };

export class ChangeFinder {
  private readonly ts: number[] = [];
  private readonly firstScores: number[] = [];
  private readonly smoothedScores: number[] = [];
  private readonly secondScores: number[] = [];
  private readonly first: Sdar;
  private readonly second: Sdar;
  readonly smooth: number;
  readonly smooth2: number;
  readonly term: number;

  constructor(options: ChangeFinderOptions = {}) {
    const { r, order, smooth, term } = { ...{ r: 0.5, order: 1, smooth: 7, term: 30 }, ...options };
    if (smooth <= 2) throw new Error("smooth must be 3 or more");
    if (term <= smooth) throw new Error("term must be more than smooth");
    this.smooth = smooth;
    this.smooth2 = roundHalfEven(smooth / 2);
    this.term = term;
    this.first = new Sdar(r, term, order);
    this.second = new Sdar(r, term, order);
  }

  /** Feeds one point; returns its change-point score (0 while the model is still warming up). */
  update(x: number): number {
    if (this.ts.length === this.term) pushBounded(this.firstScores, this.first.update(x, this.ts), this.smooth);
    pushBounded(this.ts, x, this.term);
    // The Python code tests the sum's truthiness, so an exact 0 counts as "no target".
    const secondTarget = this.firstScores.length === this.smooth ? sum(this.firstScores) : undefined;
    if (secondTarget && this.smoothedScores.length === this.term) {
      pushBounded(this.secondScores, this.second.update(secondTarget, this.smoothedScores), this.smooth2);
    }
    if (secondTarget) pushBounded(this.smoothedScores, secondTarget, this.term);
    return this.secondScores.length === this.smooth2 ? sum(this.secondScores) : 0;
  }
}

/** Scores a whole series with LogonTracer's settings. */
export function changeFinderScores(series: readonly number[], options: ChangeFinderOptions = LOGONTRACER_CHANGEFINDER): number[] {
  const finder = new ChangeFinder(options);
  return series.map((x) => finder.update(x));
}

/** LogonTracer's score bands, lowest first. */
export const CHANGEPOINT_BANDS = [10, 13, 16, 17] as const;

export type ChangePointBand = "none" | "low" | "medium" | "high" | "critical";

export function changePointBand(score: number): ChangePointBand {
  if (score >= CHANGEPOINT_BANDS[3]) return "critical";
  if (score >= CHANGEPOINT_BANDS[2]) return "high";
  if (score >= CHANGEPOINT_BANDS[1]) return "medium";
  if (score >= CHANGEPOINT_BANDS[0]) return "low";
  return "none";
}
