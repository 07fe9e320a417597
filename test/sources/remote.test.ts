import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findHunt } from "../../lib/hunts/catalog.js";
import { startServiceEndpoint, type ServiceEndpoint } from "../../lib/local/service-endpoint.js";
import { LocalDevelopmentCredential } from "../../lib/sources/local-development-credential.js";
import { runOnDemand, servicesFor } from "../../lib/runs/runner.js";
import { AzureMonitorSource, QueryFailedError } from "../../lib/sources/azure-monitor.js";
import { DefenderXdrSource } from "../../lib/sources/defender-xdr.js";
import { LocalSource } from "../../lib/sources/local.js";
import { generatedTables, generateOrgLogs } from "../../lib/synth/org.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const WORKSPACE = "3f0c6a53-8c1a-4f5e-9d55-0c2a5b6f8e11";
const logs = generateOrgLogs({ seed: 5, days: 3 });
const tables = generatedTables(logs);
let endpoint: ServiceEndpoint;

beforeAll(async () => {
  endpoint = await startServiceEndpoint(tables);
});
afterAll(() => endpoint.stop());

function logAnalytics(extra: Partial<ConstructorParameters<typeof AzureMonitorSource>[0]> = {}) {
  return new AzureMonitorSource({
    workspaceId: WORKSPACE,
    credential: new LocalDevelopmentCredential(),
    endpoint: `${endpoint.url}/v1`,
    trustedCa: endpoint.certificate,
    ...extra,
  });
}

const range = { start: logs.end - 86_400_000, end: logs.end };

