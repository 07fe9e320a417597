import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runQuery, toJsonRecords } from "../../lib/kql/index.js";
import { loadLogs } from "../../lib/readers/index.js";
import { createHash } from "node:crypto";
import { builtInHunts } from "../../lib/hunts/catalog.js";
import { ALL_SCENARIOS, generatedTables, generateOrgLogs, SCENARIOS } from "../../lib/synth/org.js";
import { PHENOMENA } from "../../lib/synth/phenomena.js";
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
    const written = JSON.parse(readFileSync(join(dir, "labels.json"), "utf8")) as { labels: unknown; phenomena: unknown };
    expect(written.labels).toEqual(logs.labels);
    expect(written.phenomena).toEqual(logs.phenomena);

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

describe("realistic profile", () => {
  const options = { seed: 5, days: 4, profile: "realistic", users: 300, workstations: 80 } as const;
  const logs = generateOrgLogs(options);
  const tables = generatedTables(logs);
  const query = (kql: string) => toJsonRecords(runQuery(kql, { tables, now: logs.end }).table);
  const attackDay = new Date(logs.end - 86_400_000).toISOString();
  const parameters = (l: typeof logs, name: string) => l.phenomena.find((p) => p.phenomenon === name)!.parameters;

  it("has its size by default: 1,500 users, 400 workstations, 10 servers and 2 DCs", () => {
    const day = generateOrgLogs({ seed: 1, days: 1, profile: "realistic", scenarios: [], phenomena: false });
    const t = generatedTables(day);
    const count = (kql: string) => Number(runQuery(kql, { tables: t }).table.rows[0][0]);
    expect(count("SigninLogs | summarize dcount(UserPrincipalName)")).toBeGreaterThanOrEqual(1500);
    expect(count("DeviceNetworkEvents | summarize dcount(DeviceName)")).toBe(412);
  });

  it("is deterministic for a seed, and the phenomena's proportions vary with it", () => {
    const digest = (l: typeof logs) => createHash("sha1").update(JSON.stringify(l)).digest("hex");
    expect(digest(generateOrgLogs(options))).toBe(digest(logs));
    const other = generateOrgLogs({ ...options, seed: 6 });
    const differing = PHENOMENA.filter((name) => JSON.stringify(parameters(other, name)) !== JSON.stringify(parameters(logs, name)));
    expect(differing.length).toBeGreaterThanOrEqual(PHENOMENA.length - 1);
  });

  it("labels every phenomenon with its parameters and the entities it may make a hunt report", () => {
    expect(logs.phenomena.map((p) => p.phenomenon)).toEqual([...PHENOMENA]);
    for (const p of logs.phenomena) {
      expect(p.entities.length, p.phenomenon).toBeGreaterThan(0);
      expect(Object.keys(p.parameters).length, p.phenomenon).toBeGreaterThan(0);
      expect(p.description.length).toBeGreaterThan(20);
    }
  });

  it("takes parameter overrides and leaves out a phenomenon set to false", () => {
    const tuned = generateOrgLogs({ ...options, days: 2, phenomena: { "fleet-rollout": { coverage: 0.5 }, scanners: false } });
    expect(parameters(tuned, "fleet-rollout").coverage).toBe(0.5);
    expect(tuned.phenomena.some((p) => p.phenomenon === "scanners")).toBe(false);
    expect(tuned.tables.DeviceNetworkEvents.some((r) => r.InitiatingProcessFileName === "nessusd.exe")).toBe(false);
  });

  it("labels at least eight attacks on the last day, covering every built-in hunt", () => {
    expect(new Set(logs.labels.map((l) => l.scenario)).size).toBe(ALL_SCENARIOS.length);
    expect(ALL_SCENARIOS.length).toBeGreaterThanOrEqual(8);
    for (const hunt of builtInHunts())
      expect(
        logs.labels.some((l) => l.hunt === hunt.id),
        hunt.id,
      ).toBe(true);
    for (const label of logs.labels) expect(label.start >= attackDay).toBe(true);
  });

  it("rolls an update out to most workstations on the attack day, to an endpoint never seen before", () => {
    const coverage = Number(parameters(logs, "fleet-rollout").coverage);
    const rows = logs.tables.DeviceNetworkEvents;
    const seenBefore = new Set(rows.filter((r) => String(r.TimeGenerated) < attackDay).map((r) => r.RemoteIP));
    const newEndpoints = new Map<unknown, Set<unknown>>();
    for (const r of rows.filter((r) => String(r.TimeGenerated) >= attackDay && !seenBefore.has(r.RemoteIP)))
      newEndpoints.set(r.RemoteIP, (newEndpoints.get(r.RemoteIP) ?? new Set()).add(r.DeviceName));
    const widest = Math.max(...[...newEndpoints.values()].map((devices) => devices.size));
    expect(widest).toBeGreaterThanOrEqual(Math.floor(80 * coverage * 0.8));
  });

  it("has forgotten passwords (failures, a lockout, a helpdesk reset) and password changes a phone keeps failing after", () => {
    const labelled = new Set(logs.phenomena.find((p) => p.phenomenon === "password-trouble")!.entities);
    const resets = query(
      `let Locked = SigninLogs | where ResultType == "50053" | summarize LockedAt = min(TimeGenerated) by Upn = tolower(UserPrincipalName);
       AuditLogs | where OperationName == "Reset user password" | mv-expand Target = TargetResources
       | extend Upn = tolower(tostring(Target.userPrincipalName)) | join kind=inner (Locked) on Upn
       | where TimeGenerated > LockedAt | distinct Upn`,
    );
    expect(resets.length).toBeGreaterThan(0);
    for (const r of resets) expect(labelled.has(r.Upn as string)).toBe(true);
    const changes = query(`AuditLogs | where OperationName == "Change user password" | count`);
    expect(Number(changes[0].Count)).toBeGreaterThan(0);
  });

  it("has printers that fail every hour in a spray's shape, and desktop admins on 20+ workstations every weekday", () => {
    const printers = query(
      `SecurityEvent | where EventID == 4625 and IpAddress startswith "10.2.0." | summarize Accounts = dcount(TargetUserName), Failures = count() by IpAddress, bin(TimeGenerated, 1h)`,
    );
    expect(printers.length).toBe(24 * options.days * Number(parameters(logs, "misconfigured-devices").printers));
    for (const hour of printers) {
      expect(Number(hour.Accounts)).toBeGreaterThanOrEqual(5);
      expect(Number(hour.Failures) / Number(hour.Accounts)).toBeLessThanOrEqual(3);
    }
    const admins = query(
      `SecurityEvent | where EventID == 4624 and TargetUserName startswith "adm_" | summarize Hosts = dcount(Computer) by TargetUserName, Day = bin(TimeGenerated, 1d)`,
    );
    expect(admins.length).toBeGreaterThan(0);
    for (const day of admins) expect(Number(day.Hosts)).toBeGreaterThanOrEqual(20);
  });

  it("uses real Windows status codes, Entra result codes and directory operations", () => {
    const values = (kql: string) => new Set(query(kql).map((r) => JSON.stringify(Object.values(r)[0]).replace(/^"|"$/g, "")));
    const subStatus = values("SecurityEvent | where EventID == 4625 | distinct SubStatus");
    const status = values("SecurityEvent | where EventID == 4625 | distinct Status");
    for (const code of ["0xc000006a", "0xc0000064", "0xc0000072"]) expect(subStatus).toContain(code);
    expect(status).toContain("0xc000015b");
    const results = values("SigninLogs | distinct ResultType");
    for (const code of ["0", "50126", "50074", "50076", "50140", "500121", "53003"]) expect(results).toContain(code);
    const operations = values("AuditLogs | distinct OperationName");
    for (const op of ["Add user", "Add member to group", "User registered security info", "Reset user password"])
      expect(operations).toContain(op);
    const processes = values("DeviceNetworkEvents | distinct InitiatingProcessFileName");
    for (const p of ["msedge.exe", "nessusd.exe", "TiWorker.exe", "w3wp.exe", "powershell.exe", "rundll32.exe"])
      expect(processes).toContain(p);
  });
});
