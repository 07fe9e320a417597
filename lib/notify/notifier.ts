/**
 * Sends findings and digests to every configured destination: Teams cards to Workflows webhooks,
 * signed JSON to generic webhooks. Each finding is sent once per destination within the
 * suppression window (keyed by hunt and entity, so a noisy entity does not repeat every hour).
 */
import type { Finding } from "../findings/finding.js";
import type { FindingStore } from "../findings/store.js";
import type { Logger } from "../log.js";
import { validateDestinationUrl, type Destination, type UrlPolicy } from "./destinations.js";
import { DEFAULT_DELIVERY_POLICY, deliver, RetryableDeliveryError, type DeliveryOutcome, type DeliveryPolicy } from "./deliver.js";
import type { NotifyState } from "./state.js";
import { digestMessages, findingMessage, type CardLinks } from "./teams.js";
import { signatureHeaders, type WebhookEnvelope } from "./webhook.js";

export interface NotifierDeps {
  destinations: readonly Destination[];
  state: NotifyState;
  links: CardLinks;
  suppressionMs: number;
  urlPolicy: UrlPolicy;
  delivery?: DeliveryPolicy;
  now?: () => number;
  log?: Logger;
}

export interface SendResult {
  destination: string;
  outcome: DeliveryOutcome["status"] | "suppressed" | "disabled" | "failed";
  detail?: string;
}

export function suppressionKey(finding: Finding): string {
  return `${finding.huntId}|${finding.entity.key}`;
}

/** The bodies to POST to one destination (a digest may need several Teams messages). */
function bodiesFor(
  destination: Destination,
  payload: { finding?: Finding; digest?: { findings: Finding[]; since: number; until: number } },
  links: CardLinks,
  now: number,
): { id: string; body: string }[] {
  if (destination.kind === "teams") {
    if (payload.finding)
      return [{ id: `msg_${payload.finding.fingerprint}`, body: JSON.stringify(findingMessage(payload.finding, links)) }];
    const d = payload.digest!;
    return digestMessages(d.findings, links, {
      title: "Threat hunt digest",
      since: new Date(d.since).toISOString(),
      until: new Date(d.until).toISOString(),
    }).map((m, i) => ({
      id: `msg_digest_${d.until}_${i}`,
      body: JSON.stringify(m),
    }));
  }
  const envelope: WebhookEnvelope = payload.finding
    ? { type: "finding.created", timestamp: new Date(now).toISOString(), data: payload.finding }
    : {
        type: "digest.created",
        timestamp: new Date(now).toISOString(),
        data: {
          since: new Date(payload.digest!.since).toISOString(),
          until: new Date(payload.digest!.until).toISOString(),
          findings: [...payload.digest!.findings].sort((a, b) => b.score - a.score),
        },
      };
  const id = payload.finding ? `msg_${payload.finding.fingerprint}` : `msg_digest_${payload.digest!.until}`;
  return [{ id, body: JSON.stringify(envelope) }];
}

async function send(destination: Destination, bodies: { id: string; body: string }[], deps: NotifierDeps): Promise<DeliveryOutcome> {
  await validateDestinationUrl(destination.kind, destination.url, deps.urlPolicy);
  let outcome: DeliveryOutcome | undefined;
  for (const { id, body } of bodies) {
    // The id stays the same on every retry; the timestamp and signature are fresh per attempt.
    const headers = () =>
      destination.kind === "webhook" && destination.secret
        ? signatureHeaders(destination.secret, id, Math.floor(Date.now() / 1000), body)
        : { "webhook-id": id };
    outcome = await deliver(destination, body, headers, deps.delivery ?? DEFAULT_DELIVERY_POLICY);
    if (outcome.status === "gone") {
      // The webhook was deleted: stop sending to it (findings and digests alike).
      await deps.state.disable(destination.id, "410 Gone");
      deps.log?.warn(`destination ${destination.id} answered 410 Gone: disabled`);
    }
    if (outcome.status !== "delivered") return outcome;
  }
  return outcome!;
}

/**
 * Sends one finding everywhere it is due. Throws RetryableDeliveryError when some destination
 * should be tried again later (the queue retries the message; destinations that already got it
 * are suppressed, so they do not get it twice).
 */
export async function notifyFinding(finding: Finding, deps: NotifierDeps): Promise<SendResult[]> {
  const now = (deps.now ?? Date.now)();
  const results: SendResult[] = [];
  const retry: RetryableDeliveryError[] = [];
  const key = suppressionKey(finding);
  for (const destination of deps.destinations) {
    if (await deps.state.isDisabled(destination.id)) {
      results.push({ destination: destination.id, outcome: "disabled" });
      continue;
    }
    if (await deps.state.isSuppressed(destination.id, key, now)) {
      results.push({ destination: destination.id, outcome: "suppressed" });
      continue;
    }
    try {
      const outcome = await send(destination, bodiesFor(destination, { finding }, deps.links, now), deps);
      if (outcome.status === "delivered") await deps.state.suppress(destination.id, key, now + deps.suppressionMs);
      results.push({
        destination: destination.id,
        outcome: outcome.status,
        ...(outcome.status === "rejected" ? { detail: `HTTP ${outcome.httpStatus}: ${outcome.body}` } : {}),
      });
    } catch (error) {
      if (!(error instanceof RetryableDeliveryError)) throw error;
      retry.push(error);
      results.push({ destination: destination.id, outcome: "failed", detail: error.message });
    }
  }
  if (retry.length) throw retry[0];
  return results;
}

export interface DigestResult {
  since: number;
  until: number;
  findings: Finding[];
  sent: SendResult[];
}

/**
 * One ranked digest per destination of the alerting findings since that destination's last
 * digest; each destination's watermark moves only when its digest was delivered.
 */
export async function sendDigest(
  store: FindingStore,
  deps: NotifierDeps,
  options: { now?: number; lookbackMs?: number } = {},
): Promise<DigestResult[]> {
  const until = options.now ?? (deps.now ?? Date.now)();
  const out: DigestResult[] = [];
  for (const destination of deps.destinations) {
    if (await deps.state.isDisabled(destination.id)) continue;
    const since = (await deps.state.lastDigest(destination.id)) ?? until - (options.lookbackMs ?? 86_400_000);
    const findings = await store.between(since, until, { alertsOnly: true });
    let result: SendResult;
    try {
      const outcome = await send(destination, bodiesFor(destination, { digest: { findings, since, until } }, deps.links, until), deps);
      if (outcome.status === "delivered") await deps.state.recordDigest(destination.id, until, findings.length);
      result = { destination: destination.id, outcome: outcome.status };
    } catch (error) {
      if (!(error instanceof RetryableDeliveryError)) throw error;
      result = { destination: destination.id, outcome: "failed", detail: error.message };
    }
    out.push({ since, until, findings, sent: [result] });
  }
  return out;
}

/** One line for a log: where each digest went and how many findings it carried. */
export function describeDigests(results: readonly DigestResult[]): string {
  return results.map((r) => `${r.sent[0]?.destination} ${r.sent[0]?.outcome} (${r.findings.length})`).join(", ") || "no destinations";
}
