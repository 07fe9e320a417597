import { describe, expect, it } from "vitest";
import {
  applyObservation,
  applyPrevalence,
  isMember,
  mergeDistinct,
  median,
  PREVALENCE_CAP,
  robustZ,
  updateFeature,
} from "../../lib/baselines/model.js";
import { decodeKey, encodeKey } from "../../lib/state/keys.js";

describe("baseline arithmetic", () => {
  it("EWMA mean and variance with alpha 0.2", () => {
    const first = updateFeature(undefined, 10);
    expect(first).toEqual({ mean: 10, variance: 0, history: [10] });
    const second = updateFeature(first, 20);
    // mean 10 + 0.2 * 10 = 12; variance 0.8 * (0 + 0.2 * 100) = 16
    expect(second.mean).toBeCloseTo(12, 12);
    expect(second.variance).toBeCloseTo(16, 12);
    expect(second.history).toEqual([10, 20]);
  });

  it("keeps the last 30 values", () => {
    let state = updateFeature(undefined, 0);
    for (let i = 1; i < 40; i++) state = updateFeature(state, i);
    expect(state.history).toEqual(Array.from({ length: 30 }, (_, i) => i + 10));
  });

  it("robust z uses median and MAD with a floor on the scale", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    // history 2,4,4,4,5,5,7,9: median 4.5, MAD 0.5 -> scale max(0.74, 1, 0.45) = 1
    expect(robustZ(10.5, [2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(6, 12);
    // A constant history does not make a change of one infinite.
    expect(robustZ(4, [3, 3, 3])).toBe(1);
  });

  it("caps distinct sets and keeps the first values seen", () => {
    expect(mergeDistinct(["a"], ["b", "a", "c", "d"], 3)).toEqual(["a", "b", "c"]);
  });

  it("applies a window to an entity once", () => {
    const observation = {
      entityKey: "1.2.3.4",
      features: { FailedCount: 5 },
      distinct: { Users: ["a", "b"] },
      firstSeen: 1000,
      lastSeen: 2000,
    };
    const window = { start: 0, end: 3600_000 };
    const once = applyObservation("h", undefined, observation, window, { Users: 10 })!;
    expect(once.windows).toBe(1);
    expect(applyObservation("h", once, observation, window, { Users: 10 })).toBeUndefined();
    const next = applyObservation(
      "h",
      once,
      { ...observation, features: { FailedCount: 7 } },
      { start: 3600_000, end: 7200_000 },
      { Users: 10 },
    )!;
    expect(next.windows).toBe(2);
    expect(next.features.FailedCount.history).toEqual([5, 7]);
  });

  it("counts each entity once per value in prevalence", () => {
    const first = applyPrevalence("h", undefined, "1.2.3.4|445", ["ws1", "ws2"], 10)!;
    expect(first.count).toBe(2);
    const second = applyPrevalence("h", first, "1.2.3.4|445", ["ws2", "ws3"], 20)!;
    expect(second.count).toBe(3);
    expect(applyPrevalence("h", second, "1.2.3.4|445", ["ws9"], 20)).toBeUndefined();
  });

  it("remembers every entity that showed a value, past the names it keeps: a fleet showing it again adds nothing", () => {
    const fleet = Array.from({ length: 150 }, (_, i) => `ws-${i}.corp.example`);
    const first = applyPrevalence("h", undefined, "10.0.0.5|389", fleet, 10)!;
    expect([first.count, first.across.length, first.members.size]).toEqual([150, PREVALENCE_CAP, 150]);
    const again = applyPrevalence("h", first, "10.0.0.5|389", [...fleet].reverse(), 20)!;
    expect(again.count).toBe(150);
    expect(fleet.every((name) => isMember(again, name))).toBe(true);
    expect(applyPrevalence("h", again, "10.0.0.5|389", [...fleet, "ws-new.corp.example"], 30)!.count).toBe(151);
  });

  it("escapes characters Table Storage keys may not hold, reversibly", () => {
    const nasty = "CONTOSO\\alice/#?%\u0001\ttab";
    const key = encodeKey(nasty);
    expect(key).not.toMatch(/[/\\#?\p{Cc}]/u);
    expect(decodeKey(key)).toBe(nasty);
    const long = encodeKey("x".repeat(2000));
    expect(long.length).toBeLessThanOrEqual(512);
    expect(encodeKey("x".repeat(2000))).toBe(long);
    expect(encodeKey(`${"x".repeat(1999)}y`)).not.toBe(long);
  });
});
