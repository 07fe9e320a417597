import { describe, expect, it } from "vitest";
import type { Baseline, HuntState } from "../../lib/baselines/model.js";
import { findHunt } from "../../lib/hunts/catalog.js";
import { scoreFinding } from "../../lib/scoring/index.js";

const bruteForce = findHunt("windows-logon-by-source-ip")!;
const rare = findHunt("rare-device-connections")!;
const learned: HuntState = { huntId: "x", windows: 10, lastWindowEnd: 0, population: 40 };
const learning: HuntState = { huntId: "x", windows: 1, lastWindowEnd: 0, population: 40 };

function baseline(history: number[]): Baseline {
  return {
    huntId: "x",
    entityKey: "e",
    windows: history.length,
    firstSeen: 0,
    lastSeen: 0,
    lastWindowEnd: 0,
    features: { FailedCount: { mean: 0, variance: 0, history }, UserCount: { mean: 0, variance: 0, history: history.map(() => 1) } },
    distinct: {},
  };
}

describe("scoring", () => {
  it("a met threshold alone scores 65 and says which conditions held", () => {
    const row = { FailedCount: 400, SuccessCount: 0, UserCount: 30 };
    const s = scoreFinding({
      hunt: bruteForce,
      row,
      features: { FailedCount: 400, UserCount: 30 },
      baseline: undefined,
      huntState: learning,
    });
    expect(s.score).toBe(65);
    expect(s.learning).toBe(true);
    expect(s.reasons).toContain("FailedCount 400 >= 100 (threshold)");
    expect(s.reasons).toContain("UserCount 30 >= 20 (threshold)");
  });

  it("during learning only thresholds count", () => {
    const row = { FailedCount: 50, SuccessCount: 0, UserCount: 2 };
    const s = scoreFinding({
      hunt: bruteForce,
      row,
      features: { FailedCount: 50, UserCount: 2 },
      baseline: undefined,
      huntState: learning,
    });
    expect(s.score).toBe(0);
  });

  it("novelty alone is 40; deviation follows 1 - exp(-z/4)", () => {
    const row = { FailedCount: 3, SuccessCount: 0, UserCount: 1 };
    expect(
      scoreFinding({ hunt: bruteForce, row, features: { FailedCount: 3, UserCount: 1 }, baseline: undefined, huntState: learned }).score,
    ).toBe(40);
    // history median 2, MAD 0 -> scale 1; x = 10 -> z = 8; D = 1 - e^-2 = 0.8647; score = 55 * D = 47.6 -> 48
    const s = scoreFinding({
      hunt: bruteForce,
      row: { ...row, FailedCount: 10 },
      features: { FailedCount: 10, UserCount: 1 },
      baseline: baseline([2, 2, 2, 2]),
      huntState: learned,
    });
    expect(s.score).toBe(48);
    expect(s.reasons[0]).toBe("FailedCount 10 is 8.0 robust z above its usual 2");
    // The "usual" named is the median z was measured from: (2 + 3) / 2 for an even history.
    // MAD of [1, 2, 3, 10] around 2.5 is 1 -> scale 1.4826; z = (20 - 2.5) / 1.4826 = 11.8.
    const even = scoreFinding({
      hunt: bruteForce,
      row: { ...row, FailedCount: 20 },
      features: { FailedCount: 20, UserCount: 1 },
      baseline: baseline([1, 2, 3, 10]),
      huntState: learned,
    });
    expect(even.reasons[0]).toBe("FailedCount 20 is 11.8 robust z above its usual 2.50");
  });

  it("signals combine as a noisy-or", () => {
    const row = { FailedCount: 400, SuccessCount: 0, UserCount: 30 };
    const s = scoreFinding({
      hunt: bruteForce,
      row,
      features: { FailedCount: 400, UserCount: 30 },
      baseline: undefined,
      huntState: learned,
    });
    // threshold and novelty: 1 - (1 - 0.65)(1 - 0.4) = 0.79
    expect(s.score).toBe(79);
  });

  it("rarity is -log2 p across the population, scaled by the row's weight", () => {
    const row = { DeviceName: "ws1", RemoteIP: "203.0.113.7", RemotePort: 5985, Connections: 3, PortWeight: 1 };
    const never = scoreFinding({
      hunt: rare,
      row,
      features: { Connections: 3 },
      baseline: undefined,
      huntState: learned,
      prevalence: { valueKey: "203.0.113.7|5985", stats: undefined, population: 40 },
    });
    // p = 1/42, 5.39 bits -> R = 0.898; with novelty: 1 - (1 - 0.449)(1 - 0.4) = 0.669
    expect(never.score).toBe(67);
    expect(never.signals.rarity).toBeCloseTo(Math.log2(42) / 6, 6);
    const common = scoreFinding({
      hunt: rare,
      row: { ...row, PortWeight: 0.6 },
      features: { Connections: 3 },
      baseline: undefined,
      huntState: learned,
      prevalence: {
        valueKey: "52.96.0.10|443",
        stats: { huntId: "x", valueKey: "52.96.0.10|443", across: [], count: 38, lastWindowEnd: 0 },
        population: 40,
      },
    });
    expect(common.score).toBeLessThan(50);
  });
});
