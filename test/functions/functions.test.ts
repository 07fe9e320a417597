import { HttpRequest, InvocationContext, type Timer } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { setRuntime } from "../../functions/runtime-instance.js";
import { httpHandler, notifyFindingQueue, timerHandler } from "../../functions/handlers.js";
import { httpRoutes, queues, timers } from "../../functions/registrations.js";
import { scheduledJobs } from "../../lib/host/jobs.js";
import { ROUTES } from "../../lib/host/routes.js";
import { importSentinelHunts } from "../../lib/hunts/sentinel.js";
import { createRuntime } from "../../lib/runtime.js";
import { encodeFindingMessage } from "../../lib/notify/queue-message.js";
import { builtInHunts, huntCatalog, registerImportedHunts, scheduleSettingName } from "../../lib/hunts/catalog.js";
import { tableFromRecords } from "../../lib/kql/build.js";
import { startReceiver } from "../../lib/local/receiver.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { parseSettings, storageConfig } from "../../lib/settings.js";
import { LocalSource } from "../../lib/sources/local.js";
import type { QuerySource } from "../../lib/sources/types.js";
import { fileURLToPath } from "node:url";
import { freshStorage, useAzurite } from "../helpers/azurite.js";
import { finding } from "../helpers/findings.js";

const azurite = useAzurite();
const handlerOf = (name: string) => httpHandler(ROUTES.find((r) => r.name === name)!);
const listHuntsHttp = handlerOf("list-hunts");
const runHuntHttp = handlerOf("run-hunt");
const getRunHttp = handlerOf("get-run");
const validateKqlHttp = handlerOf("validate-kql");
const T0 = Date.UTC(2024, 9, 20);

function request(method: string, url: string, body?: unknown, params: Record<string, string> = {}) {
  return new HttpRequest({
    method,
    url,
    params,
    ...(body === undefined ? {} : { body: { string: typeof body === "string" ? body : JSON.stringify(body) } }),
  });
}

const bruteForce = Array.from({ length: 150 }, (_, i) => ({
  TimeGenerated: new Date(T0 + i * 1000).toISOString(),
  EventID: 4625,
  LogonType: 3,
  IpAddress: "203.0.113.50",
  TargetUserName: `user${i % 30}`,
  Computer: "SRV-WEB01",
  Status: "0xc000006d",
  SubStatus: "0xc000006a",
}));

async function testApp(env: Record<string, string> = {}) {
  const storage = await freshStorage(azurite());
  const source = new LocalSource({ SecurityEvent: tableFromRecords(TABLE_SCHEMAS.SecurityEvent, bruteForce) });
  const app = await createRuntime(
    { AzureWebJobsStorage: azurite().connectionString, HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "unused", ...env },
    { storage, source },
  );
  setRuntime(app);
  return app;
}

describe("function registrations", () => {
  it("one timer per hunt on its HUNT_<ID>_SCHEDULE setting, monitored, never on startup; the digest, imported hunts, pruning", () => {
    expect(timers.map((t) => t.name)).toEqual([...builtInHunts().map((h) => `hunt-${h.id}`), "digest", "imported-hunts", "prune-state"]);
    expect(timers.find((t) => t.name === "prune-state")!.options.schedule).toBe("%RETENTION_SCHEDULE%");
    expect(timers.find((t) => t.name === "imported-hunts")!.options.schedule).toBe("%IMPORTED_HUNTS_SCHEDULE%");
    for (const hunt of builtInHunts()) {
      const timer = timers.find((t) => t.name === `hunt-${hunt.id}`)!;
      expect(timer.options.schedule).toBe(`%${scheduleSettingName(hunt.id)}%`);
      expect(timer.options.runOnStartup).toBe(false);
      expect(timer.options.useMonitor).toBe(true);
    }
    expect(timers.find((t) => t.name === "digest")!.options.schedule).toBe("%DIGEST_SCHEDULE%");
  });

  it("HTTP routes need a function key, except signed links, whose token is their permission", () => {
    expect(httpRoutes.map((r) => [r.name, r.options.methods, r.options.route, r.options.authLevel])).toEqual([
      ["list-hunts", ["GET"], "hunts", "function"],
      ["run-hunt", ["POST"], "hunts/{id}/run", "function"],
      ["get-run", ["GET"], "runs/{runId}", "function"],
      ["get-incident", ["GET"], "incidents/{id}", "function"],
      ["list-exceptions", ["GET"], "exceptions", "function"],
      ["add-exception", ["POST"], "exceptions", "function"],
      ["remove-exception", ["DELETE"], "exceptions/{id}", "function"],
      ["open-link", ["GET"], "links/{token}", "anonymous"],
      ["submit-link", ["POST"], "links/{token}", "anonymous"],
      ["validate-kql", ["POST"], "kql/validate", "function"],
      ["logon-graph", ["GET"], "graph", "function"],
      ["logon-graph-data", ["GET"], "graph/data", "function"],
    ]);
  });

  it("the notifier listens on the findings queue through the storage connection", () => {
    expect(queues.map((q) => [q.name, q.options.queueName, q.options.connection])).toEqual([
      ["notify-findings", "findings", "AzureWebJobsStorage"],
    ]);
  });
});

