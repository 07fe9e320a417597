/**
 * What travels on the `findings` queue, base64 JSON as the Functions queue trigger reads it: an
 * incident notice (an incident opened, or raised by a later alert) or, from older versions and
 * ad-hoc tools, a single finding. Parsed with zod when it is taken off the queue.
 */
import { z } from "zod";
import { FindingSchema, type Finding } from "../findings/finding.js";
import { NoticeKind } from "../incidents/store.js";

export const IncidentNoticeMessage = z
  .object({ kind: z.literal("incident"), incidentId: z.string().min(1).max(100), notice: NoticeKind, runId: z.string().min(1).max(200) })
  .strict();
export type IncidentNoticeMessage = z.infer<typeof IncidentNoticeMessage>;

export type QueueMessage = { notice: IncidentNoticeMessage } | { finding: Finding };

/** Queue messages are base64 text: the Functions queue trigger decodes base64 by default. */
export function encodeQueueMessage(message: IncidentNoticeMessage | Finding): string {
  return Buffer.from(JSON.stringify(message), "utf8").toString("base64");
}

/** Kept for tools and tests that put a single finding on the queue. */
export const encodeFindingMessage = (finding: Finding) => encodeQueueMessage(finding);

export function decodeQueueMessage(message: unknown): QueueMessage {
  // The Functions runtime hands the trigger the decoded JSON (object) or text; accept both.
  let value = message;
  if (typeof value === "string") {
    const text = /^[A-Za-z0-9+/=\s]+$/.test(value) && !value.trim().startsWith("{") ? Buffer.from(value, "base64").toString("utf8") : value;
    value = JSON.parse(text);
  }
  if (value && typeof value === "object" && (value as { kind?: unknown }).kind === "incident")
    return { notice: IncidentNoticeMessage.parse(value) };
  return { finding: FindingSchema.parse(value) };
}
