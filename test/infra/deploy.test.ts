/**
 * `azd up`, the generated schedule settings, and hunt health (workbook and alert rules). The
 * Bicep compiler cannot run here, so the Bicep is read as text; the KQL it loads is real KQL,
 * checked by the official Kusto parser and run by the local engine on run logs made here.
 */
import { InvocationContext } from "@azure/functions";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { invocationLogger } from "../../functions/handlers.js";
import { builtInHunts, scheduleSettingName } from "../../lib/hunts/catalog.js";
import { runQuery, validateQuery } from "../../lib/kql/engine.js";
import type { Column, Row } from "../../lib/kql/types.js";
import { tableToObjects } from "../../lib/kql/types.js";
import { datetimeFromMs, datetimeToMs } from "../../lib/kql/values.js";
import { BICEPPARAM_END, generatedBicepParam, generatedLocalSettings, scheduleDefaults } from "../../lib/settings-files.js";
import { logRun } from "../../lib/runs/runner.js";
import type { RunRecord } from "../../lib/runs/store.js";
import { SettingsSchema } from "../../lib/settings.js";

const file = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const functionApp = file("infra/modules/functionapp.bicep");
const huntHealth = file("infra/modules/hunt-health.bicep");
const main = file("infra/main.bicep");

describe("schedule settings are generated from the hunt catalog (npm run gen:settings)", () => {
  it("infra/main.bicepparam and local.settings.sample.json are what the generator writes", () => {
    expect(file("infra/main.bicepparam")).toBe(generatedBicepParam(file("infra/main.bicepparam")));
    expect(file("local.settings.sample.json")).toBe(generatedLocalSettings(file("local.settings.sample.json")));
  });

  it("a drifted schedule, a missing hunt or a schedule of no hunt is put right", () => {
    const [first] = builtInHunts();
    const bicepparam = file("infra/main.bicepparam");
    const drifted = bicepparam.replace(`'${first.schedule}')`, "'0 0 0 * * *')");
    expect(drifted).not.toBe(bicepparam);
    expect(generatedBicepParam(drifted)).toBe(bicepparam);
    const sample = JSON.parse(file("local.settings.sample.json")) as { Values: Record<string, string> };
    const { [scheduleSettingName(first.id)]: removed, ...rest } = sample.Values;
    expect(removed).toBe(first.schedule);
    const stale = JSON.stringify({ ...sample, Values: { ...rest, HUNT_RETIRED_HUNT_SCHEDULE: "0 0 * * * *" } }, null, 2);
    const regenerated = JSON.parse(generatedLocalSettings(stale)) as { Values: Record<string, string> };
    expect(regenerated.Values).not.toHaveProperty("HUNT_RETIRED_HUNT_SCHEDULE");
    expect(regenerated.Values[scheduleSettingName(first.id)]).toBe(first.schedule);
    expect(() => generatedBicepParam(bicepparam.replace(BICEPPARAM_END, ""))).toThrow(/no .* section/);
  });

  it("the fixed schedules in infra are the settings' defaults", () => {
    const defaults = Object.fromEntries(scheduleDefaults());
    expect(defaults.DIGEST_SCHEDULE).toBe(SettingsSchema.shape.DIGEST_SCHEDULE.parse(undefined));
    expect(functionApp).toContain(`{ name: 'IMPORTED_HUNTS_SCHEDULE', value: '${defaults.IMPORTED_HUNTS_SCHEDULE}' }`);
    expect(functionApp).toContain(`{ name: 'RETENTION_SCHEDULE', value: '${defaults.RETENTION_SCHEDULE}' }`);
    expect(main).toMatch(/^param digestSchedule string$/m);
  });
});