describe("HTTP handlers (test mode)", () => {
  it("GET /api/hunts lists the catalog with schedules and last runs", async () => {
    await testApp({ HUNT_LOGON_GRAPH_RANK_SCHEDULE: "0 0 2 * * *" });
    const response = await listHuntsHttp(request("GET", "http://localhost/api/hunts"), new InvocationContext());
    expect(response.status).toBe(200);
    const hunts = (response.jsonBody as { hunts: { id: string; schedule: string; status: string; lastRun: unknown }[] }).hunts;
    expect(hunts.map((h) => h.id)).toEqual(huntCatalog().map((h) => h.id));
    expect(hunts.find((h) => h.id === "logon-graph-rank")!.schedule).toBe("0 0 2 * * *");
    expect(hunts.every((h) => h.status === "never-run" && h.lastRun === null)).toBe(true);
  });

  it("POST /api/hunts/{id}/run returns findings; GET /api/runs/{runId} returns the run", async () => {
    await testApp();
    const response = await runHuntHttp(
      request(
        "POST",
        "http://localhost/api/hunts/windows-logon-by-source-ip/run",
        { from: "2024-10-20T00:00:00Z", to: "2024-10-20T01:00:00Z" },
        { id: "windows-logon-by-source-ip" },
      ),
      new InvocationContext(),
    );
    expect(response.status).toBe(200);
    const body = response.jsonBody as { run: { runId: string }; findings: { entity: { key: string }; alert: boolean }[] };
    expect(body.findings[0]).toMatchObject({ entity: { key: "203.0.113.50" }, alert: true });
    const run = await getRunHttp(
      request("GET", `http://localhost/api/runs/${body.run.runId}`, undefined, { runId: body.run.runId }),
      new InvocationContext(),
    );
    expect(run.status).toBe(200);
    expect((run.jsonBody as { findings: unknown[] }).findings.length).toBe(body.findings.length);
  });

  it("answers 400 naming the field for bad bodies, 404 for unknown hunts and runs", async () => {
    await testApp();
    const ctx = new InvocationContext();
    const badType = await runHuntHttp(
      request("POST", "http://x/api/hunts/windows-logon-by-source-ip/run", { dryRun: "yes" }, { id: "windows-logon-by-source-ip" }),
      ctx,
    );
    expect(badType).toMatchObject({ status: 400, jsonBody: { issues: [{ field: "dryRun", value: "yes" }] } });
    // Nonsense that used to run: a JSON null, ten years, a zero lookback, the year 9999.
    const run = (body: unknown) =>
      runHuntHttp(request("POST", "http://x/api/hunts/windows-logon-by-source-ip/run", body, { id: "windows-logon-by-source-ip" }), ctx);
    expect((await run("null")).status).toBe(400);
    expect(await run({ from: "2014-01-01T00:00:00Z", to: "2024-01-01T00:00:00Z" })).toMatchObject({
      status: 400,
      jsonBody: { issues: [{ field: "to", message: "at most 31 days after from" }] },
    });
    expect(await run({ lookback: "0s" })).toMatchObject({ status: 400, jsonBody: { issues: [{ field: "lookback", value: "0s" }] } });
    expect(await run({ lookback: "32d" })).toMatchObject({ status: 400, jsonBody: { issues: [{ field: "lookback" }] } });
    expect((await run({ from: "9999-12-01T00:00:00Z", to: "9999-12-02T00:00:00Z" })).status).toBe(400);
    const graph = handlerOf("logon-graph-data");
    for (const query of [
      "lookback=3650d",
      "from=2024-10-21T00:00:00Z&to=2024-10-20T00:00:00Z",
      "from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z",
    ])
      expect((await graph(request("GET", `http://x/api/graph/data?${query}`), ctx)).status).toBe(400);
    const bad = await runHuntHttp(
      request(
        "POST",
        "http://x/api/hunts/windows-logon-by-source-ip/run",
        { from: "2024-10-20T00:00:00Z", lookback: "1d" },
        { id: "windows-logon-by-source-ip" },
      ),
      ctx,
    );
    expect(bad.status).toBe(400);
    const fields = (bad.jsonBody as { issues: { field: string }[] }).issues.map((i) => i.field).sort();
    expect(fields).toEqual(["lookback", "to"]);
    const extra = await runHuntHttp(
      request("POST", "http://x/api/hunts/windows-logon-by-source-ip/run", { lookbak: "1d" }, { id: "windows-logon-by-source-ip" }),
      ctx,
    );
    expect(JSON.stringify(extra.jsonBody)).toContain("lookbak");
    const notJson = await runHuntHttp(
      request("POST", "http://x/api/hunts/windows-logon-by-source-ip/run", "{oops", { id: "windows-logon-by-source-ip" }),
      ctx,
    );
    expect(notJson).toMatchObject({ status: 400, jsonBody: { error: "the request body is not JSON" } });
    const unknown = await runHuntHttp(request("POST", "http://x/api/hunts/nope/run", {}, { id: "nope" }), ctx);
    expect(unknown.status).toBe(404);
    const noRun = await getRunHttp(
      request("GET", "http://x/api/runs/windows-logon-by-source-ip.20240101T000000Z", undefined, {
        runId: "windows-logon-by-source-ip.20240101T000000Z",
      }),
      ctx,
    );
    expect(noRun.status).toBe(404);
    const badKql = await validateKqlHttp(
      request("POST", "http://x/api/kql/validate", { query: "SecurityEvent | where EventId == 1" }),
      ctx,
    );
    expect((badKql.jsonBody as { valid: boolean }).valid).toBe(false);
    const emptyKql = await validateKqlHttp(request("POST", "http://x/api/kql/validate", { query: "" }), ctx);
    expect(emptyKql).toMatchObject({
      status: 400,
      jsonBody: { issues: [{ field: "query", message: "query must not be empty", value: "" }] },
    });
    const notJsonKql = await validateKqlHttp(request("POST", "http://x/api/kql/validate", "{oops"), ctx);
    expect(notJsonKql).toMatchObject({ status: 400, jsonBody: { error: "the request body is not JSON" } });
  });
});

