import { describe, expect, it } from "vitest";
import { applyPrevalence, prevalenceOf, type Baseline, type HuntState } from "../../lib/baselines/model.js";
import { findHunt } from "../../lib/hunts/catalog.js";
import { thresholdsOf } from "../../lib/hunts/schema.js";
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
  it("a met threshold alone scores 65 at its thresholds, up to 80 twice past them, and says which conditions held", () => {
    const at = (FailedCount: number, UserCount: number) =>
      scoreFinding({
        hunt: bruteForce,
        row: { FailedCount, SuccessCount: 0, UserCount },
        features: { FailedCount, UserCount },
        baseline: undefined,
        huntState: learning,
      });
    const s = at(100, 20);
    expect(s.score).toBe(65);
    expect(s.learning).toBe(true);
    expect(s.reasons).toContain("FailedCount 100 >= 100 (threshold)");
    expect(s.reasons).toContain("UserCount 20 >= 20 (threshold)");
    // Margin: the mean of log2(value / threshold), each capped at 1: (1 + log2 1.5) / 2 = 0.79; 100 x (0.65 + 0.15 x 0.79) = 76.9.
    expect(at(400, 30).score).toBe(77);
    expect(at(200, 40).score).toBe(80);
    expect(at(4000, 400).score).toBe(80);
    // An upper bound shapes what is reported (at most 10 successes) and adds no margin: a score never
    // drops as the successes fall, 0 included.
    const successes = (SuccessCount: number) =>
      scoreFinding({
        hunt: bruteForce,
        row: { FailedCount: 100, SuccessCount, UserCount: 20 },
        features: { FailedCount: 100, UserCount: 20 },
        baseline: undefined,
        huntState: learning,
      }).score;
    expect([0, 1, 5, 10].map(successes)).toEqual([65, 65, 65, 65]);
  });

  it("past the thresholds, the one passed further ranks higher where the deviation has saturated", () => {
    // Two accounts' busiest hours against the same history: 30 logons (a burst over 30 hosts) and 16.
    const changepoint = findHunt("logon-changepoint")!;
    const history = [4, 4, 3, 5, 4, 4, 2, 6];
    const account = (BusiestHour: number, MaxScore: number) =>
      scoreFinding({
        hunt: changepoint,
        // Both are new highs: the account's busiest hour of the days before was 6.
        row: { Account: "a", MaxScore, BusiestHour, BurstFactor: BusiestHour / 6 },
        features: { BusiestHour },
        baseline: { ...baseline([]), features: { BusiestHour: { mean: 4, variance: 1, history } } },
        huntState: learned,
      });
    const burst = account(30, 20.3);
    const justOver = account(16, 19.9);
    expect(burst.thresholdMet && justOver.thresholdMet).toBe(true);
    expect(burst.signals.deviation).toBeGreaterThan(0.99);
    expect(justOver.signals.deviation).toBeGreaterThan(0.94);
    expect(burst.score).toBeGreaterThan(justOver.score + 2);
  });

  it("a condition of either-of thresholds holds when one of them does, and names only those that held", () => {
    // A quiet account's burst: ChangeFinder stays under its top band on the sparse series, the burst dwarfs its past days.
    const changepoint = findHunt("logon-changepoint")!;
    const account = (MaxScore: number, BurstFactor: number, BusiestHour = 30) =>
      scoreFinding({
        hunt: changepoint,
        row: { Account: "a", MaxScore, BusiestHour, BurstFactor },
        features: { BusiestHour },
        baseline: undefined,
        huntState: learned,
      });
    const quietBurst = account(13, 5);
    expect(quietBurst.thresholdMet).toBe(true);
    expect(quietBurst.reasons).toContain("BurstFactor 5 >= 3 (threshold)");
    expect(quietBurst.reasons.some((r) => r.startsWith("MaxScore"))).toBe(false);
    // Five times its past also passes "at least 1.5 times": the stronger bound says so, once.
    expect(quietBurst.reasons.filter((r) => r.startsWith("BurstFactor"))).toEqual(["BurstFactor 5 >= 3 (threshold)"]);
    expect(account(20, 2).reasons).toEqual(expect.arrayContaining(["MaxScore 20 >= 17 (threshold)", "BurstFactor 2 >= 1.50 (threshold)"]));
    // Neither member holds; or both do, but another condition (a burst of at least 15 in an hour) does not.
    expect(account(13, 2).thresholdMet).toBe(false);
    expect(account(20, 8, 10).thresholdMet).toBe(false);
    // In the top band, but within the account's range of the past days: its routine.
    expect(account(20, 1.2).thresholdMet).toBe(false);
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
    const row = { FailedCount: 100, SuccessCount: 0, UserCount: 20 };
    const s = scoreFinding({
      hunt: bruteForce,
      row,
      features: { FailedCount: 100, UserCount: 20 },
      baseline: undefined,
      huntState: learned,
    });
    // threshold (at it) and novelty: 1 - (1 - 0.65)(1 - 0.4) = 0.79
    expect(s.score).toBe(79);
  });

  it("rarity is the surprise -log2 p as a share of the population's most, scaled by the row's weight", () => {
    const row = { DeviceName: "ws1", RemoteIP: "203.0.113.7", RemotePort: 5985, Connections: 3, PortWeight: 1 };
    const never = scoreFinding({
      hunt: rare,
      row,
      features: { Connections: 3 },
      baseline: undefined,
      huntState: learned,
      prevalence: { valueKey: "203.0.113.7|5985", stats: undefined, population: 40, inWindow: ["ws1"], across: "ws1" },
    });
    // No other device: p = 1/42, the most surprise 40 devices can show -> R = 1; with novelty 1 - (1 - 0.5)(1 - 0.4) = 0.7
    expect(never.signals.rarity).toBe(1);
    expect(never.score).toBe(70);
    expect(never.reasons).toContain("203.0.113.7|5985 seen on 0 other DeviceName of 40 (5.4 bits)");
    const common = scoreFinding({
      hunt: rare,
      row: { ...row, PortWeight: 0.6 },
      features: { Connections: 3 },
      baseline: undefined,
      huntState: learned,
      prevalence: {
        valueKey: "52.96.0.10|443",
        stats: prevalenceOf("x", "52.96.0.10|443", [], 38),
        population: 40,
      },
    });
    // 38 others: -log2(39/42) = 0.107 bits of 5.39 -> R = 0.0198 x 0.6; score 1 - (1 - 0.006)(1 - 0.4) = 40.4
    expect(common.signals.rarity).toBeCloseTo((-Math.log2(39 / 42) / Math.log2(42)) * 0.6, 6);
    expect(common.score).toBe(40);
  });

  it("rarity counts the current window: a value many entities show at once is not rare", () => {
    const row = { DeviceName: "ws1", RemoteIP: "198.51.100.80", RemotePort: 443, Connections: 3, PortWeight: 0.6 };
    // Two devices reach it in this window, nobody before: one other device.
    const two = scoreFinding({
      hunt: rare,
      row,
      features: { Connections: 3 },
      baseline: undefined,
      huntState: learned,
      prevalence: { valueKey: "198.51.100.80|443", stats: undefined, population: 40, inWindow: ["ws1", "ws2"], across: "ws1" },
    });
    expect(two.signals.rarity).toBeCloseTo((-Math.log2(2 / 42) / Math.log2(42)) * 0.6, 6);
    expect(two.fleetWide).toBeUndefined();
    // An update reaching every workstation in one window: a fleet-wide change, neither rare nor new for any one of them.
    const devices = Array.from({ length: 400 }, (_, i) => `ws${i}`);
    const rollout = scoreFinding({
      hunt: rare,
      row,
      features: { Connections: 3 },
      baseline: undefined,
      huntState: { ...learned, population: 401 },
      prevalence: { valueKey: "198.51.100.80|443", stats: undefined, population: 401, inWindow: devices, across: "ws1" },
    });
    expect(rollout).toMatchObject({ score: 0, fleetWide: true, signals: { rarity: 0, novelty: 0 } });
    expect(rollout.reasons).toEqual([
      "198.51.100.80|443 is a fleet-wide change: 400 DeviceName showed it for the first time in this window",
    ]);
  });

  it("infrastructure the whole fleet reached before is not a fleet-wide change when it reaches it again, however large the fleet", () => {
    const devices = Array.from({ length: 400 }, (_, i) => `ws${i}`);
    const known = applyPrevalence("x", undefined, "10.0.0.5|389", devices, 1)!;
    const again = scoreFinding({
      hunt: rare,
      row: { DeviceName: "ws399", RemoteIP: "10.0.0.5", RemotePort: 389, Connections: 30, PortWeight: 0.6 },
      features: { Connections: 30 },
      baseline: undefined,
      huntState: { ...learned, population: 400 },
      prevalence: { valueKey: "10.0.0.5|389", stats: known, population: 400, inWindow: devices, across: "ws399" },
    });
    expect(again.fleetWide).toBeFalsy();
    expect(again.signals.rarity).toBe(0);
  });

  it("a value this entity showed before is not rare for it", () => {
    const s = scoreFinding({
      hunt: rare,
      row: { DeviceName: "backup1", RemoteIP: "10.9.9.9", RemotePort: 445, Connections: 40, PortWeight: 1 },
      features: { Connections: 40 },
      baseline: { ...baseline([40, 41, 39]), features: { Connections: { mean: 40, variance: 1, history: [40, 41, 39] } } },
      huntState: learned,
      prevalence: {
        valueKey: "10.9.9.9|445",
        stats: prevalenceOf("x", "10.9.9.9|445", ["backup1"]),
        population: 40,
        inWindow: ["backup1"],
        across: "backup1",
      },
    });
    expect(s.signals.rarity).toBe(0);
    expect(s.score).toBeLessThan(25);
  });

  it("peers: a behaviour common among peers halves rarity; a rare one is named", () => {
    const hunt = { ...rare, peers: { value: ["InitiatingProcessFileName", "RemotePort"], across: ["DeviceName"] } };
    const row = { DeviceName: "ws1", InitiatingProcessFileName: "outlook.exe", RemoteIP: "52.1.1.1", RemotePort: 443, PortWeight: 1 };
    const prevalence = { valueKey: "52.1.1.1|443", stats: undefined, population: 40, inWindow: ["ws1"], across: "ws1" };
    const stats = (count: number) => prevalenceOf("x", "outlook.exe|443", ["ws1"], count);
    const common = scoreFinding({
      hunt,
      row,
      features: {},
      baseline: undefined,
      huntState: learned,
      prevalence,
      peers: { valueKey: "outlook.exe|443", stats: stats(39), population: 40, inWindow: ["ws1"], across: "ws1" },
    });
    // Peers: 38 others -> share 0.0198; R = 1 x (0.5 + 0.5 x 0.0198)
    expect(common.signals.rarity).toBeCloseTo(0.5 + 0.5 * (-Math.log2(39 / 42) / Math.log2(42)), 6);
    expect(common.reasons).toContain(
      "InitiatingProcessFileName/RemotePort outlook.exe|443 is common among peers: 38 other DeviceName of 40",
    );
    const odd = scoreFinding({
      hunt,
      row: { ...row, InitiatingProcessFileName: "powershell.exe", RemotePort: 5985 },
      features: {},
      baseline: undefined,
      huntState: learned,
      prevalence,
      peers: { valueKey: "powershell.exe|5985", stats: undefined, population: 40, inWindow: ["ws1"], across: "ws1" },
    });
    expect(odd.signals.rarity).toBe(1);
    expect(odd.reasons).toContain("InitiatingProcessFileName/RemotePort powershell.exe|5985 is rare among peers: 0 other DeviceName of 40");
    expect(odd.score).toBeGreaterThan(common.score);
  });

  it("a threshold met in most of the entity's recent windows, with no deviation, is usual: digest, not alert", () => {
    const row = { FailedCount: 150, SuccessCount: 0, UserCount: 25 };
    const history = [150, 140, 160, 150, 155];
    const steady: Baseline = {
      ...baseline(history),
      features: {
        FailedCount: { mean: 151, variance: 50, history },
        UserCount: { mean: 25, variance: 1, history: [24, 25, 26, 25, 25] },
      },
      thresholdHits: [1, 1, 1, 1, 0, 1, 1, 1, 1, 1],
    };
    const s = scoreFinding({ hunt: bruteForce, row, features: { FailedCount: 150, UserCount: 25 }, baseline: steady, huntState: learned });
    expect(s.digestOnly).toBe("usual for this ip: the threshold was met in 9 of its last 10 windows, with no deviation");
    expect(s.signals.threshold).toBe(0.25);
    // Margin (log2 1.5 + log2 1.25) / 2 = 0.45: 100 x (0.65 + 0.15 x 0.45) x 0.25 = 17.9
    expect(s.score).toBe(18);
    // The same entity, far above its usual: the threshold is not usual any more.
    const burst = scoreFinding({
      hunt: bruteForce,
      row: { ...row, FailedCount: 900 },
      features: { FailedCount: 900, UserCount: 25 },
      baseline: steady,
      huntState: learned,
    });
    expect(burst.digestOnly).toBeUndefined();
    expect(burst.signals.threshold).toBe(1);
    expect(burst.score).toBeGreaterThanOrEqual(65);
    // Met in only a few windows: a threshold hit alerts.
    const rare = scoreFinding({
      hunt: bruteForce,
      row,
      features: { FailedCount: 150, UserCount: 25 },
      baseline: { ...steady, thresholdHits: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] },
      huntState: learned,
    });
    expect(rare.digestOnly).toBeUndefined();
    // 100 x (0.65 + 0.15 x 0.45) = 71.8
    expect(rare.score).toBe(72);
  });

  it("thresholds read the parameters in force, and the reasons say so", () => {
    const row = { FailedCount: 60, SuccessCount: 0, UserCount: 25 };
    const s = scoreFinding({
      hunt: bruteForce,
      row,
      features: { FailedCount: 60, UserCount: 25 },
      baseline: undefined,
      huntState: learning,
      parameters: { ...bruteForce.parameters, FailedThreshold: 50 },
    });
    expect(s.thresholdMet).toBe(true);
    expect(s.reasons).toContain("FailedCount 60 >= 50 (threshold)");
  });

  it("a usual threshold alerts again only with a deviation of robust z 3 or more, not with a busy day's 2.4", () => {
    // A desktop-support admin: 23 to 36 hosts a day around a median of 27 (MAD 2.5 -> scale 3.7; 36 is z 2.4).
    const hunt = findHunt("logon-graph-rank")!;
    const history = [27, 24, 30, 26, 31, 23, 28, 33, 25, 27];
    const admin: Baseline = {
      ...baseline(history),
      features: { HostCount: { mean: 27, variance: 9, history } },
      thresholdHits: history.map(() => 1),
    };
    const busy = scoreFinding({ hunt, row: { HostCount: 36 }, features: { HostCount: 36 }, baseline: admin, huntState: learned });
    expect(busy.reasons.find((r) => r.startsWith("HostCount 36 is"))).toMatch(/is 2\.[0-9] robust z above its usual 27/);
    expect(busy.digestOnly).toMatch(/^usual for this account: the threshold was met in 10 of its last 10 windows/);
    const burst = scoreFinding({ hunt, row: { HostCount: 60 }, features: { HostCount: 60 }, baseline: admin, huntState: learned });
    expect(burst.digestOnly).toBeUndefined();
    expect(burst.score).toBeGreaterThan(hunt.alertScore);
  });

  it("an empty threshold cell is no number: it meets no condition, not even a <= one", () => {
    const spray = findHunt("password-spray-by-source")!;
    const conditions = thresholdsOf(spray.thresholds.conditions);
    const upper = conditions.find((c) => c.op === "<=" || c.op === "<");
    expect(upper).toBeDefined();
    const row = Object.fromEntries(conditions.map((c) => [c.column, c === upper ? null : 1_000]));
    const s = scoreFinding({ hunt: spray, row, features: {}, baseline: undefined, huntState: learning });
    expect(s.thresholdMet).toBe(spray.thresholds.match === "any");
    expect(s.reasons.some((r) => r.startsWith(`${upper!.column} `))).toBe(false);
  });

  it("a row the hunt expects (a new account's first-day trouble) goes to the digest, saying why", () => {
    const hunt = findHunt("failed-signins-with-audit")!;
    const row = { UserPrincipalName: "a@b.c", FailureRatio: 1, AuditChanges: 5, FailedCount: 8, IpCount: 1, NewAccount: 1 };
    const s = scoreFinding({ hunt, row, features: { FailedCount: 8, IpCount: 1 }, baseline: undefined, huntState: learned });
    expect(s.thresholdMet).toBe(true);
    expect(s.digestOnly).toMatch(/^expected: NewAccount 1 == 1, the account was created in the audit period/);
    expect(s.reasons).toContain(s.digestOnly);
    // Explained, every signal counts a quarter; the threshold's margin is (0 + 1) / 2 (FailureRatio at 1, AuditChanges 5 times 1):
    // 100 x (1 - (1 - 0.725 x 0.25)(1 - 0.4 x 0.25)) = 26.3, below a real takeover.
    expect(s.score).toBe(26);
    // The same failures and changes on an account that was not created in the period: a takeover put to use.
    const old = scoreFinding({
      hunt,
      row: { ...row, NewAccount: 0 },
      features: { FailedCount: 8, IpCount: 1 },
      baseline: undefined,
      huntState: learned,
    });
    expect(old.digestOnly).toBeUndefined();
    // Threshold (margin 0.5) and novelty: 100 x (1 - (1 - 0.725)(1 - 0.4)) = 83.5.
    expect(old.score).toBe(84);
  });

  it("a new value from a source that reaches new values in most of its windows is its habit: digest, unless more speaks for it", () => {
    const row = {
      DeviceName: "d1",
      InitiatingProcessFileName: "scan.exe",
      RemoteIP: "10.0.0.9",
      RemotePort: 445,
      PortWeight: 1,
      Connections: 1,
    };
    const prevalence = { valueKey: "10.0.0.9|445", stats: undefined, population: 40, inWindow: ["d1"], across: "d1" };
    const sourceBaseline = (hits: number[]): Baseline => ({ ...baseline([]), features: {}, thresholdHits: hits });
    const input = { hunt: rare, row, features: { Connections: 1 }, baseline: undefined, huntState: learned, prevalence };
    const habitual = scoreFinding({
      ...input,
      source: { label: "DeviceName/InitiatingProcessFileName d1|scan.exe", baseline: sourceBaseline([1, 1, 0, 1, 1, 1, 1, 0, 1, 1]) },
    });
    expect(habitual.digestOnly).toBe(
      "usual for DeviceName/InitiatingProcessFileName d1|scan.exe: it reached a new RemoteIP/RemotePort in 8 of its last 10 windows",
    );
    // Rarity and novelty are explained: each counts a quarter, 100 x (1 - (1 - 0.5 x 0.25)(1 - 0.4 x 0.25)) = 21.25.
    expect(habitual.signals).toMatchObject({ rarity: 0.25, novelty: 0.25 });
    expect(habitual.score).toBe(21);
    // A source that seldom reaches anything new (a workstation's PowerShell): the new value alerts.
    const seldom = scoreFinding({
      ...input,
      source: { label: "d1|powershell.exe", baseline: sourceBaseline([0, 0, 1, 0, 0, 0, 0, 0, 0, 0]) },
    });
    expect(seldom.digestOnly).toBeUndefined();
    // 100 x (1 - (1 - 0.5)(1 - 0.4)) = 70
    expect(seldom.score).toBe(70);
    // Too little history to call anything a habit.
    expect(scoreFinding({ ...input, source: { label: "d1|x", baseline: sourceBaseline([1, 1]) } }).digestOnly).toBeUndefined();
  });

  it("a new value is its behaviour's habit among peers when peers that practise it reach new values most windows: digest, unless it stands out", () => {
    // A browser on one device reaches a site no other device visits, as 40 other devices' browsers did in this window.
    const row = { DeviceName: "ws1", InitiatingProcessFileName: "msedge.exe", RemoteIP: "198.51.100.7", RemotePort: 443, PortWeight: 0.6 };
    const prevalence = { valueKey: "198.51.100.7|443", stats: undefined, population: 400, inWindow: ["ws1"], across: "ws1" };
    const browsers = Array.from({ length: 120 }, (_, i) => `ws${i + 1}`);
    const peers = {
      valueKey: "msedge.exe|443",
      stats: prevalenceOf("x", "msedge.exe|443", browsers, 120),
      population: 400,
      inWindow: browsers,
      across: "ws1",
    };
    const behaviour = (hits: number[]): Baseline => ({ ...baseline([]), features: {}, thresholdHits: hits });
    const newConnections = [1, 2, 1, 3, 1, 2, 1, 1, 4, 2, ...Array.from({ length: 31 }, () => 1)];
    // A visit to a site lasts minutes.
    const newMinutes = [0, 3, 1, 12, 0, 2, 0, 0, 25, 4, ...Array.from({ length: 31 }, () => 0)];
    const novelty = {
      label: "InitiatingProcessFileName/RemotePort msedge.exe|443",
      newAcross: 41,
      across: 120,
      features: { Connections: newConnections },
      activeMinutes: newMinutes,
      baseline: behaviour([1, 1, 1, 0, 1, 1, 1, 1, 0, 1]),
    };
    const input = {
      hunt: rare,
      row,
      features: { Connections: 1 },
      activeMinutes: 0,
      baseline: undefined,
      huntState: learned,
      prevalence,
      peers,
    };
    const alone = scoreFinding(input);
    expect(alone.digestOnly).toBeUndefined();
    expect(alone.score).toBeGreaterThanOrEqual(rare.alertScore);

    const usual = scoreFinding({ ...input, peerNovelty: novelty });
    expect(usual.digestOnly).toBe(
      "usual among peers: 40 other DeviceName of 120 with InitiatingProcessFileName/RemotePort msedge.exe|443 reached a value new to them in this window, as in 8 of its last 10 windows",
    );
    expect(usual.signals.rarity).toBeCloseTo(alone.signals.rarity * 0.25, 9);
    expect(usual.signals.novelty).toBe(0.25);
    expect(usual.score).toBeLessThan(rare.alertScore);

    // Not explained: too few peers reached anything new in this window, or seldom in the past, or the
    // device never ran the behaviour before (its first RDP client is not its admins' habit).
    expect(scoreFinding({ ...input, peerNovelty: { ...novelty, newAcross: 5 } }).digestOnly).toBeUndefined();
    expect(scoreFinding({ ...input, peerNovelty: { ...novelty, newAcross: 6, across: 120 } }).digestOnly).toBeUndefined();
    expect(
      scoreFinding({ ...input, peerNovelty: { ...novelty, baseline: behaviour([0, 0, 1, 0, 0, 1, 0, 0, 0, 1]) } }).digestOnly,
    ).toBeUndefined();
    const firstTimer = { ...peers, stats: prevalenceOf("x", "msedge.exe|443", browsers.slice(1), 119) };
    expect(scoreFinding({ ...input, peers: firstTimer, peerNovelty: novelty }).digestOnly).toBeUndefined();

    // A beacon through the same browser, every five minutes for 8 hours, where new sites are visited for minutes: not their
    // habit, so it scores as it would without it (and alerts).
    const beacon = scoreFinding({
      ...input,
      features: { Connections: 96 },
      activeMinutes: 475,
      peerNovelty: { ...novelty, features: { Connections: [...newConnections, 96] }, activeMinutes: [...newMinutes, 475] },
    });
    expect(beacon.digestOnly).toBeUndefined();
    expect(beacon.reasons).toContain(
      "active minutes 475 is more than 10 times the 2 that 9 in 10 new values of InitiatingProcessFileName/RemotePort msedge.exe|443 among peers stay within: not explained by a habit",
    );
    expect(beacon.score).toBe(alone.score);
    // Nor does its source's habit: a browser that reaches a new site most days still does not explain a beacon.
    const habitualSource = {
      label: "DeviceName/InitiatingProcessFileName ws1|msedge.exe",
      baseline: behaviour([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]),
    };
    expect(scoreFinding({ ...input, source: habitualSource }).digestOnly).toMatch(
      /^usual for DeviceName\/InitiatingProcessFileName ws1\|msedge.exe/,
    );
    const throughHabit = scoreFinding({
      ...input,
      source: habitualSource,
      activeMinutes: 475,
      peerNovelty: { ...novelty, activeMinutes: [...newMinutes, 475] },
    });
    expect(throughHabit.digestOnly).toBeUndefined();
    expect(throughHabit.score).toBe(alone.score);
    // Sessions of peers that last seconds or hours (an admin's consoles): a long one is within what they show.
    const sessions = [0, 0, 0, 0, 0, 240, 300, 420, 0, 0];
    const long = scoreFinding({ ...input, activeMinutes: 457, peerNovelty: { ...novelty, activeMinutes: [...sessions, 457] } });
    expect(long.digestOnly).toMatch(/^usual among peers/);
  });

  it("a threshold met on values the entity always shows, with no deviation, is nothing new: digest, not alert", () => {
    // A scanner's last minutes in a window of their own: few attempts on each of the accounts it always probes.
    const spray = findHunt("password-spray-by-source")!;
    const probes = ["guest", "administrator", "admin", "root", "test", "user"];
    const scanner: Baseline = {
      ...baseline([]),
      windows: 9,
      features: { FailedAccounts: { mean: 6, variance: 0, history: [6, 6, 6, 6, 6, 6, 6, 6, 6] } },
      distinct: { Accounts: probes },
      thresholdHits: [0, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    const row = { Source: "10.0.5.10", FailedAccounts: 5, AttemptsPerAccount: 1.2 };
    const input = { hunt: spray, row, features: { FailedAccounts: 5 }, baseline: scanner, huntState: learned };
    const tail = scoreFinding({ ...input, distinct: { Accounts: probes.slice(0, 5) } });
    expect(tail.digestOnly).toBe("nothing new for this host: its 5 Accounts were all seen in its earlier windows, with no deviation");
    expect(tail.score).toBeLessThan(spray.alertScore);
    // One account it never failed on before: the spray alerts.
    const fresh = scoreFinding({ ...input, distinct: { Accounts: [...probes.slice(0, 4), "j.smith"] } });
    expect(fresh.digestOnly).toBeUndefined();
    // FailedAccounts at its threshold; AttemptsPerAccount (an upper bound, 1.2 under its 3) adds no margin.
    expect(fresh.score).toBe(65);
    // Too little history to know what it always does.
    expect(
      scoreFinding({ ...input, baseline: { ...scanner, windows: 2 }, distinct: { Accounts: probes.slice(0, 5) } }).digestOnly,
    ).toBeUndefined();
  });
});