describe("azd up", () => {
  const azure = parseYaml(file("azure.yaml")) as {
    name: string;
    infra: { provider: string; path: string; module: string };
    services: Record<string, { project: string; language: string; host: string }>;
  };

  it("azure.yaml provisions infra/main.bicep and deploys one Functions service, the app tagged with its name", () => {
    expect(azure.infra).toEqual({ provider: "bicep", path: "infra", module: "main" });
    expect(existsSync(new URL(`../../${azure.infra.path}/${azure.infra.module}.bicep`, import.meta.url))).toBe(true);
    expect(existsSync(new URL(`../../${azure.infra.path}/${azure.infra.module}.bicepparam`, import.meta.url))).toBe(true);
    const services = Object.entries(azure.services);
    expect(services).toHaveLength(1);
    const [[name, service]] = services;
    expect(service).toMatchObject({ host: "function", language: "ts" });
    const pkg = JSON.parse(file(`${service.project}/package.json`)) as { main: string; scripts: Record<string, string> };
    expect(pkg.scripts.build).toBeDefined();
    expect(pkg.main).toBe("dist/functions/index.js");
    expect(functionApp).toContain(`param serviceName string = '${name}'`);
    expect(functionApp).toMatch(
      /resource app 'Microsoft\.Web\/sites@[^']+' = \{\n {2}name: name\n {2}location: location\n(?: {2}\/\/.*\n)? {2}tags: \{ 'azd-service-name': serviceName \}/,
    );
  });

  it("every environment variable main.bicepparam reads is named in azure.yaml's instructions or is a schedule setting", () => {
    const read = [...file("infra/main.bicepparam").matchAll(/readEnvironmentVariable\('([^']+)'/g)].map((m) => m[1]);
    const documented = file("azure.yaml");
    for (const name of read) if (!/_SCHEDULE$/.test(name)) expect(documented, name).toContain(name);
  });
});

/** Application Insights' traces table, as far as the queries use it. */
const TRACES: Column[] = [
  { name: "timestamp", type: "datetime" },
  { name: "message", type: "string" },
  { name: "severityLevel", type: "int" },
  { name: "customDimensions", type: "dynamic" },
];
const RUN_LOG_PROPERTIES = [
  "huntId",
  "runId",
  "status",
  "partial",
  "windowStart",
  "windowEnd",
  "rows",
  "entities",
  "findings",
  "alerts",
  "durationMs",
];

/** The query text a rule or workbook step gets, as hunt-health.bicep assembles it. */
function huntHealthQuery(name: string, huntIds: string[] = builtInHunts().map((h) => h.id)): string {
  const prelude = file("infra/queries/hunt-runs.kql");
  return `${prelude}\n${file(`infra/queries/${name}.kql`).replaceAll("__HUNT_IDS__", JSON.stringify(huntIds))}`;
}

const HOUR = 3_600_000;
const NOW = Date.parse("2024-10-21T12:00:00Z");

const SEVERITY = { information: 1, warning: 2, error: 3 } as Record<string, number>;

/**
 * One run-log trace as the Functions host stores it: `message` is the text the app's own code
 * wrote for the run (logRun through the invocation's logger), and customDimensions hold only the
 * host's fields, none of the run's.
 */
function runTrace(huntId: string, at: number, status: "succeeded" | "failed", partial = false, error = "query timed out"): Row {
  const run: RunRecord = {
    runId: `${huntId}.${new Date(at).toISOString()}`,
    huntId,
    kind: "scheduled",
    status,
    window: { start: new Date(at - HOUR).toISOString(), end: new Date(at).toISOString() },
    source: "log-analytics",
    startedAt: new Date(at).toISOString(),
    rows: 120,
    entities: 8,
    findings: status === "failed" ? 0 : 2,
    alerts: status === "failed" ? 0 : 1,
    topFindings: [],
    skippedWindows: 0,
    ...(partial ? { partial: "DeviceNetworkEvents: workspace law-2 did not answer" } : {}),
    ...(status === "failed" ? { error } : {}),
  };
  const logged: Row[] = [];
  const invocationId = `inv-${at}`;
  const context = new InvocationContext({
    invocationId,
    functionName: `hunt-${huntId}`,
    logHandler: (level, ...args) =>
      logged.push([
        at,
        args.map(String).join(" "),
        SEVERITY[level],
        { Category: `Function.hunt-${huntId}.User`, LogLevel: level, InvocationId: invocationId },
      ]),
  });
  logRun(run, invocationLogger(context), 1830.5);
  expect(logged).toHaveLength(1);
  return logged[0];
}

