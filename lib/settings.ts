/**
 * App settings, parsed with zod at the edge. The Functions host and the CLI both build their
 * services from here, so a bad setting fails with its name and value before anything runs.
 */
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { z } from "zod";
import { builtInHunts, scheduleSettingName } from "./hunts/catalog.js";
import { SourceKind, Timespan } from "./hunts/schema.js";
import { parseNcrontab } from "./hunts/schedule.js";
import { azuriteConnectionString } from "./local/azurite.js";
import type { StorageConfig } from "./state/storage.js";

const Bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
/** Several values in one setting, separated by `;` or `,`. */
const List = z.string().transform((v) =>
  v
    .split(/[;,]/)
    .map((item) => item.trim())
    .filter(Boolean),
);

export const SettingsSchema = z.object({
  AzureWebJobsStorage: z.string().optional(),
  AzureWebJobsStorage__tableServiceUri: z.url().optional(),
  AzureWebJobsStorage__queueServiceUri: z.url().optional(),
  AzureWebJobsStorage__clientId: z.string().optional(),
  STATE_TABLE_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,20}$/)
    .default("hunt"),
  /** Where hunts read logs: local files, a Log Analytics workspace, or Defender XDR. */
  HUNT_SOURCE: SourceKind.default("log-analytics"),
  LOCAL_DATA_PATHS: List.optional(),
  LOG_ANALYTICS_WORKSPACE_ID: z.uuid().optional(),
  LOG_ANALYTICS_ADDITIONAL_WORKSPACES: List.optional(),
  LOG_ANALYTICS_ENDPOINT: z.url().optional(),
  GRAPH_ENDPOINT: z.url().optional(),
  /** PEM file to trust for a stand-in endpoint (the local service endpoint); only that client trusts it. */
  SOURCE_TRUSTED_CA_FILE: z.string().optional(),
  /** `local-development` for the local service endpoint, which takes any token; otherwise managed identity. */
  SOURCE_CREDENTIAL: z.enum(["managed-identity", "local-development"]).default("managed-identity"),
  DIGEST_SCHEDULE: z.string().default("0 0 7 * * *"),
  NOTIFY_TEAMS_WEBHOOK_URL: z.url().optional(),
  NOTIFY_WEBHOOK_URL: z.url().optional(),
  NOTIFY_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, "expected a Standard Webhooks secret: whsec_ followed by base64")
    .optional(),
  NOTIFY_SUPPRESSION_WINDOW: Timespan.default("1d"),
  /** Baselines of entities not seen for this long are deleted. */
  BASELINE_RETENTION: Timespan.default("90d"),
  /** Lets destinations be http:// or private/loopback addresses: local development only. */
  NOTIFY_ALLOW_INSECURE: Bool.default(false),
  /** Base URL of this app, for links back to on-demand runs in notifications. */
  PUBLIC_BASE_URL: z.url().default("http://localhost:7071"),
  /** A folder of Sentinel hunting-query and analytic-rule YAML files to run beside the built-in hunts. */
  IMPORTED_HUNTS_PATH: z.string().optional(),
  /** How often the generic timer checks which imported hunts are due. */
  IMPORTED_HUNTS_SCHEDULE: z.string().default("0 */5 * * * *"),
  /** JSON: parameter overrides per hunt, e.g. {"windows-logon-by-source-ip":{"FailedThreshold":50}}. */
  HUNT_PARAMETERS: z.string().optional(),
  /** Alerts join an open incident that shares an entity with them for this long after its last alert. */
  INCIDENT_WINDOW: Timespan.default("1d"),
  /** Base64 of 32+ random bytes: signs the links on cards (open an incident or run, mark benign). A Key Vault secret in Azure. */
  LINK_SIGNING_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43,}={0,2}$/, "expected base64 of at least 32 random bytes")
    .optional(),
  /** The Sentinel workspace's resource id, for "Open in Log Analytics" links on cards. */
  LOG_ANALYTICS_WORKSPACE_RESOURCE_ID: z
    .string()
    .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.OperationalInsights\/workspaces\/[^/]+$/i)
    .optional(),
  /** A YAML file of exceptions (benign entities) loaded into Table Storage at start; the repository's exceptions.yaml by default. */
  EXCEPTIONS_FILE: z.string().optional(),
});

