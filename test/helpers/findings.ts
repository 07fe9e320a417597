import type { Finding } from "../../lib/findings/finding.js";

/** A realistic finding for notifier tests; override what a test is about. */
export function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    fingerprint: "abcdefghijklmnop1234",
    huntId: "windows-logon-by-source-ip",
    huntTitle: "Windows network logon activity by source IP",
    runId: "windows-logon-by-source-ip.20241020T030000Z",
    severity: "high",
    score: 79,
    alert: true,
    entity: { type: "ip", key: "203.0.113.66", values: { IpAddress: "203.0.113.66" } },
    window: { start: "2024-10-20T02:00:00.000Z", end: "2024-10-20T03:00:00.000Z" },
    reasons: ["FailedCount 420 >= 100 (threshold)", "first time this ip is seen by this hunt"],
    signals: { threshold: 1, deviation: 0, rarity: 0, novelty: 1 },
    mitre: { tactics: ["Credential Access"], techniques: ["T1110", "T1110.003"] },
    entities: [{ type: "ip", value: "203.0.113.66" }],
    details: { FailedCount: 420 },
    source: "local",
    createdAt: "2024-10-20T03:01:00.000Z",
    ...overrides,
  };
}
