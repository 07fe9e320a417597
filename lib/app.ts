/**
 * Builds everything a Functions worker or the CLI needs from settings: storage, the query source,
 * the run services and the notifier. Nothing here depends on the Functions host.
 */
import { FindingStore } from "./findings/store.js";
import { decodeFindingMessage } from "./findings/index.js";
import { durationMs, findHunt } from "./hunts/catalog.js";
import { importSentinelHunts } from "./hunts/sentinel.js";
import type { Destination } from "./notify/destinations.js";
import { DEFAULT_DELIVERY_POLICY } from "./notify/deliver.js";
import { notifyFinding, type NotifierDeps, type SendResult } from "./notify/notifier.js";
import { NotifyState } from "./notify/state.js";
import { servicesFor, type HuntServices } from "./runs/runner.js";
import { parseSettings, SettingsError, storageConfig, type Settings } from "./settings.js";
import { reportReadIssues } from "./readers/index.js";
import { LocalSource } from "./sources/local.js";
import type { QuerySource } from "./sources/types.js";
import { Storage } from "./state/storage.js";

export interface App {
  settings: Settings;
  storage: Storage;
  services: HuntServices;
  findings: FindingStore;
  notifier: NotifierDeps;
}

export function destinationsFrom(settings: Settings): Destination[] {
  const out: Destination[] = [];
  if (settings.NOTIFY_TEAMS_WEBHOOK_URL) out.push({ id: "teams", kind: "teams", url: settings.NOTIFY_TEAMS_WEBHOOK_URL });
  if (settings.NOTIFY_WEBHOOK_URL)
    out.push({ id: "webhook", kind: "webhook", url: settings.NOTIFY_WEBHOOK_URL, secret: settings.NOTIFY_WEBHOOK_SECRET });
  return out;
}

export async function sourceFrom(settings: Settings): Promise<QuerySource> {
  switch (settings.HUNT_SOURCE) {
    case "local": {
      const { source, issues } = await LocalSource.fromPaths(settings.LOCAL_DATA_PATHS!);
      reportReadIssues(issues, console.warn);
      return source;
    }
    default: {
      const sources = await import("./sources/index.js");
      return sources.remoteSource(settings);
    }
  }
}

export interface AppOptions {
  source?: QuerySource;
  storage?: Storage;
  log?: (message: string) => void;
}

export async function createApp(env: Record<string, string | undefined> = process.env, options: AppOptions = {}): Promise<App> {
  const settings = parseSettings(env);
  if (settings.IMPORTED_HUNTS_PATH) {
    const { hunts, issues } = await importSentinelHunts(settings.IMPORTED_HUNTS_PATH);
    for (const issue of issues) (options.log ?? console.warn)(`imported hunts: ${issue.file}: ${issue.message}`);
    (options.log ?? console.log)(`imported hunts: ${hunts.length} loaded from ${settings.IMPORTED_HUNTS_PATH}`);
  }
  const unknown = Object.keys(settings.parameters).filter((id) => !findHunt(id));
  if (unknown.length)
    throw new SettingsError(`invalid app settings: HUNT_PARAMETERS: no hunt ${unknown.map((id) => `'${id}'`).join(", ")}`);
  const storage = options.storage ?? new Storage(storageConfig(settings));
  await storage.ensure();
  const source = options.source ?? (await sourceFrom(settings));
  const services = servicesFor(storage, source, {
    parameters: settings.parameters,
    retentionMs: durationMs(settings.BASELINE_RETENTION),
    log: options.log,
  });
  const destinations = destinationsFrom(settings);
  const urlPolicy = { allowInsecure: settings.NOTIFY_ALLOW_INSECURE };
  const notifier: NotifierDeps = {
    destinations,
    state: new NotifyState(storage.table("suppression"), storage.table("digests"), { destinations, log: options.log }),
    links: { baseUrl: settings.PUBLIC_BASE_URL },
    suppressionMs: durationMs(settings.NOTIFY_SUPPRESSION_WINDOW),
    urlPolicy,
    // The connection itself is checked too (deliver's connect-time lookup), under the same policy.
    delivery: { ...DEFAULT_DELIVERY_POLICY, urlPolicy },
    log: options.log,
  };
  return { settings, storage, services, findings: services.findings, notifier };
}

/**
 * The queue notifier's work for one message. A message that is not a finding can never succeed:
 * it goes straight to the poison queue (nothing is lost) instead of being retried.
 */
export async function handleFindingMessage(app: App, message: unknown): Promise<SendResult[] | { poisoned: string }> {
  let finding;
  try {
    finding = decodeFindingMessage(message);
  } catch (error) {
    const text = typeof message === "string" ? message : JSON.stringify(message);
    await app.storage.queue("poison").sendMessage(Buffer.from(text, "utf8").toString("base64"));
    return { poisoned: `not a finding: ${(error as Error).message.slice(0, 300)}` };
  }
  return notifyFinding(finding, app.notifier);
}
