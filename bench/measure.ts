import { performance } from "node:perf_hooks";

export type BenchSection = Record<string, unknown>;

/** Runs `fn` n times and keeps the fastest (least disturbed) run. */
export async function bestOf<T>(n: number, fn: () => T | Promise<T>): Promise<{ seconds: number; result: T }> {
  let best = Infinity;
  let result!: T;
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    result = await fn();
    best = Math.min(best, (performance.now() - started) / 1000);
  }
  return { seconds: Number(best.toFixed(4)), result };
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
