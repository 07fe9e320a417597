/**
 * Sends incident notices, single findings and digests to every configured destination: Teams
 * cards to Workflows webhooks, signed JSON to generic webhooks.
 *
 * Each message is delivered once per destination: the notifier claims (message, destination) in
 * Table Storage before sending (lib/notify/claims.ts), so duplicate queue messages handled at the
 * same time, or a retried message, do not send twice. Single findings are also suppressed per
 * hunt and entity within the suppression window.
 */
import type { Finding } from "../findings/finding.js";
import type { FindingStore } from "../findings/store.js";
import type { Incident, IncidentStore } from "../incidents/store.js";
import type { CardLinks } from "../links/signed.js";
import type { Logger } from "../log.js";
import type { DeliveryClaims } from "./claims.js";
import { DEFAULT_DELIVERY_POLICY, deliver, RetryableDeliveryError, type DeliveryOutcome, type DeliveryPolicy } from "./deliver.js";
import { validateDestinationUrl, type Destination, type UrlPolicy } from "./destinations.js";
import type { IncidentNoticeMessage, QueueMessage } from "./queue-message.js";
import type { NotifyState } from "./destination-state.js";
import { digestMessages, findingMessage, incidentMessage } from "./teams.js";
import { signatureHeaders, type WebhookEnvelope } from "./webhook.js";

export interface NotifierDeps {
  destinations: readonly Destination[];
  state: NotifyState;
  claims: DeliveryClaims;
  incidents: IncidentStore;
  links: CardLinks;
  suppressionMs: number;
  urlPolicy: UrlPolicy;
  delivery?: DeliveryPolicy;
  now?: () => number;
  log?: Logger;
}

export interface SendResult {
  destination: string;
  outcome: DeliveryOutcome["status"] | "suppressed" | "disabled" | "failed" | "duplicate";
  detail?: string;
}

export function suppressionKey(finding: Finding): string {
  return `${finding.huntId}|${finding.entity.key}`;
}

type Body = { id: string; body: string };

function envelope(type: WebhookEnvelope["type"], data: unknown, now: number): string {
  return JSON.stringify({ type, timestamp: new Date(now).toISOString(), data } satisfies WebhookEnvelope);
}

async function send(destination: Destination, bodies: Body[], deps: NotifierDeps): Promise<DeliveryOutcome> {
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
      // The webhook was deleted: stop sending to it (notices and digests alike).
      await deps.state.disable(destination.id, "410 Gone");
      deps.log?.warn(`destination ${destination.id} answered 410 Gone: disabled`);
    }
    if (outcome.status !== "delivered") return outcome;
  }
  return outcome!;
}

/**
 * Delivers one message to every destination it is due at, once: claimed first, marked sent after.
 * Throws RetryableDeliveryError when some destination should be tried again later (the queue
 * retries the message; destinations that already got it are not sent it again).
 */
async function deliverOnce(
  messageId: string,
  bodiesFor: (destination: Destination) => Body[],
  deps: NotifierDeps,
  suppression?: string,
): Promise<SendResult[]> {
  const now = (deps.now ?? Date.now)();
  const results: SendResult[] = [];
  const retry: RetryableDeliveryError[] = [];
  for (const destination of deps.destinations) {
    if (await deps.state.isDisabled(destination.id)) {
      results.push({ destination: destination.id, outcome: "disabled" });
      continue;
    }
    if (suppression && (await deps.state.isSuppressed(destination.id, suppression, now))) {
      results.push({ destination: destination.id, outcome: "suppressed" });
      continue;
    }
    const claim = await deps.claims.claim(destination, messageId, now);
    if (claim !== "claimed") {
      results.push({ destination: destination.id, outcome: "duplicate", detail: claim });
      continue;
    }
    try {
      const outcome = await send(destination, bodiesFor(destination), deps);
      if (outcome.status === "delivered") {
        await deps.claims.markSent(destination, messageId, now);
        if (suppression) await deps.state.suppress(destination.id, suppression, now + deps.suppressionMs);
      } else {
        await deps.claims.release(destination, messageId);
        // Rejected (4xx) is final for this message: say so, it is not retried.
        if (outcome.status === "rejected")
          deps.log?.warn(`destination ${destination.id} rejected ${messageId}: HTTP ${outcome.httpStatus} ${outcome.body.slice(0, 300)}`);
      }
      results.push({
        destination: destination.id,
        outcome: outcome.status,
        ...(outcome.status === "rejected" ? { detail: `HTTP ${outcome.httpStatus}: ${outcome.body}` } : {}),
      });
    } catch (error) {
      await deps.claims.release(destination, messageId);
      if (!(error instanceof RetryableDeliveryError)) throw error;
      retry.push(error);
      results.push({ destination: destination.id, outcome: "failed", detail: error.message });
    }
  }
  if (retry.length) throw retry[0];
  return results;
}