describe("timers (test mode)", () => {
  const TIMER: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };
  const timerOf = (name: string) => timerHandler(scheduledJobs().find((job) => job.name === name)!);
  /** An invocation context whose log lines the test reads. */
  function capturing(lines: string[]) {
    return new InvocationContext({ logHandler: (level, ...args) => lines.push(`${level}: ${args.map(String).join(" ")}`) });
  }

  it("the imported-hunts timer runs every imported hunt, then fails naming the one that failed", async () => {
    const { hunts } = await importSentinelHunts(fileURLToPath(new URL("../fixtures/sentinel", import.meta.url)));
    try {
      const failing = hunts.find((h) => h.tables.includes("DeviceNetworkEvents"))!;
      const local = new LocalSource({ SecurityEvent: tableFromRecords(TABLE_SCHEMAS.SecurityEvent, bruteForce) });
      // The workspace refuses one hunt's table; the others are answered.
      const source: QuerySource = {
        kind: "log-analytics",
        name: "workspace",
        query: (request) =>
          request.query.includes("DeviceNetworkEvents")
            ? Promise.reject(new Error("'DeviceNetworkEvents' could not be resolved"))
            : local.query(request),
      };
      const app = await createRuntime(
        { AzureWebJobsStorage: azurite().connectionString, HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "unused" },
        { storage: await freshStorage(azurite()), source },
      );
      setRuntime(app);
      const lines: string[] = [];
      await expect(timerOf("imported-hunts")(TIMER, capturing(lines))).rejects.toThrow(
        `1 imported hunt(s) failed: ${failing.id}: 'DeviceNetworkEvents' could not be resolved`,
      );
      for (const hunt of hunts.filter((h) => h !== failing))
        expect((await app.services.runs.latest(hunt.id))[0]?.status, hunt.id).toBe("succeeded");
      expect((await app.services.runs.latest(failing.id))[0]?.status).toBe("failed");
      expect(lines.filter((l) => l.startsWith("error: ") && l.includes(failing.id)).length).toBeGreaterThan(0);
    } finally {
      registerImportedHunts([]);
    }
  });

  it("the prune-state timer deletes what the retention settings no longer keep", async () => {
    const app = await testApp({ DELIVERY_CLAIM_RETENTION: "7d" });
    const teams = { id: "teams", kind: "teams" as const, url: "https://contoso.webhook.office.com/workflows/abc" };
    await app.notifier.claims.claim(teams, "msg_old", Date.now() - 8 * 86_400_000);
    await app.notifier.claims.claim(teams, "msg_new", Date.now());
    const lines: string[] = [];
    await timerOf("prune-state")(TIMER, capturing(lines));
    expect(lines).toEqual([expect.stringMatching(/^information: pruned .*\b1 deliveryClaims\b/)]);
    expect(await app.notifier.claims.claim(teams, "msg_new", Date.now())).toBe("in-progress");
    expect(await app.notifier.claims.claim(teams, "msg_old", Date.now())).toBe("claimed");
  });
});

