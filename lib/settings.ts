/**
 * App settings, parsed with zod at the edge. The Functions host and the CLI both build their
 * services from here, so a bad setting fails with its name before anything runs, and with its
 * value unless that is a secret (SECRET_SETTINGS).
 */
import { TableServiceClient } from "@azure/data-tables";
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { QueueServiceClient } from "@azure/storage-queue";
import { z } from "zod";
import { builtInHunts, scheduleSettingName } from "./hunts/catalog.js";
import { Duration, SourceKind, Timespan } from "./hunts/schema.js";
import { parseNcrontab } from "./hunts/schedule.js";
import { azuriteConnectionString } from "./state/storage.js";
import { parseTimespan } from "./time.js";
import { DestinationError, parseDestinationUrl } from "./notify/destinations.js";
import type { StorageConfig } from "./state/storage.js";

/** `true`/`false` in any case (the portal and `az` write `True`), or `1`/`0`. */
const Bool = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(["true", "false", "1", "0"], { error: "expected true or false" }))
  .transform((v) => v === "true" || v === "1");
/** Several values in one setting, separated by `;` or `,`. */
const List = z.string().transform((v) =>
  v
    .split(/[;,]/)
    .map((item) => item.trim())
    .filter(Boolean),
);
/** An endpoint the app calls: http(s) only (`javascript:` or `file:` is nonsense here). */
const HttpUrl = z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" });
/** How long one kind of state is kept: a timespan of at least `minimumDays` (`why` says why not less). */
function retention(minimumDays: number, why: string) {
  return z.string().refine((v) => Timespan.safeParse(v).success && (parseTimespan(v) ?? 0) >= minimumDays * 86_400_000, {
    message: `expected a timespan of at least ${minimumDays}d, like 90d (${why})`,
  });
}
/** A prune's time budget leaves the Functions timeout (10 minutes) room for the page in flight and the report. */
const MAX_PRUNE_BUDGET_MS = 8 * 60_000;
const ONE_DAY_AT_LEAST = "less would delete what the day's runs and digest still read";
/** Azure ids (client ids, workspace ids) are GUIDs. */
const Guid = z.guid({ error: "expected a GUID" });
/** A workspace to query besides the main one: its workspace id (GUID) or its Azure resource id. */
const WORKSPACE_REFERENCE =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.operationalinsights\/workspaces\/[^/]+)$/i;

/**
 * Settings whose values are secrets (credentials, or URLs that carry one, like a Teams Workflows
 * URL's `sig=`): errors name them and say what is wrong, and never print the value.
 */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  "AzureWebJobsStorage",
  "NOTIFY_TEAMS_WEBHOOK_URL",
  "NOTIFY_WEBHOOK_URL",
  "NOTIFY_WEBHOOK_SECRET",
]);

/** Standard Webhooks secrets are `whsec_` and 24 to 64 random bytes in base64. */
function webhookSecretProblem(value: string): string | undefined {
  if (value !== value.trim()) return "has leading or trailing whitespace (a newline?): remove it";
  if (!value.startsWith("whsec_")) return "expected a Standard Webhooks secret: whsec_ followed by base64";
  const key = value.slice("whsec_".length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) return "the part after whsec_ is not base64";
  const bytes = Buffer.from(key, "base64").length;
  if (bytes < 24 || bytes > 64) return `the key after whsec_ is ${bytes} bytes; Standard Webhooks keys are 24 to 64 bytes`;
  return undefined;
}

const CONNECTION_STRING_KEYS = new Set([
  "DefaultEndpointsProtocol",
  "AccountName",
  "AccountKey",
  "EndpointSuffix",
  "BlobEndpoint",
  "QueueEndpoint",
  "TableEndpoint",
  "FileEndpoint",
  "SharedAccessSignature",
  "UseDevelopmentStorage",
  "DevelopmentStorageProxyUri",
]);

/**
 * What is wrong with a storage connection string, in words that never repeat its values (it
 * carries an account key): `key=value` pairs of known keys, a credential, and table and queue
 * endpoints, as the Azure SDK clients need them; then the clients themselves must accept it.
 */
