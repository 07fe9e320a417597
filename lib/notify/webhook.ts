/**
 * Generic webhooks signed per the Standard Webhooks specification: headers `webhook-id` (the same
 * on every retry of one message), `webhook-timestamp` (seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), keyed by the base64 part of `whsec_...`.
 */
import { createHmac } from "node:crypto";

export function signatureHeaders(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  if (!secret.startsWith("whsec_")) throw new Error("webhook secrets start with whsec_");
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const signature = createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64");
  return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": `v1,${signature}` };
}

export interface WebhookEnvelope {
  type: "finding.created" | "incident.opened" | "incident.updated" | "digest.created";
  timestamp: string;
  data: unknown;
}
