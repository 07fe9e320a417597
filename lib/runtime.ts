/**
 * Builds everything a Functions worker or the CLI needs from settings: storage, the query source,
 * the run services and the notifier. Nothing here depends on the Functions host.
 */
import { FindingStore } from "./findings/store.js";
import { durationMs, findHunt } from "./hunts/catalog.js";
import { parameterProblems } from "./hunts/parameters.js";
import { importSentinelHunts } from "./hunts/sentinel.js";
import type { Destination } from "./notify/destinations.js";
import { consoleLogger, type Logger } from "./log.js";
import { DEFAULT_DELIVERY_POLICY } from "./notify/deliver.js";
import type { NotifierDeps } from "./notify/notifier.js";
import { NotifyState } from "./notify/destination-state.js";
import { pruneState, type PruneReport, type RetentionPolicy } from "./runs/retention.js";
import { servicesFor, type HuntServices } from "./runs/runner.js";
import { BaselineStore, prevalenceRefreshFor } from "./baselines/store.js";
import { credentialFor, parseSettings, SettingsError, storageConfig, type Settings } from "./settings.js";
import { AzureMonitorSource } from "./sources/azure-monitor.js";
import { DefenderXdrSource } from "./sources/defender-xdr.js";
import { LocalDevelopmentCredential } from "./sources/local-development-credential.js";
import { reportReadIssues } from "./readers/index.js";
import { LocalSource } from "./sources/local.js";
import type { QuerySource } from "./sources/types.js";
import { Storage } from "./state/storage.js";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { IncidentStore } from "./incidents/store.js";
import { LinkSigner, type CardLinks } from "./links/signed.js";
import { DeliveryClaims } from "./notify/claims.js";

/** The exceptions deployed with the app (the repository's file), loaded at start when present. */
const DEFAULT_EXCEPTIONS_FILE = fileURLToPath(new URL("../exceptions.yaml", import.meta.url).href.replace("/dist/", "/"));

