import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { builtInHunts } from "../../lib/hunts/catalog.js";
import { backtest, formatBacktest, incidentIdOf } from "../../lib/runs/backtest.js";
import { servicesFor } from "../../lib/runs/runner.js";
import { LocalSource } from "../../lib/sources/local.js";
import type { QuerySource } from "../../lib/sources/types.js";
import { generatedTables, generateOrgLogs } from "../../lib/synth/org.js";
import { LOGS_FOLDER, writeDataset } from "../../lib/synth/write.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";
import { finding } from "../helpers/findings.js";

const azurite = useAzurite();
const logs = generateOrgLogs({ seed: 3, days: 2, users: 24, workstations: 24 });
const dir = mkdtempSync(join(tmpdir(), "backtest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The type of the value at a dotted path ("null" for null, "array" for arrays). */
function typeAt(value: unknown, path: string): string {
  const found = path
    .split(".")
    .reduce<unknown>((v, key) => (v && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined), value);
  return found === null ? "null" : Array.isArray(found) ? "array" : typeof found;
}

/** The documented --json contract: these fields, with these types (more are allowed). */
function expectJsonContract(report: unknown) {
  expect([typeAt(report, "runs"), typeAt(report, "findings")]).toEqual(["array", "array"]);
  const { runs, findings } = report as { runs: unknown[]; findings: unknown[] };
  expect(runs.length).toBeGreaterThan(0);
  const runFields = ["huntId", "window.start", "window.end", "entities", "rows"];
  for (const run of runs) expect(runFields.map((f) => typeAt(run, f))).toEqual(["string", "string", "string", "number", "number"]);
  expect(findings.length).toBeGreaterThan(0);
  const findingFields = ["huntId", "entity.key", "score", "alert", "window.start", "window.end", "reasons"];
  for (const f of findings) {
    expect(findingFields.map((field) => typeAt(f, field))).toEqual(["string", "string", "number", "boolean", "string", "string", "array"]);
    expect(["string", "null"]).toContain(typeAt(f, "incidentId"));
  }
}

describe("hunts backtest", () => {
  it("replays a generated org day by day through the scheduled path and reports each day's alerts and top entities", async () => {
    const services = servicesFor(await freshStorage(azurite()), new LocalSource(generatedTables(logs), "generated"));
    const report = await backtest(builtInHunts(), services, { start: logs.start, end: logs.end });
    expectJsonContract(JSON.parse(JSON.stringify(report)));
    expect(report.failures).toEqual([]);
    expect(report.days.map((d) => d.day)).toEqual(["2024-10-20", "2024-10-21"]);
    // Day by day across hunts, as their timers would fire: no hunt's second day comes before another's first.
    const runDays = report.runs.map((r) => r.window.start.slice(0, 10));
    expect(runDays).toEqual([...runDays].sort());
    // Every alert belongs to an incident; findings that did not alert belong to none.
    expect(report.findings.every((f) => (f.alert ? typeof f.incidentId === "string" : f.incidentId === null))).toBe(true);
    for (const day of report.days) {
      const ids = new Set(report.findings.filter((f) => f.alert && f.window.start.startsWith(day.day)).map((f) => f.incidentId));
      expect(day.incidents).toBe(ids.size);
      expect(day.incidents).toBeLessThanOrEqual(day.alerts);
    }
    // The last day holds the injected attacks: the brute-force IP tops its hunt.
    const last = report.days.at(-1)!;
    const bySourceIp = last.hunts.find((h) => h.huntId === "windows-logon-by-source-ip")!;
    const bruteForce = logs.labels.find((l) => l.scenario === "network-brute-force")!;
    expect(bySourceIp.top.map((t) => t.entity)).toContain(bruteForce.entity);
    expect(bySourceIp.runs).toBe(24);
    expect(last.alerts).toBe(report.findings.filter((f) => f.alert && f.window.start.startsWith("2024-10-21")).length);
    // Entities per day are the runs' own counts.
    expect(bySourceIp.entities).toBe(
      report.runs
        .filter((r) => r.huntId === bySourceIp.huntId && r.window.start.startsWith("2024-10-21"))
        .reduce((n, r) => n + r.entities, 0),
    );
    expect(formatBacktest(report)).toContain(`2024-10-21  ${last.alerts} alert(s), ${last.incidents} incident(s)`);
  }, 300_000);

  it("runs the hunts side by side with one result whichever hunt computes faster; a failing hunt holds up none", async () => {
    const builtIn = builtInHunts();
    // First in the order: while it computes, the hunts after it reach their alerts.
    const broken = { ...builtIn[0], id: "broken-first", query: `${builtIn[0].query}\n| summarize by NoSuchColumn` };
    const hunts = [broken, ...builtIn];
    const local = new LocalSource(generatedTables(logs), "generated");
    // One hunt's source answers slowly, as a busy workspace would.
    const slowFor = (huntId: string): QuerySource => ({
      kind: local.kind,
      name: local.name,
      query: async (request) => {
        if (request.queryId.includes(huntId)) await new Promise((resolve) => setTimeout(resolve, 150));
        return local.query(request);
      },
    });
    const replayWith = async (source: QuerySource) =>
      backtest(hunts, servicesFor(await freshStorage(azurite()), source), { start: logs.start, end: logs.end });
    const firstSlow = await replayWith(slowFor(builtIn[0].id));
    const lastSlow = await replayWith(slowFor(builtIn[builtIn.length - 1].id));
    expect(firstSlow.failures.map((f) => f.huntId)).toEqual(["broken-first"]);
    expect(firstSlow.findings.some((f) => f.alert && f.incidentId)).toBe(true);
    expect(firstSlow).toEqual(lastSlow);
  }, 300_000);

  it("takes a finding's incident id when findings carry one", () => {
    expect(incidentIdOf(finding())).toBeNull();
    expect(incidentIdOf({ ...finding(), incidentId: "inc-1" })).toBe("inc-1");
  });

  it("prints the --json contract from the command line, for the hunts asked for, in a private Azurite", async () => {
    await writeDataset(dir, logs);
    const run = promisify(execFile);
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        "bin/hunts.ts",
        "backtest",
        "--data",
        join(dir, LOGS_FOLDER),
        "--from",
        "2024-10-21T00:00:00Z",
        "--hunts",
        fileURLToPath(new URL("../fixtures/sentinel/", import.meta.url)),
        "--hunt",
        "windows-logon-by-source-ip",
        "--hunt",
        "sentinel-rdp-logon-failures-by-source-address",
        "--json",
      ],
      { env: { ...process.env, AzureWebJobsStorage: "" }, maxBuffer: 64 * 2 ** 20 },
    );
    const report = JSON.parse(stdout) as { runs: { huntId: string; window: { start: string } }[]; findings: { huntId: string }[] };
    expectJsonContract(report);
    // Imported Sentinel hunts take part like built-in ones.
    expect(new Set(report.runs.map((r) => r.huntId))).toEqual(
      new Set(["windows-logon-by-source-ip", "sentinel-rdp-logon-failures-by-source-address"]),
    );
    expect(report.runs.every((r) => r.window.start >= "2024-10-21")).toBe(true);
    expect(report.findings.some((f) => f.huntId === "sentinel-rdp-logon-failures-by-source-address")).toBe(true);
  }, 300_000);

  it("names a bad --from and exits 2", async () => {
    const run = promisify(execFile);
    const failed = await run(process.execPath, ["--import", "tsx", "bin/hunts.ts", "backtest", "--data", dir, "--from", "yesterday"]).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain("--from: 'yesterday' is not an ISO date or time");
  }, 120_000);
});
