import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../lib/log.js";
import { createRuntime } from "../../lib/runtime.js";
import { tableFromRecords } from "../../lib/kql/build.js";
import { freePort } from "../../lib/local/azurite.js";
import { serve, type Running } from "../../lib/local/serve.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();

describe("hunts serve: the HTTP API without the Functions host", () => {
  let running: Running;
  beforeAll(async () => {
    const storage = await freshStorage(azurite());
    const source = new LocalSource({ SecurityEvent: tableFromRecords(TABLE_SCHEMAS.SecurityEvent, []) });
    const app = await createRuntime(
      { AzureWebJobsStorage: azurite().connectionString, HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "unused" },
      { storage, source, log: silentLogger },
    );
    running = await serve(app, { port: await freePort(), timers: false, log: silentLogger });
  }, 60_000);
  afterAll(async () => {
    await running?.stop();
  });

  const post = async (path: string, body: string) => {
    const response = await fetch(`${running.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("validates KQL with the official parser, as the validate-kql function does", async () => {
    const good = await post("/api/kql/validate", JSON.stringify({ query: "SecurityEvent | where EventID == 4625 | count" }));
    expect(good).toMatchObject({ status: 200, body: { valid: true } });
    const bad = await post("/api/kql/validate", JSON.stringify({ query: "SecurityEvent | where EventId == 1" }));
    expect(bad).toMatchObject({ status: 200, body: { valid: false } });
    expect(JSON.stringify(bad.body.diagnostics)).toContain("EventId");
    const empty = await post("/api/kql/validate", JSON.stringify({ query: "" }));
    expect(empty).toMatchObject({ status: 400, body: { issues: [{ field: "query", value: "" }] } });
  });

  it("answers a body that is not JSON with 400, on every POST route", async () => {
    for (const path of ["/api/kql/validate", "/api/hunts/windows-logon-by-source-ip/run"]) {
      expect(await post(path, "{oops")).toEqual({ status: 400, body: { error: "the request body is not JSON" } });
    }
  });
});