export function storageConnectionStringProblem(value: string): string | undefined {
  const pairs = value.split(";").filter((part) => part.trim() !== "");
  const fields = new Map<string, string>();
  for (const [index, pair] of pairs.entries()) {
    const eq = pair.indexOf("=");
    const key = eq > 0 ? pair.slice(0, eq).trim() : "";
    if (!key) return `not a storage connection string: part ${index + 1} is not key=value`;
    if (!CONNECTION_STRING_KEYS.has(key)) return `not a storage connection string: unknown key '${key.slice(0, 40)}'`;
    fields.set(key, pair.slice(eq + 1).trim());
  }
  if (fields.get("UseDevelopmentStorage")?.toLowerCase() === "true") return undefined;
  if (fields.has("UseDevelopmentStorage")) return "UseDevelopmentStorage may only be true";
  if (!fields.get("AccountKey") && !fields.get("SharedAccessSignature")) return "has no AccountKey and no SharedAccessSignature";
  if (fields.get("AccountKey") && !fields.get("AccountName")) return "has an AccountKey but no AccountName";
  for (const service of ["Table", "Queue"]) {
    const endpoint = fields.get(`${service}Endpoint`);
    if (endpoint !== undefined) {
      if (!HttpUrl.safeParse(endpoint).success) return `${service}Endpoint is not an http(s) URL`;
    } else if (!fields.get("AccountName") || !fields.get("DefaultEndpointsProtocol")) {
      return `has no ${service}Endpoint, and no AccountName with DefaultEndpointsProtocol to derive it`;
    }
  }
  const protocol = fields.get("DefaultEndpointsProtocol");
  if (protocol !== undefined && !/^https?$/.test(protocol)) return "DefaultEndpointsProtocol must be https or http";
  try {
    TableServiceClient.fromConnectionString(value);
    QueueServiceClient.fromConnectionString(value);
  } catch {
    return "the Azure Storage clients do not accept it as a connection string";
  }
  return undefined;
}

export const SettingsSchema = z.object({
  AzureWebJobsStorage: z.string().optional(),
  AzureWebJobsStorage__tableServiceUri: HttpUrl.optional(),
  AzureWebJobsStorage__queueServiceUri: HttpUrl.optional(),
  AzureWebJobsStorage__clientId: Guid.optional(),
  STATE_TABLE_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,20}$/, "expected a letter, then up to 20 letters or digits")
    .default("hunt"),
  /** Where hunts read logs: local files, a Log Analytics workspace, or Defender XDR. */
  HUNT_SOURCE: SourceKind.default("log-analytics"),
  LOCAL_DATA_PATHS: List.optional(),
  LOG_ANALYTICS_WORKSPACE_ID: Guid.optional(),
  LOG_ANALYTICS_ADDITIONAL_WORKSPACES: List.pipe(
    z.array(z.string().regex(WORKSPACE_REFERENCE, "expected workspace ids (GUIDs) or workspace resource ids")),
  ).optional(),
  LOG_ANALYTICS_ENDPOINT: HttpUrl.optional(),
  GRAPH_ENDPOINT: HttpUrl.optional(),
  /** PEM file to trust for a stand-in endpoint (the local service endpoint); only that client trusts it. */
  SOURCE_TRUSTED_CA_FILE: z.string().optional(),
  /** `local-development` for the local service endpoint, which takes any token; otherwise managed identity. */
  SOURCE_CREDENTIAL: z.enum(["managed-identity", "local-development"]).default("managed-identity"),
  DIGEST_SCHEDULE: z.string().default("0 0 7 * * *"),
  /** Secrets: checked in parseSettings, where errors can be worded without their values. */
  NOTIFY_TEAMS_WEBHOOK_URL: z.string().optional(),
  NOTIFY_WEBHOOK_URL: z.string().optional(),
  NOTIFY_WEBHOOK_SECRET: z.string().optional(),
  /** 0 means no suppression: every finding is sent. */
  NOTIFY_SUPPRESSION_WINDOW: Timespan.default("1d"),
  /** Baselines of entities not seen for this long are deleted. */
  BASELINE_RETENTION: Duration.default("90d"),
  /** Findings of windows that ended longer ago are deleted (and digest watermarks as old). */
  FINDING_RETENTION: retention(1, ONE_DAY_AT_LEAST).default("90d"),
  /** Incidents whose last alert is older are deleted; longer than INCIDENT_WINDOW. */
  INCIDENT_RETENTION: retention(1, ONE_DAY_AT_LEAST).default("90d"),
  /** Run records started longer ago are deleted. */
  RUN_RETENTION: retention(1, ONE_DAY_AT_LEAST).default("90d"),
  /** Delivery claims (which notice went where) older than this are deleted. */
  DELIVERY_CLAIM_RETENTION: retention(7, "a queued notice lives up to 7 days and must still find its claim").default("7d"),
  /** Staged observations no resume will read, written longer ago, are deleted. */
  STAGED_RETENTION: retention(1, ONE_DAY_AT_LEAST).default("7d"),
  /** When the daily prune job deletes what the retentions above no longer keep. */
  RETENTION_SCHEDULE: z.string().default("0 30 2 * * *"),
  /** How long one prune may run; the next one resumes where it stopped. Under the Functions timeout (host.json, 10 minutes). */
  RETENTION_TIME_BUDGET: z
    .string()
    .refine((v) => Timespan.safeParse(v).success && (parseTimespan(v) ?? 0) >= 10_000 && parseTimespan(v)! <= MAX_PRUNE_BUDGET_MS, {
      message: "expected a timespan from 10s to 8m, like 5m (the Functions timeout of 10 minutes ends a longer prune mid-step)",
    })
    .default("5m"),
  /** Lets destinations be http:// or private/loopback addresses: local development only. */
  NOTIFY_ALLOW_INSECURE: Bool.default(false),
  /** Base URL of this app, for links back to on-demand runs in notifications. */
  PUBLIC_BASE_URL: HttpUrl.default("http://localhost:7071"),
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

