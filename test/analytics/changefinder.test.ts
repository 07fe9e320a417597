import { describe, expect, it } from "vitest";
import {
  ChangeFinder,
  changeFinderScores,
  changePointBand,
  levinsonDurbin,
  roundHalfEven,
  Sdar,
} from "../../lib/logontracer/changefinder.js";

describe("ChangeFinder as LogonTracer configures it", () => {
  it("rounds the second window half-to-even like Python 3: round(5/2) = 2", () => {
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    expect(roundHalfEven(2.4)).toBe(2);
    expect(new ChangeFinder({ r: 0.04, order: 1, smooth: 5 }).smooth2).toBe(2);
    expect(new ChangeFinder({ r: 0.04, order: 1, smooth: 7 }).smooth2).toBe(4);
  });

  it("Levinson-Durbin at order 1 is -r1/r0", () => {
    expect(levinsonDurbin([4, 2], 1)).toEqual([1, -0.5]);
  });

  it("warms up for term + smooth + term + smooth2 - 1 points before scoring", () => {
    // stage 1 needs 30 points of history; 5 stage-1 scores make the first sum (point 35); stage 2
    // needs 30 sums of history (point 65); 2 stage-2 scores make the first output (point 66).
    const scores = changeFinderScores(Array.from({ length: 80 }, (_, i) => 5 + (i % 3)));
    expect(scores.slice(0, 65).every((s) => s === 0)).toBe(true);
    expect(scores[65]).not.toBe(0);
  });

  it("sums its windows (smooth 5, then 2) rather than averaging them", () => {
    const series = Array.from({ length: 120 }, (_, i) => 3 + ((i * 7) % 5) + (i > 100 ? 20 : 0));
    // The same two stages composed by hand from the SDAR model, with sums over 5 and 2.
    const first = new Sdar(0.04, 30, 1);
    const second = new Sdar(0.04, 30, 1);
    const history: number[] = [];
    const firstScores: number[] = [];
    const sums: number[] = [];
    const secondScores: number[] = [];
    const expected: number[] = [];
    for (const x of series) {
      if (history.length === 30) firstScores.push(first.update(x, history));
      if (firstScores.length > 5) firstScores.shift();
      history.push(x);
      if (history.length > 30) history.shift();
      const target = firstScores.length === 5 ? firstScores.reduce((a, b) => a + b) : 0;
      if (target && sums.length === 30) secondScores.push(second.update(target, sums));
      if (secondScores.length > 2) secondScores.shift();
      if (target) sums.push(target);
      if (sums.length > 30) sums.shift();
      expected.push(secondScores.length === 2 ? secondScores[0] + secondScores[1] : 0);
    }
    expect(changeFinderScores(series)).toEqual(expected);
  });

  it("scores a jump in hourly logons far above the steady state, and in LogonTracer's top band", () => {
    const hourly: number[] = Array.from({ length: 24 * 7 }, (_, i) => (i % 24 >= 8 && i % 24 < 18 ? 6 : 1));
    const burstAt = hourly.length - 5;
    hourly[burstAt] = 180;
    const scores = changeFinderScores(hourly);
    const before = Math.max(...scores.slice(100, burstAt));
    const after = Math.max(...scores.slice(burstAt, burstAt + 3));
    expect(after).toBeGreaterThan(before * 2);
    expect(changePointBand(after)).toBe("critical");
    expect(changePointBand(before)).not.toBe("critical");
  });

  it("maps scores to LogonTracer's bands 10/13/16/17", () => {
    expect([9.9, 10, 13, 16, 17].map(changePointBand)).toEqual(["none", "low", "medium", "high", "critical"]);
  });
});