/** One finding everywhere it is due (a finding put on the queue by a tool or an older version). */
export function notifyFinding(finding: Finding, deps: NotifierDeps): Promise<SendResult[]> {
  const now = (deps.now ?? Date.now)();
  const id = `msg_${finding.fingerprint}`;
  return deliverOnce(
    id,
    (d) => [
      {
        id,
        body: d.kind === "teams" ? JSON.stringify(findingMessage(finding, deps.links, now)) : envelope("finding.created", finding, now),
      },
    ],
    deps,
    suppressionKey(finding),
  );
}

/** An incident opened or raised: one card per incident, with its findings and shared entities. */
export async function notifyIncident(notice: IncidentNoticeMessage, deps: NotifierDeps): Promise<SendResult[]> {
  const incident = await deps.incidents.get(notice.incidentId);
  if (!incident) throw new Error(`incident ${notice.incidentId} is not stored (yet)`);
  const now = (deps.now ?? Date.now)();
  const id = `msg_${incident.id}_${notice.runId}`.replace(/[^A-Za-z0-9_.-]/g, "_");
  const type = notice.notice === "opened" ? "incident.opened" : "incident.updated";
  return deliverOnce(
    id,
    (d) => [
      {
        id,
        body:
          d.kind === "teams" ? JSON.stringify(incidentMessage(incident, notice.notice, deps.links, now)) : envelope(type, incident, now),
      },
    ],
    deps,
  );
}

export function notifyQueueMessage(message: QueueMessage, deps: NotifierDeps): Promise<SendResult[]> {
  return "notice" in message ? notifyIncident(message.notice, deps) : notifyFinding(message.finding, deps);
}

export interface DigestResult {
  since: number;
  until: number;
  /** Alerts, grouped by the incidents they belong to. */
  incidents: Incident[];
  /** Findings that did not alert (usual for the entity, fleet-wide changes, exceptions), one per hunt, entity and reason, best first. */
  quiet: QuietEntry[];
  findings: Finding[];
  sent: SendResult[];
}

/**
 * One digest per destination of what happened since its last digest: incidents with their alerts,
 * then what was kept quiet and why. A destination's watermark moves only when its digest was delivered.
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
    const findings = await store.between(since, until);
    const alerts = findings.filter((f) => f.alert);
    const ids = [...new Set(alerts.map((f) => f.incidentId).filter((id) => id !== undefined))];
    const incidents = (await Promise.all(ids.map((id) => deps.incidents.get(id)))).filter((i) => i !== undefined);
    const quiet = quietEntries(findings);
    const digest = { incidents, alerts, quiet, since, until };
    let result: SendResult;
    try {
      const id = `msg_digest_${until}`;
      const bodies: Body[] =
        destination.kind === "teams"
          ? digestMessages(digest, deps.links, { title: "Threat hunt digest" }).map((m, i) => ({
              id: `${id}_${i}`,
              body: JSON.stringify(m),
            }))
          : [
              {
                id,
                body: envelope(
                  "digest.created",
                  { since: new Date(since).toISOString(), until: new Date(until).toISOString(), incidents, alerts, quiet },
                  until,
                ),
              },
            ];
      const outcome = await send(destination, bodies, deps);
      if (outcome.status === "delivered") await deps.state.recordDigest(destination.id, until, alerts.length);
      result = { destination: destination.id, outcome: outcome.status };
    } catch (error) {
      if (!(error instanceof RetryableDeliveryError)) throw error;
      result = { destination: destination.id, outcome: "failed", detail: error.message };
    }
    out.push({ since, until, incidents, quiet, findings: alerts, sent: [result] });
  }
  return out;
}

/** A finding kept quiet, as a digest lists it: the latest of its hunt, entity and reason, and how many windows it stands for. */
export type QuietEntry = Finding & { windows: number };

/**
 * What a digest lists as kept quiet: one entry per hunt, entity and kind of reason (the reason up to
 * its first colon: "usual for this ip", "expected", "excepted"), the latest, with how many windows
 * it stands for; best first. An appliance usual on an hourly hunt is one line a day, not 24.
 */
export function quietEntries(findings: readonly Finding[]): QuietEntry[] {
  const entries = new Map<string, QuietEntry>();
  for (const f of findings) {
    if (f.alert || !f.digestOnly) continue;
    const key = `${f.huntId}\u0000${f.entity.key}\u0000${f.digestOnly.split(":")[0]}`;
    const entry = entries.get(key);
    if (!entry) entries.set(key, { ...f, windows: 1 });
    else entries.set(key, { ...(f.window.end > entry.window.end ? f : entry), windows: entry.windows + 1 });
  }
  return [...entries.values()].sort((a, b) => b.score - a.score);
}

/** One line for a log: where each digest went and what it carried. */
export function describeDigests(results: readonly DigestResult[]): string {
  return (
    results
      .map(
        (r) =>
          `${r.sent[0]?.destination} ${r.sent[0]?.outcome} (${r.incidents.length} incident(s), ${r.findings.length} alert(s), ${r.quiet.length} quiet)`,
      )
      .join(", ") || "no destinations"
  );
}