describe("queue notifier (test mode)", () => {
  it("delivers a finding message to Teams and the signed webhook; a message that is not a finding goes to poison", async () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const receiver = await startReceiver({ secret });
    try {
      const app = await testApp({
        NOTIFY_TEAMS_WEBHOOK_URL: `${receiver.url}/teams`,
        NOTIFY_WEBHOOK_URL: `${receiver.url}/webhook`,
        NOTIFY_WEBHOOK_SECRET: secret,
        NOTIFY_ALLOW_INSECURE: "true",
      });
      // The host hands the trigger the decoded JSON; both forms are accepted.
      await notifyFindingQueue(finding(), new InvocationContext());
      expect(receiver.received.map((r) => [r.path, r.verified])).toEqual([
        ["/teams", null],
        ["/webhook", true],
      ]);
      await notifyFindingQueue(Buffer.from("not a finding").toString("base64"), new InvocationContext());
      const poisoned = (await app.storage.queue("poison").receiveMessages()).receivedMessageItems;
      expect(poisoned.length).toBe(1);
      expect(encodeFindingMessage(finding()).length).toBeGreaterThan(0);
    } finally {
      await receiver.stop();
    }
  });

  it("a message too deeply nested to write back goes to poison on its first delivery, saying so; other non-findings keep their text", async () => {
    const app = await testApp();
    let deep: unknown = "bottom";
    for (let i = 0; i < 200_000; i++) deep = [deep];
    await notifyFindingQueue(deep, new InvocationContext());
    await notifyFindingQueue(Buffer.from("not a finding").toString("base64"), new InvocationContext());
    const poisoned = (await app.storage.queue("poison").receiveMessages({ numberOfMessages: 10 })).receivedMessageItems;
    expect(poisoned.map((m) => Buffer.from(m.messageText, "base64").toString("utf8"))).toEqual([
      expect.stringMatching(/^\{"unreadable":".*call stack/),
      "not a finding",
    ]);
  });

  it("bad settings fail with the setting's name, and its value unless that is a secret", async () => {
    await expect(
      createRuntime({ AzureWebJobsStorage: "x", HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "x", NOTIFY_WEBHOOK_SECRET: "secret123" }),
    ).rejects.toThrow(/NOTIFY_WEBHOOK_SECRET: expected a Standard Webhooks secret/);
    await expect(
      createRuntime({
        AzureWebJobsStorage: "x",
        HUNT_SOURCE: "local",
        LOCAL_DATA_PATHS: "x",
        HUNT_LOGON_CHANGEPOINT_SCHEDULE: "0 6 * * *",
      }),
    ).rejects.toThrow(/HUNT_LOGON_CHANGEPOINT_SCHEDULE="0 6 \* \* \*": '0 6 \* \* \*' has 5 fields/);
  });

  it("UseDevelopmentStorage=true means Azurite on its default ports; list settings split on ; and ,", () => {
    const settings = parseSettings({
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
      HUNT_SOURCE: "local",
      LOCAL_DATA_PATHS: "logs/a.evtx; logs/b,",
      LOG_ANALYTICS_ADDITIONAL_WORKSPACES: "",
    });
    expect(settings.LOCAL_DATA_PATHS).toEqual(["logs/a.evtx", "logs/b"]);
    expect(settings.LOG_ANALYTICS_ADDITIONAL_WORKSPACES).toBeUndefined();
    const config = storageConfig(settings);
    expect(config).toMatchObject({ kind: "connection-string", tablePrefix: "hunt" });
    const parts = Object.fromEntries(
      (config as { connectionString: string }).connectionString
        .split(";")
        .filter(Boolean)
        .map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]),
    );
    expect(parts).toMatchObject({
      AccountName: "devstoreaccount1",
      BlobEndpoint: "http://127.0.0.1:10000/devstoreaccount1",
      QueueEndpoint: "http://127.0.0.1:10001/devstoreaccount1",
      TableEndpoint: "http://127.0.0.1:10002/devstoreaccount1",
    });
    expect(() => parseSettings({ AzureWebJobsStorage: "x", HUNT_SOURCE: "local", LOCAL_DATA_PATHS: " ; " })).toThrow(
      /LOCAL_DATA_PATHS: required when HUNT_SOURCE=local/,
    );
  });
});