export interface Runtime {
  links: CardLinks;
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

/** Log Analytics or Defender XDR, with the app's identity (or the local stand-in's credential). */
function remoteSource(settings: Settings): QuerySource {
  const credential = settings.SOURCE_CREDENTIAL === "local-development" ? new LocalDevelopmentCredential() : credentialFor(settings);
  const trustedCa = settings.SOURCE_TRUSTED_CA_FILE ? readFileSync(settings.SOURCE_TRUSTED_CA_FILE, "utf8") : undefined;
  if (settings.HUNT_SOURCE === "defender-xdr") return new DefenderXdrSource({ credential, endpoint: settings.GRAPH_ENDPOINT, trustedCa });
  return new AzureMonitorSource({
    workspaceId: settings.LOG_ANALYTICS_WORKSPACE_ID!,
    additionalWorkspaces: settings.LOG_ANALYTICS_ADDITIONAL_WORKSPACES,
    credential,
    endpoint: settings.LOG_ANALYTICS_ENDPOINT,
    trustedCa,
  });
}

export async function sourceFrom(settings: Settings, log: Logger): Promise<QuerySource> {
  switch (settings.HUNT_SOURCE) {
    case "local": {
      // On a worker thread: a long query must not hold the HTTP API, the timers or the queue worker.
      const { source, issues } = await LocalSource.fromPaths(settings.LOCAL_DATA_PATHS!, { worker: true });
      reportReadIssues(issues, (line) => log.warn(line));
      return source;
    }
    default:
      return remoteSource(settings);
  }
}

export interface RuntimeOptions {
  source?: QuerySource;
  storage?: Storage;
  /** Where the runtime's own lines go; a Functions invocation passes its context's logger per call. */
  log?: Logger;
  /** The storage is this runtime's alone (a backtest's private Azurite): see BaselineStoreOptions.soleWriter. */
  soleWriter?: boolean;
}

/** How long each kind of state is kept, from the *_RETENTION settings. */
export function retentionPolicy(settings: Settings): RetentionPolicy {
  return {
    findingsMs: durationMs(settings.FINDING_RETENTION),
    incidentsMs: durationMs(settings.INCIDENT_RETENTION),
    runsMs: durationMs(settings.RUN_RETENTION),
    deliveryClaimsMs: durationMs(settings.DELIVERY_CLAIM_RETENTION),
    stagedMs: durationMs(settings.STAGED_RETENTION),
    baselinesMs: durationMs(settings.BASELINE_RETENTION),
    budgetMs: durationMs(settings.RETENTION_TIME_BUDGET),
  };
}

/** Deletes the app's state older than its retention settings: the daily prune job and `hunts prune`. */
export function pruneRuntimeState(runtime: Runtime, now: number): Promise<PruneReport> {
  const { services, notifier } = runtime;
  return pruneState({ ...services, claims: notifier.claims, notifyState: notifier.state }, retentionPolicy(runtime.settings), now);
}

export async function createRuntime(env: Record<string, string | undefined> = process.env, options: RuntimeOptions = {}): Promise<Runtime> {
  const settings = parseSettings(env);
  const log = options.log ?? consoleLogger;
  if (settings.IMPORTED_HUNTS_PATH) {
    const { hunts, issues } = await importSentinelHunts(settings.IMPORTED_HUNTS_PATH);
    for (const issue of issues) log.warn(`imported hunts: ${issue.file}: ${issue.message}`);
    log.info(`imported hunts: ${hunts.length} loaded from ${settings.IMPORTED_HUNTS_PATH}`);
  }
  const unknown = Object.keys(settings.parameters).filter((id) => !findHunt(id));
  if (unknown.length)
    throw new SettingsError(`invalid app settings: HUNT_PARAMETERS: no hunt ${unknown.map((id) => `'${id}'`).join(", ")}`);
  const parameterIssues = Object.entries(settings.parameters).flatMap(([id, overrides]) => parameterProblems(findHunt(id)!, overrides));
  if (parameterIssues.length) throw new SettingsError(`invalid app settings: HUNT_PARAMETERS: ${parameterIssues.join("; ")}`);
  const storage = options.storage ?? new Storage(storageConfig(settings));
  await storage.ensure();
  const source = options.source ?? (await sourceFrom(settings, log));
  const links: CardLinks = {
    baseUrl: settings.PUBLIC_BASE_URL,
    signer: new LinkSigner(settings.LINK_SIGNING_KEY),
    workspaceResourceId: settings.LOG_ANALYTICS_WORKSPACE_RESOURCE_ID,
  };
  const services = servicesFor(storage, source, {
    baselines: new BaselineStore(storage.table("baselines"), {
      prevalenceRefreshMs: prevalenceRefreshFor(retentionPolicy(settings).baselinesMs),
      soleWriter: options.soleWriter,
    }),
    incidents: new IncidentStore(storage.table("incidents"), durationMs(settings.INCIDENT_WINDOW)),
    parameters: settings.parameters,
    log,
  });
  const exceptionsFile = settings.EXCEPTIONS_FILE ?? (existsSync(DEFAULT_EXCEPTIONS_FILE) ? DEFAULT_EXCEPTIONS_FILE : undefined);
  if (exceptionsFile) {
    const seeded = await services.exceptions.seedFromFile(exceptionsFile, Date.now());
    for (const problem of seeded.problems) log.warn(`exceptions: ${problem}`);
  }
  const destinations = destinationsFrom(settings);
  const urlPolicy = { allowInsecure: settings.NOTIFY_ALLOW_INSECURE };
  const notifier: NotifierDeps = {
    destinations,
    state: new NotifyState(storage.table("suppression"), storage.table("digests"), { destinations, log }),
    claims: new DeliveryClaims(storage.table("deliveries")),
    incidents: services.incidents,
    links,
    suppressionMs: durationMs(settings.NOTIFY_SUPPRESSION_WINDOW),
    urlPolicy,
    // The connection itself is checked too (deliver's connect-time lookup), under the same policy.
    delivery: { ...DEFAULT_DELIVERY_POLICY, urlPolicy },
    log,
  };
  return { settings, storage, services, findings: services.findings, notifier, links };
}
