/**
 * Settings are parsed at the edge: nonsense fails with the setting's name and what is wrong, and a
 * secret (webhook URLs, the signing secret, a storage connection string) is never printed.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createRuntime, retentionPolicy } from "../../lib/runtime.js";
import { azuriteConnectionString } from "../../lib/state/storage.js";
import { parseSettings, SettingsError } from "../../lib/settings.js";

const BASE = { AzureWebJobsStorage: "UseDevelopmentStorage=true", HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "data/samples" };

/** The message parseSettings throws for these settings (on top of a valid base). */
function settingsError(overrides: Record<string, string>): string {
  try {
    parseSettings({ ...BASE, ...overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError);
    return (error as Error).message;
  }
  throw new Error(`settings were accepted: ${Object.keys(overrides).join(", ")}`);
}

describe("settings errors never print secrets", () => {
  it("a whsec_ secret with a trailing newline is named, and said to have whitespace, without its value", () => {
    const secret = `whsec_${randomBytes(32).toString("base64")}`;
    const message = settingsError({ NOTIFY_WEBHOOK_SECRET: `${secret}\n` });
    expect(message).toBe("invalid app settings: NOTIFY_WEBHOOK_SECRET: has leading or trailing whitespace (a newline?): remove it");
    expect(message).not.toContain(secret.slice(6));
  });

  it("other malformed secrets: not whsec_, not base64, too short a key", () => {
    expect(settingsError({ NOTIFY_WEBHOOK_SECRET: "secret123" })).toBe(
      "invalid app settings: NOTIFY_WEBHOOK_SECRET: expected a Standard Webhooks secret: whsec_ followed by base64",
    );
    expect(settingsError({ NOTIFY_WEBHOOK_SECRET: "whsec_not*base64" })).toMatch(
      /NOTIFY_WEBHOOK_SECRET: the part after whsec_ is not base64$/,
    );
    expect(settingsError({ NOTIFY_WEBHOOK_SECRET: "whsec_c2hvcnQ=" })).toMatch(/NOTIFY_WEBHOOK_SECRET: the key after whsec_ is 5 bytes/);
  });

  it("a malformed Teams Workflows URL with its sig= is named, not printed", () => {
    const sig = "Zm9vYmFyYmF6cXV4c2VjcmV0c2lnbmF0dXJl";
    const url = `https//prod-00.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=${sig}`;
    const message = settingsError({ NOTIFY_TEAMS_WEBHOOK_URL: url });
    expect(message).toBe("invalid app settings: NOTIFY_TEAMS_WEBHOOK_URL: not a URL");
    expect(settingsError({ NOTIFY_WEBHOOK_URL: `https://hooks.example.com/x?sig=${sig} \n` })).toBe(
      "invalid app settings: NOTIFY_WEBHOOK_URL: the URL has leading or trailing whitespace (a newline?)",
    );
  });

  it("AzureWebJobsStorage=garbage says what is wrong with the connection string (it used to fail reading 'toLowerCase' of undefined)", async () => {
    expect(settingsError({ AzureWebJobsStorage: "garbage" })).toBe(
      "invalid app settings: AzureWebJobsStorage: not a storage connection string: part 1 is not key=value",
    );
    await expect(createRuntime({ ...BASE, AzureWebJobsStorage: "garbage" })).rejects.toThrow(
      /^invalid app settings: AzureWebJobsStorage: not a storage connection string/,
    );
  });

  it("connection strings that name a key but cannot work are refused without printing the key", () => {
    const key = randomBytes(64).toString("base64");
    for (const [value, reason] of [
      [`AccountName=acct;AccountKey=${key}`, "has no TableEndpoint, and no AccountName with DefaultEndpointsProtocol to derive it"],
      [`DefaultEndpointsProtocol=https;AccountKey=${key}`, "has an AccountKey but no AccountName"],
      [`DefaultEndpointsProtocol=https;AccountName=acct`, "has no AccountKey and no SharedAccessSignature"],
      [`DefaultEndpointsProtocol=https;AccountName=acct;Acountkey=${key}`, "not a storage connection string: unknown key 'Acountkey'"],
      [`AccountName=acct;AccountKey=${key};TableEndpoint=javascript:x;QueueEndpoint=https://q`, "TableEndpoint is not an http(s) URL"],
      [`DefaultEndpointsProtocol=ftp;AccountName=acct;AccountKey=${key}`, "DefaultEndpointsProtocol must be https or http"],
      ["UseDevelopmentStorage=false", "UseDevelopmentStorage may only be true"],
    ]) {
      const message = settingsError({ AzureWebJobsStorage: value });
      expect(message).toBe(`invalid app settings: AzureWebJobsStorage: ${reason}`);
      expect(message).not.toContain(key);
    }
  });

  it("real connection strings pass: Azurite's, an account key, a SAS", () => {
    const key = randomBytes(64).toString("base64");
    for (const value of [
      azuriteConnectionString({ blob: 10000, queue: 10001, table: 10002 }),
      `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key};EndpointSuffix=core.windows.net`,
      "TableEndpoint=https://acct.table.core.windows.net;QueueEndpoint=https://acct.queue.core.windows.net;SharedAccessSignature=sv=2022-11-02&sig=abc",
    ])
      expect(parseSettings({ ...BASE, AzureWebJobsStorage: value }).AzureWebJobsStorage).toBe(value);
  });

  it("non-secret settings still show their value", () => {
    expect(settingsError({ HUNT_LOGON_CHANGEPOINT_SCHEDULE: "0 6 * * *" })).toMatch(
      /^invalid app settings: HUNT_LOGON_CHANGEPOINT_SCHEDULE="0 6 \* \* \*": '0 6 \* \* \*' has 5 fields/,
    );
  });
});

describe("settings that used to accept nonsense", () => {
  it("a javascript: (or any non-http) webhook URL", () => {
    expect(settingsError({ NOTIFY_WEBHOOK_URL: "javascript:alert(document.cookie)" })).toBe(
      "invalid app settings: NOTIFY_WEBHOOK_URL: must be an https URL, not javascript:",
    );
    expect(settingsError({ NOTIFY_TEAMS_WEBHOOK_URL: "file:///etc/passwd" })).toBe(
      "invalid app settings: NOTIFY_TEAMS_WEBHOOK_URL: must be an https URL, not file:",
    );
  });

  it("http, loopback or private webhook URLs unless NOTIFY_ALLOW_INSECURE (local development) is true, in any case", () => {
    expect(settingsError({ NOTIFY_WEBHOOK_URL: "http://hooks.example.com/x" })).toBe(
      "invalid app settings: NOTIFY_WEBHOOK_URL: 'http://hooks.example.com' must use https",
    );
    expect(settingsError({ NOTIFY_WEBHOOK_URL: "https://[::127.0.0.1]/x" })).toMatch(
      /NOTIFY_WEBHOOK_URL: ::7f00:1 is a private, loopback, link-local or reserved address$/,
    );
    expect(settingsError({ NOTIFY_TEAMS_WEBHOOK_URL: "https://contoso.webhook.office.com/webhookb2/x" })).toMatch(
      /NOTIFY_TEAMS_WEBHOOK_URL: contoso\.webhook\.office\.com is an Office 365 connector URL/,
    );
    for (const on of ["true", "True", "TRUE", "1"])
      expect(parseSettings({ ...BASE, NOTIFY_ALLOW_INSECURE: on, NOTIFY_WEBHOOK_URL: "http://127.0.0.1:9/x" }).NOTIFY_ALLOW_INSECURE).toBe(
        true,
      );
    expect(settingsError({ NOTIFY_ALLOW_INSECURE: "yes" })).toBe(
      'invalid app settings: NOTIFY_ALLOW_INSECURE="yes": expected true or false',
    );
  });

  it("non-http endpoints, ids that are not GUIDs, workspaces that are neither ids nor resource ids", () => {
    expect(settingsError({ PUBLIC_BASE_URL: "javascript:alert(1)" })).toBe(
      'invalid app settings: PUBLIC_BASE_URL="javascript:alert(1)": expected an http:// or https:// URL',
    );
    expect(settingsError({ AzureWebJobsStorage__tableServiceUri: "ftp://x", AzureWebJobsStorage__queueServiceUri: "https://q" })).toMatch(
      /AzureWebJobsStorage__tableServiceUri="ftp:\/\/x": expected an http/,
    );
    expect(settingsError({ LOG_ANALYTICS_ENDPOINT: "file:///tmp/x" })).toMatch(/LOG_ANALYTICS_ENDPOINT=.*expected an http/);
    expect(settingsError({ GRAPH_ENDPOINT: "data:text/plain,x" })).toMatch(/GRAPH_ENDPOINT=.*expected an http/);
    expect(settingsError({ AzureWebJobsStorage__clientId: "my-identity" })).toBe(
      'invalid app settings: AzureWebJobsStorage__clientId="my-identity": expected a GUID',
    );
    expect(settingsError({ LOG_ANALYTICS_ADDITIONAL_WORKSPACES: "2f6a0f1e-3c3b-4c8e-9d57-2f1d0e6c1a11, law-other" })).toMatch(
      /^invalid app settings: LOG_ANALYTICS_ADDITIONAL_WORKSPACES\[1\]=.*expected workspace ids \(GUIDs\) or workspace resource ids$/,
    );
    expect(
      parseSettings({
        ...BASE,
        LOG_ANALYTICS_ADDITIONAL_WORKSPACES:
          "2f6a0f1e-3c3b-4c8e-9d57-2f1d0e6c1a11;/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law",
      }).LOG_ANALYTICS_ADDITIONAL_WORKSPACES,
    ).toHaveLength(2);
  });

  it("retentions: at least a day, claims at least the queue's 7 days, incidents longer than the incident window", () => {
    expect(settingsError({ FINDING_RETENTION: "12h" })).toBe(
      'invalid app settings: FINDING_RETENTION="12h": expected a timespan of at least 1d, like 90d (less would delete what the day\'s runs and digest still read)',
    );
    expect(settingsError({ RUN_RETENTION: "ninety days" })).toMatch(
      /^invalid app settings: RUN_RETENTION="ninety days": expected a timespan/,
    );
    expect(settingsError({ DELIVERY_CLAIM_RETENTION: "2d" })).toMatch(
      /^invalid app settings: DELIVERY_CLAIM_RETENTION="2d": expected a timespan of at least 7d, like 90d \(a queued notice lives up to 7 days/,
    );
    expect(settingsError({ INCIDENT_RETENTION: "2d", INCIDENT_WINDOW: "3d" })).toBe(
      'invalid app settings: INCIDENT_RETENTION="2d": must be longer than INCIDENT_WINDOW (3d): an incident alerts still join would be deleted',
    );
    expect(settingsError({ RETENTION_SCHEDULE: "daily" })).toMatch(/^invalid app settings: RETENTION_SCHEDULE="daily": /);
    const defaults = parseSettings(BASE);
    expect([defaults.FINDING_RETENTION, defaults.INCIDENT_RETENTION, defaults.RUN_RETENTION]).toEqual(["90d", "90d", "90d"]);
    expect([defaults.DELIVERY_CLAIM_RETENTION, defaults.STAGED_RETENTION, defaults.RETENTION_SCHEDULE]).toEqual([
      "7d",
      "7d",
      "0 30 2 * * *",
    ]);
  });

  it("the prune's time budget: 5 minutes unless set, never as long as the Functions timeout in host.json", () => {
    const host = JSON.parse(readFileSync(new URL("../../host.json", import.meta.url), "utf8")) as { functionTimeout: string };
    const [hours, minutes, seconds] = host.functionTimeout.split(":").map(Number);
    const functionTimeoutMs = ((hours * 60 + minutes) * 60 + seconds) * 1000;
    const budget = (env: Record<string, string>) => retentionPolicy(parseSettings({ ...BASE, ...env })).budgetMs;
    expect(budget({})).toBe(5 * 60_000);
    expect(budget({})).toBeLessThanOrEqual(functionTimeoutMs / 2);
    expect(budget({ RETENTION_TIME_BUDGET: "90s" })).toBe(90_000);
    expect(settingsError({ RETENTION_TIME_BUDGET: "10m" })).toBe(
      'invalid app settings: RETENTION_TIME_BUDGET="10m": expected a timespan from 10s to 8m, like 5m (the Functions timeout of 10 minutes ends a longer prune mid-step)',
    );
    expect(8 * 60_000).toBeLessThan(functionTimeoutMs);
    expect(settingsError({ RETENTION_TIME_BUDGET: "0s" })).toMatch(
      /^invalid app settings: RETENTION_TIME_BUDGET="0s": expected a timespan/,
    );
  });

  it("a zero baseline retention (it would delete every baseline) and a mistyped schedule setting", () => {
    expect(settingsError({ BASELINE_RETENTION: "0d" })).toMatch(/^invalid app settings: BASELINE_RETENTION="0d": expected a timespan/);
    expect(settingsError({ HUNT_PASWORD_SPRAY_BY_SOURCE_SCHEDULE: "0 0 * * * *" })).toMatch(
      /^invalid app settings: HUNT_PASWORD_SPRAY_BY_SOURCE_SCHEDULE: no built-in hunt has this schedule setting \(they are HUNT_/,
    );
  });
});

describe("HUNT_PARAMETERS", () => {
  const base = { AzureWebJobsStorage: "UseDevelopmentStorage=true", HUNT_SOURCE: "local" as const, LOCAL_DATA_PATHS: "x" };
  it("only the hunt's declared parameters, with their declared types: a name cannot redefine a table", async () => {
    await expect(
      createRuntime({ ...base, HUNT_PARAMETERS: JSON.stringify({ "windows-logon-by-source-ip": { SecurityEvent: "x" } }) }),
    ).rejects.toThrow(/windows-logon-by-source-ip\.SecurityEvent: not a parameter of this hunt \(it has FailedThreshold, SuccessThreshold/);
    await expect(
      createRuntime({ ...base, HUNT_PARAMETERS: JSON.stringify({ "windows-logon-by-source-ip": { FailedThreshold: "50" } }) }),
    ).rejects.toThrow(/windows-logon-by-source-ip\.FailedThreshold: expected a number, got a string/);
  });
});