export type Settings = z.infer<typeof SettingsSchema> & {
  schedules: Record<string, string>;
  parameters: Record<string, Record<string, number | string | (number | string)[]>>;
};

export class SettingsError extends Error {}

const ParameterOverrides = z.record(
  z.string(),
  z.record(z.string(), z.union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))])),
);

export function parseSettings(rawEnv: Record<string, string | undefined> = process.env): Settings {
  // An empty app setting means "not set" (the sample settings file lists every name, mostly empty).
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}=${JSON.stringify(env[String(i.path[0])] ?? null)}: ${i.message}`);
    throw new SettingsError(`invalid app settings: ${problems.join("; ")}`);
  }
  const settings = parsed.data;
  const schedules: Record<string, string> = {};
  const problems: string[] = [];
  for (const hunt of builtInHunts()) {
    const name = scheduleSettingName(hunt.id);
    const value = env[name] ?? hunt.schedule;
    try {
      parseNcrontab(value);
      schedules[hunt.id] = value;
    } catch (error) {
      problems.push(`${name}=${JSON.stringify(value)}: ${(error as Error).message}`);
    }
  }
  for (const name of ["DIGEST_SCHEDULE", "IMPORTED_HUNTS_SCHEDULE"] as const) {
    try {
      parseNcrontab(settings[name]);
    } catch (error) {
      problems.push(`${name}=${JSON.stringify(settings[name])}: ${(error as Error).message}`);
    }
  }
  let parameters: Settings["parameters"] = {};
  if (settings.HUNT_PARAMETERS) {
    try {
      parameters = ParameterOverrides.parse(JSON.parse(settings.HUNT_PARAMETERS));
    } catch (error) {
      problems.push(`HUNT_PARAMETERS=${JSON.stringify(settings.HUNT_PARAMETERS)}: ${(error as Error).message}`);
    }
  }
  if (settings.HUNT_SOURCE === "local" && !settings.LOCAL_DATA_PATHS?.length)
    problems.push("LOCAL_DATA_PATHS: required when HUNT_SOURCE=local");
  if (settings.HUNT_SOURCE === "log-analytics" && !settings.LOG_ANALYTICS_WORKSPACE_ID)
    problems.push("LOG_ANALYTICS_WORKSPACE_ID: required when HUNT_SOURCE=log-analytics");
  if (!settings.AzureWebJobsStorage && !(settings.AzureWebJobsStorage__tableServiceUri && settings.AzureWebJobsStorage__queueServiceUri)) {
    problems.push(
      "AzureWebJobsStorage: set a connection string (local) or AzureWebJobsStorage__tableServiceUri and __queueServiceUri (managed identity)",
    );
  }
  if (problems.length) throw new SettingsError(`invalid app settings: ${problems.join("; ")}`);
  return { ...settings, schedules, parameters };
}

/** Managed identity in Azure (a user-assigned one when its client id is set), developer credentials elsewhere. */
export function credentialFor(settings: Pick<Settings, "AzureWebJobsStorage__clientId">): TokenCredential {
  return settings.AzureWebJobsStorage__clientId
    ? new ManagedIdentityCredential({ clientId: settings.AzureWebJobsStorage__clientId })
    : new DefaultAzureCredential();
}

export function storageConfig(settings: Settings): StorageConfig {
  if (settings.AzureWebJobsStorage__tableServiceUri && settings.AzureWebJobsStorage__queueServiceUri) {
    return {
      kind: "identity",
      tableServiceUri: settings.AzureWebJobsStorage__tableServiceUri,
      queueServiceUri: settings.AzureWebJobsStorage__queueServiceUri,
      credential: credentialFor(settings),
      tablePrefix: settings.STATE_TABLE_PREFIX,
    };
  }
  const connectionString =
    settings.AzureWebJobsStorage === "UseDevelopmentStorage=true" ? DEVELOPMENT_STORAGE : settings.AzureWebJobsStorage!;
  return { kind: "connection-string", connectionString, tablePrefix: settings.STATE_TABLE_PREFIX };
}

/** What `UseDevelopmentStorage=true` means: Azurite on its default ports. */
const DEVELOPMENT_STORAGE = azuriteConnectionString({ blob: 10000, queue: 10001, table: 10002 });
