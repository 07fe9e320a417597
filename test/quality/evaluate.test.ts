import { describe, expect, it } from "vitest";
import { findHunt } from "../../lib/hunts/catalog.js";
import { EVERYDAY_ACTIVITY, evaluate, qualityTotals, reasonPattern } from "../../lib/quality/evaluate.js";
import { MAX_FINDINGS_PER_RUN } from "../../lib/runs/runner.js";
import type { RunRecord } from "../../lib/runs/store.js";
import type { ScenarioLabel } from "../../lib/synth/org.js";
import type { PhenomenonLabel } from "../../lib/synth/phenomena.js";
import { finding } from "../helpers/findings.js";

const HUNT = findHunt("rare-device-connections")!;
const attackDay = { start: Date.parse("2024-10-21T00:00:00Z"), end: Date.parse("2024-10-22T00:00:00Z") };
const DAY_WINDOW = { start: "2024-10-21T00:00:00.000Z", end: "2024-10-22T00:00:00.000Z" };
const EARLIER = { start: "2024-10-20T00:00:00.000Z", end: "2024-10-21T00:00:00.000Z" };

function run(window: { start: string; end: string }, entities: number): RunRecord {
  return {
    runId: `${HUNT.id}.${window.end}`,
    huntId: HUNT.id,
    kind: "scheduled",
    status: "succeeded",
    window,
    source: "test",
    startedAt: window.end,
    rows: entities * 3,
    entities,
    findings: 0,
    alerts: 0,
    topFindings: [],
    skippedWindows: 0,
  };
}

function found(key: string, score: number, window = DAY_WINDOW, reasons = ["first time this device-connection is seen by this hunt"]) {
  return finding({ huntId: HUNT.id, entity: { type: "device-connection", key, values: {} }, score, alert: score >= 50, window, reasons });
}

const attack: ScenarioLabel = {
  scenario: "c2-beacon",
  hunt: HUNT.id,
  entityType: "device-connection",
  entity: "ws-1|rundll32.exe|192.0.2.44|443",
  start: "2024-10-21T09:00:00Z",
  end: "2024-10-21T15:00:00Z",
  description: "beacon",
  related: ["ws-1|rundll32.exe|192.0.2.45|443"],
};
const rollout: PhenomenonLabel = {
  phenomenon: "fleet-rollout",
  description: "rollout",
  parameters: { coverage: 1 },
  entities: ["ws-2|updater.exe|13.1.1.1|443", "ws-3|updater.exe|13.1.1.1|443"],
};
const browsing: PhenomenonLabel = {
  phenomenon: "browsing-long-tail",
  description: "browsing",
  parameters: {},
  entities: ["ws-4|msedge.exe"],
};

describe("attack-day quality", () => {
  const findings = [
    found(attack.entity, 67),
    found(attack.related![0], 90), // touched by the attack: neither found nor false
    found("ws-2|updater.exe|13.1.1.1|443", 67, DAY_WINDOW, [
      "first time this device-connection is seen by this hunt",
      "13.1.1.1|443 seen on 0 of 400 DeviceName before (8.6 bits)",
    ]),
    found("ws-3|updater.exe|13.1.1.1|443", 58),
    found("ws-4|msedge.exe|151.2.3.4|443", 55),
    found("ws-5|outlook.exe|52.96.0.10|443", 52),
    found("ws-6|teams.exe|52.1.1.1|443", 40), // below the alert score
    found("ws-7|svchost.exe|10.0.0.5|389", 99, EARLIER), // before the attack day
  ];
  const runs = [run(DAY_WINDOW, 2000), run(EARLIER, 1800)];
  const [quality] = evaluate([HUNT], [attack], findings, attackDay, { runs, phenomena: [rollout, browsing] });

  it("counts false alerts per 1,000 entity-windows the attack day's runs scored", () => {
    expect(quality.entityWindows).toBe(2000);
    expect(quality.falseAlerts).toBe(4);
    expect(quality.falseAlertsPer1000).toBe(2);
    expect(quality.cappedRuns).toBe(0);
    expect(qualityTotals([quality])).toMatchObject({ labels: 1, found: 1, entityWindows: 2000, falseAlerts: 4, falseAlertsPer1000: 2 });
  });

  it("ranks an attack behind every other entity scoring as high (ties count against it)", () => {
    // 90 (related) and 67 (rollout) score at least as high: rank 3, inside the top 5.
    expect(quality.labels).toEqual([{ scenario: "c2-beacon", entity: attack.entity, found: true, rank: 3, score: 67 }]);
    const crowded = [...findings, ...[1, 2, 3].map((i) => found(`ws-1${i}|updater.exe|13.1.1.1|443`, 67))];
    const [behind] = evaluate([HUNT], [attack], crowded, attackDay, { runs });
    expect(behind.labels[0]).toMatchObject({ found: false, rank: 6 });
  });

  it("traces each false alert to the phenomenon that produced it, with its reasons", () => {
    expect(quality.causes.map((c) => [c.cause, c.alerts])).toEqual([
      ["fleet-rollout", 2],
      ["browsing-long-tail", 1],
      [EVERYDAY_ACTIVITY, 1],
    ]);
    expect(quality.causes[0].reasons).toEqual([
      { reason: "first time this device-connection is seen by this hunt", count: 2 },
      { reason: "N|N seen on N of N DeviceName before (N bits)", count: 1 },
    ]);
    expect(quality.causes[0].example).toMatchObject({ entity: "ws-2|updater.exe|13.1.1.1|443", score: 67 });
    expect(reasonPattern("HostCount 31 >= 20 (threshold)")).toBe("HostCount N >= N (threshold)");
  });

  it("flags attack-day runs that kept as many findings as a run keeps (their lower scores were dropped)", () => {
    const full = { ...run(DAY_WINDOW, 9000), findings: MAX_FINDINGS_PER_RUN };
    expect(evaluate([HUNT], [attack], findings, attackDay, { runs: [full, run(EARLIER, 1800)] })[0].cappedRuns).toBe(1);
  });

  it("has no rate without runs", () => {
    const [bare] = evaluate([HUNT], [attack], findings, attackDay);
    expect(bare).toMatchObject({ entityWindows: 0, falseAlerts: 4, falseAlertsPer1000: 0 });
  });
});