/** One problem with one setting: its name, its value unless that is a secret, and what is wrong. */
function problem(name: string, value: string | undefined, message: string): string {
  return SECRET_SETTINGS.has(name) || value === undefined ? `${name}: ${message}` : `${name}=${JSON.stringify(value)}: ${message}`;
}

const DESTINATION_SETTINGS = [
  ["NOTIFY_TEAMS_WEBHOOK_URL", "teams"],
  ["NOTIFY_WEBHOOK_URL", "webhook"],
] as const;

export function parseSettings(rawEnv: Record<string, string | undefined> = process.env): Settings {
  // An empty app setting means "not set" (the sample settings file lists every name, mostly empty).
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== undefined && v.trim() !== "")) as Record<string, string>;
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = String(i.path[0]);
      return problem(i.path.length > 1 ? `${name}[${i.path.slice(1).join(".")}]` : name, env[name], i.message);
    });
    throw new SettingsError(`invalid app settings: ${problems.join("; ")}`);
  }
  const settings = parsed.data;
  const schedules: Record<string, string> = {};
  const problems: string[] = [];
  const known = new Set<string>();
  for (const hunt of builtInHunts()) {
    const name = scheduleSettingName(hunt.id);
    known.add(name);
    const value = env[name] ?? hunt.schedule;
    try {
      parseNcrontab(value);
      schedules[hunt.id] = value;
    } catch (error) {
      problems.push(problem(name, value, (error as Error).message));
    }
  }
  // A mistyped schedule setting would otherwise be ignored, and its hunt keep its default schedule.
  for (const name of Object.keys(env).filter((n) => /^HUNT_.+_SCHEDULE$/.test(n) && !known.has(n))) {
    problems.push(`${name}: no built-in hunt has this schedule setting (they are ${[...known].join(", ")})`);
  }
  for (const name of ["DIGEST_SCHEDULE", "IMPORTED_HUNTS_SCHEDULE", "RETENTION_SCHEDULE"] as const) {
    try {
      parseNcrontab(settings[name]);
    } catch (error) {
      problems.push(problem(name, settings[name], (error as Error).message));
    }
  }
  if (parseTimespan(settings.INCIDENT_RETENTION)! <= parseTimespan(settings.INCIDENT_WINDOW)!)
    problems.push(
      problem(
        "INCIDENT_RETENTION",
        settings.INCIDENT_RETENTION,
        `must be longer than INCIDENT_WINDOW (${settings.INCIDENT_WINDOW}): an incident alerts still join would be deleted`,
      ),
    );
  let parameters: Settings["parameters"] = {};
  if (settings.HUNT_PARAMETERS) {
    try {
      parameters = ParameterOverrides.parse(JSON.parse(settings.HUNT_PARAMETERS));
    } catch (error) {
      problems.push(problem("HUNT_PARAMETERS", settings.HUNT_PARAMETERS, (error as Error).message));
    }
  }
  for (const [name, kind] of DESTINATION_SETTINGS) {
    const value = settings[name];
    if (value === undefined) continue;
    try {
      parseDestinationUrl(kind, value, { allowInsecure: settings.NOTIFY_ALLOW_INSECURE });
    } catch (error) {
      if (!(error instanceof DestinationError)) throw error;
      problems.push(problem(name, value, error.reason));
    }
  }
  if (settings.NOTIFY_WEBHOOK_SECRET !== undefined) {
    const secretProblem = webhookSecretProblem(settings.NOTIFY_WEBHOOK_SECRET);
    if (secretProblem) problems.push(problem("NOTIFY_WEBHOOK_SECRET", settings.NOTIFY_WEBHOOK_SECRET, secretProblem));
  }
  if (settings.AzureWebJobsStorage !== undefined) {
    const storageProblem = storageConnectionStringProblem(settings.AzureWebJobsStorage);
    if (storageProblem) problems.push(problem("AzureWebJobsStorage", settings.AzureWebJobsStorage, storageProblem));
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
