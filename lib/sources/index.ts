/** Remote sources by setting: Log Analytics and Defender XDR. */
import { readFileSync } from "node:fs";
import { LocalDevelopmentCredential } from "./local-development-credential.js";
import { credentialFor, type Settings } from "../settings.js";
import { AzureMonitorSource } from "./azure-monitor.js";
import { DefenderXdrSource } from "./defender-xdr.js";
import type { QuerySource } from "./types.js";

export async function remoteSource(settings: Settings): Promise<QuerySource> {
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
