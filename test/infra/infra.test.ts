/**
 * Keeps infra, code and settings in step. The Bicep compiler cannot be installed here (it is a
 * downloaded binary), so this reads what it checks from the files' text.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { huntCatalog, scheduleSettingName } from "../../lib/hunts/catalog.js";
import { parseNcrontab } from "../../lib/hunts/schedule.js";
import { SettingsSchema } from "../../lib/settings.js";
import { QUEUES, TABLES } from "../../lib/state/storage.js";

const infra = (path: string) => readFileSync(new URL(`../../infra/${path}`, import.meta.url), "utf8");
const allBicep = ["main.bicep", ...readdirSync(new URL("../../infra/modules/", import.meta.url)).map((f) => `modules/${f}`)]
  .map(infra)
  .join("\n");
const functionApp = infra("modules/functionapp.bicep");
const sample = JSON.parse(readFileSync(new URL("../../local.settings.sample.json", import.meta.url), "utf8")) as {
  Values: Record<string, string>;
};

/** `param schedules = { 'id': readEnvironmentVariable('HUNT_<ID>_SCHEDULE', 'cron') ... }` from the .bicepparam file. */
function scheduleParameters(): Record<string, { setting: string; cron: string }> {
  const block = /param schedules = \{([\s\S]*?)\n\}/.exec(infra("main.bicepparam"));
  if (!block) throw new Error("main.bicepparam has no schedules object");
  return Object.fromEntries(
    [...block[1].matchAll(/'([^']+)':\s*readEnvironmentVariable\('([^']+)', '([^']+)'\)/g)].map((m) => [
      m[1],
      { setting: m[2], cron: m[3] },
    ]),
  );
}

/** Evaluates the Bicep expression the app uses to name schedule settings. */
function bicepScheduleName(id: string): string {
  const formula = /name: 'HUNT_\$\{toUpper\(replace\(s\.key, '-', '_'\)\)\}_SCHEDULE'/;
  expect(functionApp).toMatch(formula);
  return `HUNT_${id.replace(/-/g, "_").toUpperCase()}_SCHEDULE`;
}

/** Settings only a local run uses: a storage connection string (Azure uses the identity), files. */
const LOCAL_ONLY = new Set(["AzureWebJobsStorage", "LOCAL_DATA_PATHS", "SOURCE_TRUSTED_CA_FILE"]);

describe("infra, code and settings stay in step", () => {
  it("every hunt has a valid schedule in main.bicepparam, and nothing else does", () => {
    const schedules = scheduleParameters();
    expect(Object.keys(schedules).sort()).toEqual(
      huntCatalog()
        .map((h) => h.id)
        .sort(),
    );
    for (const [id, { setting, cron }] of Object.entries(schedules)) {
      expect(() => parseNcrontab(cron), id).not.toThrow();
      // The per-deployment override is read from the environment variable named like the app setting.
      expect(setting).toBe(scheduleSettingName(id));
    }
  });

  it("schedules become the HUNT_<ID>_SCHEDULE settings the timers read", () => {
    for (const hunt of huntCatalog()) expect(bicepScheduleName(hunt.id)).toBe(scheduleSettingName(hunt.id));
    expect(functionApp).toMatch(/name: 'DIGEST_SCHEDULE'/);
  });

  it("every setting the code reads is in local.settings.sample.json and in infra/", () => {
    const read = [...Object.keys(SettingsSchema.shape), ...huntCatalog().map((h) => scheduleSettingName(h.id))];
    for (const name of read) {
      expect(Object.keys(sample.Values), `${name} in local.settings.sample.json`).toContain(name);
      if (LOCAL_ONLY.has(name) || (name.startsWith("HUNT_") && name.endsWith("_SCHEDULE"))) continue;
      expect(allBicep, `${name} in infra/`).toMatch(new RegExp(`name: '${name.replace(/_/g, "_")}'`));
    }
    expect(functionApp).toMatch(/name: 'AzureWebJobsStorage__tableServiceUri'/);
    expect(functionApp).toMatch(/name: 'AzureWebJobsStorage__queueServiceUri'/);
    expect(functionApp).toMatch(/name: 'AzureWebJobsStorage__blobServiceUri'/);
  });

  it("no keys: shared-key storage access is off, App Insights uses Entra auth, secrets are Key Vault references", () => {
    expect(infra("modules/storage.bicep")).toMatch(/allowSharedKeyAccess: false/);
    expect(infra("modules/monitoring.bicep")).toMatch(/DisableLocalAuth: true/);
    for (const setting of ["NOTIFY_TEAMS_WEBHOOK_URL", "NOTIFY_WEBHOOK_URL", "NOTIFY_WEBHOOK_SECRET"]) {
      expect(functionApp).toMatch(new RegExp(`name: '${setting}', value: '@Microsoft.KeyVault\\(SecretUri=`));
    }
    expect(allBicep).not.toMatch(/AccountKey=|listKeys\(/);
  });

  it("the identity gets the roles the code needs, by their built-in ids", () => {
    const needed: Record<string, string> = {
      "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
      "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
      "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
      "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
      "Log Analytics Data Reader": "3b03c2da-16b3-4a49-8834-0f8130efdd3b",
      "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    };
    for (const id of Object.values(needed)) expect(allBicep).toContain(id);
    // The workspace reader is deployed at the workspace's own scope.
    expect(infra("main.bicep")).toMatch(/scope: resourceGroup\(workspaceParts\[2\], workspaceParts\[4\]\)/);
  });

  it("the tables and queues the code uses are the ones infra creates", () => {
    const storage = infra("modules/storage.bicep");
    for (const table of Object.values(TABLES)) expect(storage).toContain(`'hunt${table}'`);
    for (const queue of Object.values(QUEUES)) expect(storage).toContain(`'${queue}'`);
  });

  it("Flex Consumption on Node 22; the code's engines allow Node 20 too", () => {
    expect(functionApp).toMatch(/tier: 'FlexConsumption', name: 'FC1'/);
    expect(functionApp).toMatch(/runtime: \{ name: 'node', version: '22' \}/);
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(">=20");
  });
});
