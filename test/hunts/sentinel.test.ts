import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { findHunt, huntCatalog, registerImportedHunts, validateHunt } from "../../lib/hunts/catalog.js";
import { parse as parseYaml } from "yaml";
import {
  frequencyToNcrontab,
  importSentinelHunts,
  loadSentinelFolder,
  sentinelDurationMs,
  sentinelToHunt,
} from "../../lib/hunts/sentinel.js";
import { runOnDemand, runScheduled, servicesFor } from "../../lib/runs/runner.js";
import { LocalSource } from "../../lib/sources/local.js";
import { generatedTables, generateOrgLogs } from "../../lib/synth/org.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const FIXTURES = fileURLToPath(new URL("../fixtures/sentinel/", import.meta.url));
const DAY = 86_400_000;

afterEach(() => registerImportedHunts([]));

const CORPUS = fileURLToPath(new URL("../fixtures/sentinel-corpus/", import.meta.url));

describe("Sentinel YAML loader on real repository files", () => {
  it("a hunting query without entityMappings takes its entity from the hunting view's *CustomEntity column, else one finding per row", async () => {
    const { hunts, issues } = await loadSentinelFolder(`${CORPUS}windows-security-events`);
    expect(issues.filter((i) => i.severity !== "note")).toEqual([]);
    const newLogons = hunts.find((h) => h.title === "Hosts with new logons")!;
    expect(newLogons.entity).toEqual({ type: "account", columns: ["AccountCustomEntity"] });
    const failures = hunts.find((h) => h.title === "Summary of failed user logons by reason of failure")!;
    expect(failures.entity).toEqual({ type: "host", columns: ["ResultRow"] });
    const table = failures.analyze!(
      { columns: [{ name: "Reason", type: "string" }], rows: [["Incorrect password"], ["Account is disabled"]] },
      { windowStart: 0, windowEnd: 1, contextStart: 0 },
    );
    expect(new Set(table.rows.map((r) => r[table.columns.findIndex((c) => c.name === "ResultRow")])).size).toBe(2);
  });

  it("an NRT rule loads and runs every minute over the last minute; fields without effect are noted once per file", async () => {
    const { hunts, issues } = await loadSentinelFolder(`${CORPUS}entra-id`);
    const nrt = hunts.find((h) => h.title.startsWith("NRT User added"))!;
    expect(nrt.schedule).toBe("0 */1 * * * *");
    expect(nrt.lookback).toBe("1m");
    expect(nrt.reference).toMatch(/^Sentinel NRT rule/);
    const notes = issues.filter((i) => i.severity === "note" && i.file.endsWith("NRT_UseraddedtoPrivilgedGroups.yaml"));
    expect(notes).toHaveLength(1);
    expect(notes[0].message).toMatch(/accepted without effect here: status, tags/);
  });

  it("a hunting query marked `kind: Hunting` loads as a hunting query (GitHub's)", async () => {
    const { hunts, issues } = await loadSentinelFolder(`${CORPUS}github`);
    expect(issues.filter((i) => i.severity !== "note")).toEqual([]);
    const hunt = hunts.find((h) => h.title === "GitHub First Time Invite Member and Add Member to Repo")!;
    expect(hunt.reference).toMatch(/^Sentinel hunting query f0d30d3c-e6ad-480a-90e8-1bd7cc84881b /);
  });

  it("a hunting query's schedule fields are read as a rule's are, and checked against the same limits", () => {
    const hunting = parseYaml(readFileSync(`${CORPUS}github/First Time User Invite and Add Member to Org.yaml`, "utf8")) as object;
    const withSchedule = (fields: object) => sentinelToHunt({ ...hunting, ...fields }, "h.yaml");
    expect(withSchedule({ queryFrequency: "1h", queryPeriod: "2d" }).hunt).toMatchObject({ schedule: "0 0 */1 * * *", context: "2d" });
    expect(
      withSchedule({ queryFrequency: "1m", queryPeriod: "30d", triggerThreshold: 50_000 })
        .issues.map((i) => i.field)
        .sort(),
    ).toEqual(["queryFrequency", "queryPeriod", "triggerThreshold"]);
    expect(
      withSchedule({ triggerOperator: "bogus", severity: "Critical" })
        .issues.map((i) => i.field)
        .sort(),
    ).toEqual(["severity", "triggerOperator"]);
  });

  it("two rules of one name (Palo Alto's beaconing rule and hunting query) both load, each with its Sentinel id's first characters", async () => {
    const { hunts, issues } = await loadSentinelFolder(`${CORPUS}palo-alto`);
    const pair = hunts.filter((h) => h.title === "Palo Alto - potential beaconing detected");
    expect(pair.map((h) => [h.id, h.reference!.split(" ")[3]])).toEqual([
      ["sentinel-palo-alto-potential-beaconing-detected-2f8522fc", "2f8522fc-7807-4f0a-b53d-458296edab8d"],
      ["sentinel-palo-alto-potential-beaconing-detected-f0be259a", "f0be259a-34ac-4946-aa15-ca2b115d5feb"],
    ]);
    expect(issues.filter((i) => i.severity !== "note")).toEqual([]);
    expect(issues.find((i) => i.file.endsWith("PaloAlto-NetworkBeaconing.yaml"))?.message).toMatch(
      /^2 rules in the folder have the name 'Palo Alto - potential beaconing detected': each loads with its Sentinel id's first characters, this one as hunt 'sentinel-palo-alto-potential-beaconing-detected-f0be259a'/,
    );
  });

  it("a rule's id does not depend on whether another file of its name loads, nor on the files' order", async () => {
    const rule = readFileSync(`${CORPUS}palo-alto/PaloAlto-NetworkBeaconing.yaml`, "utf8");
    const hunting = readFileSync(`${CORPUS}palo-alto/Palo Alto - potential beaconing detected.yaml`, "utf8");
    const idsIn = async (files: Record<string, string>) => {
      const dir = mkdtempSync(join(tmpdir(), "sentinel-names-"));
      try {
        for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
        return (await loadSentinelFolder(dir)).hunts.map((h) => h.id).sort();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const both = ["sentinel-palo-alto-potential-beaconing-detected-2f8522fc", "sentinel-palo-alto-potential-beaconing-detected-f0be259a"];
    expect(await idsIn({ "a.yaml": rule, "b.yaml": hunting })).toEqual(both);
    expect(await idsIn({ "a.yaml": hunting, "b.yaml": rule })).toEqual(both);
    // The hunting query broken: the rule keeps the id it has when both load.
    expect(await idsIn({ "a.yaml": hunting.replace(/^query:/m, "notquery:"), "b.yaml": rule })).toEqual([both[1]]);
  });

  it("the same rule twice (same Sentinel id, in any case) loads once, the copy reported by its id", async () => {
    const rule = readFileSync(`${CORPUS}palo-alto/PaloAlto-NetworkBeaconing.yaml`, "utf8");
    const dir = mkdtempSync(join(tmpdir(), "sentinel-copies-"));
    try {
      writeFileSync(join(dir, "a.yaml"), rule);
      writeFileSync(join(dir, "b.yaml"), rule.replace("f0be259a-34ac-4946-aa15-ca2b115d5feb", "F0BE259A-34AC-4946-AA15-CA2B115D5FEB"));
      const { hunts, issues } = await loadSentinelFolder(dir);
      expect(hunts.map((h) => h.id)).toEqual(["sentinel-palo-alto-potential-beaconing-detected"]);
      expect(issues.filter((i) => i.severity !== "note")).toEqual([
        {
          file: join(dir, "b.yaml"),
          field: "id",
          message:
            "id: another file already defines this rule (F0BE259A-34AC-4946-AA15-CA2B115D5FEB) as hunt 'sentinel-palo-alto-potential-beaconing-detected'",
        },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Sentinel YAML as the Azure-Sentinel repository writes it beyond its schema", () => {
  const rule = (extra: string) =>
    parseYaml(`id: 00000000-0000-0000-0000-000000000001
name: Account created and deleted
severity: High
queryFrequency: 1h
triggerOperator: gt
triggerThreshold: 0
kind: Scheduled
query: |
  AuditLogs | where OperationName =~ "Delete user"
${extra}`) as unknown;

  it("a duration followed by a // comment reads as the duration", () => {
    const { hunt, issues } = sentinelToHunt(rule("queryPeriod: 7d // increased to 7 days to mitigate timing-based bypasses"), "rule.yaml");
    expect(issues.filter((i) => i.severity !== "note")).toEqual([]);
    expect(hunt!.context).toBe("7d");
    expect(hunt!.lookback).toBe("1h");
    const bad = sentinelToHunt(rule("queryPeriod: soon // later"), "rule.yaml");
    expect(bad.issues.map((i) => i.message)).toEqual(["queryPeriod: 'soon' is not a duration like 5m, 1h or 1d"]);
  });

  it("the kind is read in any case: kind: scheduled is a scheduled rule", () => {
    const document = { ...(rule("queryPeriod: 2h") as object), kind: "scheduled" };
    const { hunt, issues } = sentinelToHunt(document, "rule.yaml");
    expect(issues.filter((i) => i.severity !== "note")).toEqual([]);
    expect(hunt!.reference).toMatch(/^Sentinel scheduled rule/);
    expect(hunt!.context).toBe("2h");
    expect(sentinelToHunt({ ...document, kind: "Hourly" }, "rule.yaml").issues[0].message).toMatch(/^kind: /);
  });

  it("a key left empty (alertDetailsOverride:, customDetails:) reads as absent", () => {
    const { hunt, issues } = sentinelToHunt(rule("queryPeriod: 1h\nalertDetailsOverride:\ncustomDetails:\nentityMappings:"), "rule.yaml");
    expect(issues.filter((i) => i.severity !== "note")).toEqual([]);
    expect(hunt!.titleFor).toBeUndefined();
    expect(sentinelToHunt({ ...(rule("queryPeriod: 1h") as object), severity: null }, "rule.yaml").issues.map((i) => i.field)).toEqual([
      "severity",
    ]);
  });

  it("a required data connector listed by its data types alone (no connectorId) loads; a connector that is not a list entry is still an error", () => {
    // As Hunting Queries/W3CIISLog/Potential_IIS_BF.yaml lists it.
    const document = parseYaml(`id: 934011da-1fe6-4507-aadb-d3914c877bcd
name: Potential IIS brute force
requiredDataConnectors:
  - dataTypes:
      - W3CIISLog
query: |
  W3CIISLog | where scStatus in ("401","403") | summarize ConnectionCount = count() by cIP`) as unknown;
    const { hunt, issues } = sentinelToHunt(document, "iis.yaml");
    expect(issues.filter((i) => i.severity !== "note")).toEqual([]);
    expect(hunt!.tables).toEqual(["W3CIISLog"]);
    const bad = sentinelToHunt({ ...(document as object), requiredDataConnectors: ["W3CIISLog"] }, "iis.yaml");
    expect(bad.hunt).toBeUndefined();
    expect(bad.issues.map((i) => i.field)).toEqual(["requiredDataConnectors.0"]);
  });

  it("a hunting query marked kind: Scheduled with no schedule loads as a hunting query, and says so in its one note", () => {
    const document = parseYaml(`id: a4dbc292-87eb-11ec-a8a3-0242ac120002
name: Decoy User Account Authentication Attempt
query: |
  SecurityEvent | where TargetUserName in ("DecoyUser1") | summarize StartTime = min(TimeGenerated) by Computer, TargetUserName
entityMappings:
  - entityType: Host
    fieldMappings:
      - identifier: HostName
        columnName: Computer
tags:
  - Deception
version: 2.0.1
kind: Scheduled`) as unknown;
    const { hunt, issues } = sentinelToHunt(document, "decoy.yaml");
    expect(hunt!.reference).toMatch(/^Sentinel hunting query a4dbc292/);
    expect(hunt!.entity).toEqual({ type: "host", columns: ["Computer"] });
    expect(issues).toHaveLength(1);
    expect(issues[0].severity).toBe("note");
    expect(issues[0].message).toMatch(
      /^kind: Scheduled without queryFrequency, queryPeriod, triggerOperator, triggerThreshold: loaded as a hunting query; /,
    );
    expect(issues[0].message).toMatch(/tags/);
    // A rule with part of a schedule is still a rule, and still says what it lacks.
    const partial = sentinelToHunt({ ...(document as object), queryFrequency: "1h" }, "partial.yaml");
    expect(partial.hunt).toBeUndefined();
    expect(partial.issues.map((i) => i.field)).toContain("queryPeriod");
  });
});

describe("Sentinel YAML loader", () => {
  it("loads hunting queries and scheduled rules, and reports each malformed file by field, without stopping", async () => {
    const { hunts, issues } = await loadSentinelFolder(FIXTURES);
    expect(hunts.map((h) => h.id).sort()).toEqual([
      "sentinel-failed-sign-ins-by-account-with-available-auditdata",
      "sentinel-rdp-logon-failures-by-source-address",
      "sentinel-winrm-connections-from-unusual-processes",
    ]);
    const byFile = (name: string) => issues.filter((i) => i.file.endsWith(name)).map((i) => i.message);
    expect(byFile("too-frequent.yaml")).toEqual(["queryFrequency: '1m' is outside Sentinel's range of 5 minutes to 14 days"]);
    expect(byFile("period-shorter.yaml").sort()).toEqual([
      "queryPeriod: must be at least queryFrequency (1d)",
      "triggerThreshold: Too big: expected number to be <=10000",
    ]);
    expect(byFile("too-many-entities.yaml")).toEqual(["entityMappings: at most 10 entity mappings"]);
    expect(byFile("too-many-identifiers.yaml")).toEqual(["entityMappings.0.fieldMappings: at most 3 identifiers per entity mapping"]);
    expect(byFile("not-yaml.yaml")[0]).toMatch(/^not valid YAML/);
    expect(byFile("no-query.yaml")).toEqual(["query: Invalid input: expected string, received undefined"]);
  });

  it("maps rule fields: frequency to schedule, period to context, trigger to a threshold, entities, MITRE, severity", async () => {
    const { hunts } = await loadSentinelFolder(FIXTURES);
    const rule = hunts.find((h) => h.id.startsWith("sentinel-failed"))!;
    expect(rule).toMatchObject({
      schedule: "0 0 0 * * *",
      lookback: "1d",
      context: "7d",
      severity: "medium",
      tables: ["SigninLogs", "AuditLogs"],
      entity: { type: "account", columns: ["UserPrincipalName"] },
      mitre: { tactics: ["Credential Access", "Initial Access"], techniques: ["T1110", "T1078.004"] },
      thresholds: { match: "all", conditions: [{ column: "ResultCount", op: ">", value: 0 }] },
    });
    const winrm = hunts.find((h) => h.id.startsWith("sentinel-winrm"))!;
    expect(winrm.entity.columns).toEqual(["Rule"]);
    expect(winrm.sources).toContain("defender-xdr");
    expect(frequencyToNcrontab(5 * 60_000)).toBe("0 */5 * * * *");
    expect(frequencyToNcrontab(6 * 3_600_000)).toBe("0 0 */6 * * *");
    expect(sentinelDurationMs("PT1H")).toBe(3_600_000);
    expect(sentinelDurationMs("P1D")).toBe(DAY);
  });

  it("imported hunts pass the official parser against the schemas (placeholders filled)", async () => {
    const { hunts } = await importSentinelHunts(FIXTURES);
    expect(huntCatalog().length).toBe(6 + hunts.length);
    for (const hunt of hunts) expect(validateHunt(hunt), hunt.id).toEqual([]);
  });

  it("the seed's failed sign-in rule, as YAML, flags the same accounts as the built-in hunt", async () => {
    const logs = generateOrgLogs({ seed: 42, days: 7 });
    const tables = generatedTables(logs);
    const { hunts } = await importSentinelHunts(FIXTURES);
    const imported = hunts.find((h) => h.id.startsWith("sentinel-failed"))!;
    const builtIn = findHunt("failed-signins-with-audit")!;
    const window = { start: logs.end - DAY, end: logs.end };
    const viaYaml = await runOnDemand(
      imported,
      servicesFor(await freshStorage(azurite()), new LocalSource(tables)),
      { window, dryRun: true },
      window.end,
    );
    const viaCode = await runOnDemand(
      builtIn,
      servicesFor(await freshStorage(azurite()), new LocalSource(tables)),
      { window, dryRun: true },
      window.end,
    );
    const alerting = (fs: typeof viaCode.findings) =>
      fs
        .filter((f) => f.alert)
        .map((f) => f.entity.key)
        .sort();
    expect(alerting(viaYaml.findings)).toEqual(["victor.young@contoso.com"]);
    expect(alerting(viaYaml.findings)).toEqual(alerting(viaCode.findings));
    const [f] = viaYaml.findings;
    expect(f.huntTitle).toBe("victor.young@contoso.com failed 24 sign-ins from 4 IPs");
    expect(f.details).toMatchObject({ FailedCount: 24, IpCount: 4, AuditChanges: 2 });
  });

  it("imported hunts run on schedule through the generic path, with baselines keyed by their entity mapping", async () => {
    const logs = generateOrgLogs({ seed: 42, days: 3 });
    const tables = generatedTables(logs);
    const { hunts } = await importSentinelHunts(FIXTURES);
    const rdp = hunts.find((h) => h.id.startsWith("sentinel-rdp"))!;
    const services = servicesFor(await freshStorage(azurite()), new LocalSource(tables));
    const result = await runScheduled(rdp, services, logs.end + 60_000);
    expect(result.runs.length).toBe(1);
    expect(result.findings.map((f) => f.entity.key)).toContain("203.0.113.66");
    expect((await services.baselines.getBaselines(rdp.id, ["203.0.113.66"])).get("203.0.113.66")!.windows).toBe(1);
  });
});