/** Runs a query over traces whose rows (and whose answers here) hold times as JS milliseconds; the engine holds ticks. */
function run(name: string, rows: Row[], huntIds?: string[]) {
  const traces = { columns: TRACES, rows: rows.map(([at, ...rest]) => [datetimeFromMs(at as number), ...rest]) };
  const { columns, rows: answer } = runQuery(huntHealthQuery(name, huntIds), { tables: { traces }, now: NOW }).table;
  const inMs = answer.map((r) => r.map((v, i) => (columns[i].type === "datetime" && typeof v === "number" ? datetimeToMs(v) : v)));
  return tableToObjects({ columns, rows: inMs });
}

describe("hunt health: a workbook and alert rules over the run log", () => {
  const files = [...huntHealth.matchAll(/loadTextContent\('\.\.\/queries\/([^']+)\.kql'\)/g)].map((m) => m[1]);

  it("the module documents the run log contract and the prelude reads exactly those properties", () => {
    for (const property of RUN_LOG_PROPERTIES) expect(huntHealth).toMatch(new RegExp(`^//\\s+${property}\\s`, "m"));
    // The alerts count run logs: Application Insights must not sample them away.
    const host = JSON.parse(file("host.json")) as { logging: { applicationInsights: { samplingSettings: { excludedTypes: string } } } };
    expect(host.logging.applicationInsights.samplingSettings.excludedTypes.split(";")).toContain("Trace");
    const read = new Set([...file("infra/queries/hunt-runs.kql").matchAll(/\brun\.(\w+)/g)].map((m) => m[1]));
    expect([...read].sort()).toEqual([...RUN_LOG_PROPERTIES].sort());
  });

  it("every query the module loads exists and passes the official Kusto parser against the traces table", () => {
    expect(files).toEqual(
      expect.arrayContaining(["hunt-runs", "failing-hunts", "stopped-hunts", "workbook-last-runs", "workbook-failures"]),
    );
    for (const name of files.filter((f) => f !== "hunt-runs")) {
      const errors = validateQuery(huntHealthQuery(name), { traces: TRACES }).filter((d) => d.severity === "error");
      expect(errors, name).toEqual([]);
    }
  });

  it("main.bicep wires the module to Application Insights with the deployed hunt ids; two rules and a workbook", () => {
    expect(main).toMatch(/module huntHealth 'modules\/hunt-health\.bicep'/);
    expect(main).toMatch(/appInsightsId: monitoring\.outputs\.id/);
    expect(main).toMatch(/huntIds: map\(items\(schedules\), s => s\.key\)/);
    expect(file("infra/modules/monitoring.bicep")).toMatch(/^output id string = insights\.id$/m);
    expect([...huntHealth.matchAll(/resource \w+ 'Microsoft\.Insights\/scheduledQueryRules@/g)]).toHaveLength(2);
    expect(huntHealth).toMatch(/resource workbook 'Microsoft\.Insights\/workbooks@/);
    expect(huntHealth).toMatch(/metricMeasureColumn: 'consecutiveFailures'/);
    expect(huntHealth).toContain("replace(loadTextContent('../queries/stopped-hunts.kql'), '__HUNT_IDS__', string(huntIds))");
  });

  it("the failing rule counts failures since a hunt's last success, per hunt", () => {
    const rows = [
      // Failed three times in a row after a success: alerts at threshold 3.
      runTrace("password-spray-by-source", NOW - 5 * HOUR, "succeeded"),
      runTrace("password-spray-by-source", NOW - 3 * HOUR, "failed"),
      runTrace("password-spray-by-source", NOW - 2 * HOUR, "failed"),
      runTrace("password-spray-by-source", NOW - 1 * HOUR, "failed"),
      // Failed twice, then recovered: its failures are history.
      runTrace("windows-logon-by-source-ip", NOW - 4 * HOUR, "failed"),
      runTrace("windows-logon-by-source-ip", NOW - 3 * HOUR, "failed"),
      runTrace("windows-logon-by-source-ip", NOW - 2 * HOUR, "succeeded", true),
      // Never succeeded in the window.
      runTrace("logon-changepoint", NOW - 6 * HOUR, "failed"),
      // Not a run log line.
      [NOW, "host started", 1, { category: "Host" }],
    ];
    const failing = Object.fromEntries(run("failing-hunts", rows).map((r) => [r.huntId as string, r.consecutiveFailures]));
    expect(failing).toEqual({ "password-spray-by-source": 3, "logon-changepoint": 1 });
  });

  it("the stopped rule flags a hunt silent for over twice its usual gap, and a deployed hunt never seen after a day of logs", () => {
    const hourly = (huntId: string, lastAt: number) =>
      Array.from({ length: 10 }, (_, i) => runTrace(huntId, lastAt - i * HOUR, "succeeded"));
    const rows = [
      ...hourly("windows-logon-by-source-ip", NOW - 0.5 * HOUR), // on time
      ...hourly("password-spray-by-source", NOW - 3 * HOUR), // three hours silent: stopped
      runTrace("logon-changepoint", NOW - 20 * HOUR, "succeeded"), // daily, ran 20 h ago: fine
      [NOW - 30 * HOUR, "host started", 1, { category: "Host" }],
    ];
    const ids = ["windows-logon-by-source-ip", "password-spray-by-source", "logon-changepoint", "logon-graph-rank"];
    const stopped = run("stopped-hunts", rows, ids)
      .map((r) => r.huntId)
      .sort();
    expect(stopped).toEqual(["logon-graph-rank", "password-spray-by-source"]);
    // A fresh deployment (logs for only two hours) does not flag hunts that have not had their turn yet.
    const fresh = [...hourly("windows-logon-by-source-ip", NOW - 0.5 * HOUR).slice(0, 2)];
    expect(run("stopped-hunts", fresh, ids).map((r) => r.huntId)).toEqual([]);
  });

  it("the prelude reads the run from the line the app logs, whatever the error says; other lines are not runs", () => {
    const awkward = 'query failed:\n{"error":{"code":"BadArgumentError"}} at line 3';
    const rows = [
      runTrace("logon-changepoint", NOW - HOUR, "failed", false, awkward),
      runTrace("password-spray-by-source", NOW - 2 * HOUR, "succeeded", true),
      [NOW, 'finding message (dequeue 1): {"huntId":"logon-changepoint","runId":"x"}', 1, { Category: "Function.notify-findings.User" }],
    ];
    expect(rows[0][1] as string).toMatch(/^hunt run logon-changepoint\.\S+ failed: query failed: \{"error"/);
    const runs = run("workbook-failures", rows);
    expect(runs.map((r) => [r.huntId, r.status, r.partial, r.durationMs])).toEqual([
      ["logon-changepoint", "failed", false, 1830.5],
      ["password-spray-by-source", "succeeded", true, 1830.5],
    ]);
    expect(runs[0].windowEnd).toBe(NOW - HOUR);
  });

  it("the workbook's latest-runs step shows each hunt's last run with its numbers", () => {
    const rows = [
      runTrace("logon-changepoint", NOW - 30 * HOUR, "succeeded"),
      runTrace("logon-changepoint", NOW - 6 * HOUR, "failed"),
      runTrace("password-spray-by-source", NOW - HOUR, "succeeded", true),
    ];
    const last = run("workbook-last-runs", rows);
    expect(last.map((r) => [r.huntId, r.status, r.partial, r.rows, r.durationMs])).toEqual([
      ["password-spray-by-source", "succeeded", true, 120, 1830.5],
      ["logon-changepoint", "failed", false, 120, 1830.5],
    ]);
  });
});
