import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runQuery, toJsonRecords } from "../../lib/kql/index.js";
import { loadLogs } from "../../lib/readers/index.js";
import { generateOrgLogs, SCENARIOS } from "../../lib/synth/org.js";
import { writeDataset } from "../../lib/synth/write.js";

describe("seeded org generator", () => {
  const logs = generateOrgLogs({ seed: 11, days: 7, users: 30, workstations: 30 });

  it("is deterministic for a seed and differs across seeds", () => {
    const again = generateOrgLogs({ seed: 11, days: 7, users: 30, workstations: 30 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(logs));
    const other = generateOrgLogs({ seed: 12, days: 7, users: 30, workstations: 30 });
    expect(JSON.stringify(other.tables.SecurityEvent.slice(0, 50))).not.toBe(JSON.stringify(logs.tables.SecurityEvent.slice(0, 50)));
  });

  it("labels every scenario with its entity and time", () => {
    expect([...new Set(logs.labels.map((l) => l.scenario))]).toEqual([...SCENARIOS]);
    for (const label of logs.labels) expect(Date.parse(label.end)).toBeGreaterThanOrEqual(Date.parse(label.start));
  });

  it("writes NDJSON the readers load back into every table, and the labels beside them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "synth-"));
    await writeDataset(dir, logs);
    const { tables, issues } = await loadLogs([join(dir, "logs")]);
    expect(issues).toEqual([]);
    for (const table of ["SecurityEvent", "SigninLogs", "AuditLogs", "DeviceNetworkEvents"]) {
      expect(tables[table].rows.length).toBe(logs.tables[table].length);
    }
    expect((JSON.parse(readFileSync(join(dir, "labels.json"), "utf8")) as { labels: unknown }).labels).toEqual(logs.labels);

    // Office hours and quiet weekends: most interactive logons land 08:00-11:00 UTC on weekdays.
    const byDay = toJsonRecords(
      runQuery(
        "SecurityEvent | where EventID == 4624 and LogonType == 2 | summarize n = count() by Weekday = dayofweek(TimeGenerated) / 1d",
        { tables },
      ).table,
    );
    const weekend = byDay.filter((r) => r.Weekday === 0 || r.Weekday === 6).reduce((n, r) => n + Number(r.n), 0);
    const weekday = byDay.filter((r) => r.Weekday !== 0 && r.Weekday !== 6).reduce((n, r) => n + Number(r.n), 0);
    expect(weekend * 5).toBeLessThan(weekday);

    // The injected brute force is visible to a plain query.
    const label = logs.labels.find((l) => l.scenario === "network-brute-force")!;
    const top = toJsonRecords(
      runQuery("SecurityEvent | where EventID == 4625 and LogonType == 3 | summarize Failed = count() by IpAddress | top 1 by Failed", {
        tables,
      }).table,
    );
    expect(top[0].IpAddress).toBe(label.entity);
    rmSync(dir, { recursive: true, force: true });
  });
});