describe("Log Analytics through the real LogsQueryClient against the local HTTPS endpoint", () => {
  it("sends the query, the exact timespan, extra workspaces and a bearer token; converts typed columns", async () => {
    endpoint.requests.length = 0;
    const source = logAnalytics({ additionalWorkspaces: ["8b2f7a10-0000-4000-8000-000000000002"] });
    const query =
      "SecurityEvent | summarize Events = count(), Last = max(TimeGenerated), Span = max(TimeGenerated) - min(TimeGenerated), Users = make_set(TargetUserName, 3) by EventID | order by EventID asc";
    const { table, partial } = await source.query({ query, timespan: range, queryId: "test.1" });
    expect(partial).toBeUndefined();
    const [request] = endpoint.requests;
    expect(request.path).toBe(`/v1/workspaces/${WORKSPACE}/query`);
    expect(request.authorization).toBe("Bearer local-development-token");
    expect(request.body).toMatchObject({
      query,
      timespan: `${new Date(range.start).toISOString()}/${new Date(range.end).toISOString()}`,
      workspaces: ["8b2f7a10-0000-4000-8000-000000000002"],
    });
    expect(table.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "EventID:int",
      "Events:long",
      "Last:datetime",
      "Span:timespan",
      "Users:dynamic",
    ]);
    const local = (
      await new LocalSource(tables).query({
        query: `SecurityEvent | where TimeGenerated >= datetime(${new Date(range.start).toISOString()}) and TimeGenerated < datetime(${new Date(range.end).toISOString()}) | ${query.split("| ").slice(1).join("| ")}`,
        timespan: range,
        queryId: "x",
      })
    ).table;
    expect(table.rows).toEqual(local.rows);
  });

  it("retries a throttled (429) query, honouring Retry-After, and a 500", async () => {
    endpoint.requests.length = 0;
    endpoint.faults.throttle = 1;
    endpoint.faults.retryAfterSeconds = 1;
    endpoint.faults.serverErrors = 1;
    const started = Date.now();
    const { table } = await logAnalytics().query({ query: "SecurityEvent | count", timespan: range, queryId: "test.2" });
    expect(table.rows[0][0]).toBeGreaterThan(0);
    expect(endpoint.requests.length).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("returns partial results with the service's reason", async () => {
    endpoint.faults.partialError = { code: "PartialError", message: "Query timed out on one shard" };
    try {
      const { table, partial } = await logAnalytics().query({ query: "SecurityEvent | take 3", timespan: range, queryId: "test.3" });
      expect(table.rows.length).toBe(3);
      expect(partial).toBe("PartialError: Query timed out on one shard");
    } finally {
      endpoint.faults.partialError = undefined;
    }
  });

  it("splits a truncated range and queries the halves, so no row is lost, and says so", async () => {
    const query = "SecurityEvent | project TimeGenerated, EventID";
    const all = (await logAnalytics().query({ query, timespan: range, queryId: "test.4a" })).table.rows.length;
    endpoint.faults.maxRows = Math.ceil(all * 0.6);
    try {
      const { table, partial } = await logAnalytics().query({ query, timespan: range, queryId: "test.4" });
      expect(table.rows.length).toBe(all);
      expect(partial).toMatch(/split at .* and queried in halves/);
    } finally {
      endpoint.faults.maxRows = undefined;
    }
  });

  it("reports a bad query with the query id and the position", async () => {
    const error = await logAnalytics()
      .query({ query: "SecurityEvent\n| where EventId == 4625", timespan: range, queryId: "hunt.20241020T000000Z" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as Error).message).toMatch(/query hunt\.20241020T000000Z .*EventId.*(line 2|2:9)/);
  });

  it("a hunt through Log Analytics gives the same findings as through the in-process local source", async () => {
    const hunt = findHunt("windows-logon-by-source-ip")!;
    const window = { start: logs.end - 86_400_000, end: logs.end };
    const viaService = await runOnDemand(
      hunt,
      servicesFor(await freshStorage(azurite()), logAnalytics()),
      { window, dryRun: true },
      window.end,
    );
    const viaLocal = await runOnDemand(
      hunt,
      servicesFor(await freshStorage(azurite()), new LocalSource(tables)),
      { window, dryRun: true },
      window.end,
    );
    const strip = (fs: typeof viaLocal.findings) => fs.map((f) => ({ ...f, runId: undefined, createdAt: undefined, source: undefined }));
    expect(viaService.findings.length).toBeGreaterThan(0);
    expect(strip(viaService.findings)).toEqual(strip(viaLocal.findings));
  });
});

describe("Defender XDR advanced hunting against the local Graph endpoint", () => {
  it("posts Query and Timespan with a bearer token and converts the typed schema", async () => {
    endpoint.requests.length = 0;
    const source = new DefenderXdrSource({
      credential: new LocalDevelopmentCredential(),
      endpoint: endpoint.url,
      trustedCa: endpoint.certificate,
    });
    const { table } = await source.query({
      query: "DeviceNetworkEvents | summarize n = count(), Last = max(TimeGenerated) by RemotePort | order by RemotePort asc",
      timespan: range,
      queryId: "xdr.1",
    });
    const [request] = endpoint.requests;
    expect(request.path).toBe("/v1.0/security/runHuntingQuery");
    expect(request.authorization).toBe("Bearer local-development-token");
    expect(request.body).toMatchObject({
      Query: expect.stringContaining("DeviceNetworkEvents") as unknown,
      Timespan: expect.stringMatching(/^P\d+D$/) as unknown,
    });
    expect(table.columns.map((c) => c.type)).toEqual(["int", "long", "datetime"]);
    expect(typeof table.rows[0][2]).toBe("number");
  });

  it("a hunt runs only on the sources it names", async () => {
    const source = new DefenderXdrSource({
      credential: new LocalDevelopmentCredential(),
      endpoint: endpoint.url,
      trustedCa: endpoint.certificate,
    });
    const window = { start: logs.end - 86_400_000, end: logs.end };
    const services = servicesFor(await freshStorage(azurite()), source);
    await expect(runOnDemand(findHunt("windows-logon-by-source-ip")!, services, { window, dryRun: true }, window.end)).rejects.toThrow(
      /runs on local, log-analytics, not on defender-xdr/,
    );
    const rare = await runOnDemand(findHunt("rare-device-connections")!, services, { window, dryRun: true }, window.end);
    expect(rare.run.rows).toBeGreaterThan(0);
  });

  it("retries the tenant's 429s", async () => {
    endpoint.requests.length = 0;
    endpoint.faults.throttle = 2;
    endpoint.faults.retryAfterSeconds = 0;
    const source = new DefenderXdrSource({
      credential: new LocalDevelopmentCredential(),
      endpoint: endpoint.url,
      trustedCa: endpoint.certificate,
    });
    const { table } = await source.query({ query: "DeviceNetworkEvents | count", timespan: range, queryId: "xdr.2" });
    expect(table.rows[0][0]).toBeGreaterThan(0);
    expect(endpoint.requests.length).toBe(3);
  });
});
