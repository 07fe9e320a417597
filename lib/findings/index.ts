/**
 * Findings: what a hunt run reports about one entity in one window. The schema is the contract
 * between the runner, the `findings` queue, the notifier and the digest, so it is parsed with zod
 * wherever a finding crosses a boundary.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { SEVERITIES } from "../hunts/schema.js";

export const FindingSchema = z.object({
  /** Stable across retries: the hunt, the entity and the window. */
  fingerprint: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  huntId: z.string(),
  huntTitle: z.string(),
  runId: z.string(),
  severity: z.enum(SEVERITIES),
  score: z.number().min(0).max(100),
  alert: z.boolean(),
  entity: z.object({ type: z.string(), key: z.string(), values: z.record(z.string(), z.unknown()) }),
  window: z.object({ start: z.iso.datetime(), end: z.iso.datetime() }),
  reasons: z.array(z.string()),
  signals: z.object({ threshold: z.number(), deviation: z.number(), rarity: z.number(), novelty: z.number() }),
  mitre: z.object({ tactics: z.array(z.string()), techniques: z.array(z.string()) }),
  /** The hunt's output row for this entity, trimmed to stay small. */
  details: z.record(z.string(), z.unknown()),
  source: z.string(),
  /** Set when the query returned partial results: the finding may be missing data. */
  partial: z.string().optional(),
  createdAt: z.iso.datetime(),
});
export type Finding = z.infer<typeof FindingSchema>;

export function fingerprint(huntId: string, entityKey: string, window: { start: number; end: number }): string {
  return createHash("sha256")
    .update(`${huntId}\u0000${entityKey}\u0000${window.start}\u0000${window.end}`)
    .digest("base64url")
    .slice(0, 32);
}

/** Keeps a row small enough for a queue message (64 KiB) and a Teams card. */
export function trimDetails(row: Record<string, unknown>, maxChars = 4000): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let used = 0;
  for (const [key, value] of Object.entries(row)) {
    let v = value;
    if (Array.isArray(v) && v.length > 20) v = [...v.slice(0, 20), `... ${v.length - 20} more`];
    let text = JSON.stringify(v) ?? "null";
    if (text.length > 500) {
      v = `${text.slice(0, 480)}...`;
      text = JSON.stringify(v);
    }
    if (used + text.length > maxChars) break;
    out[key] = v;
    used += text.length + key.length;
  }
  return out;
}

/** Queue messages are base64 text: the Functions queue trigger decodes base64 by default. */
export function encodeFindingMessage(finding: Finding): string {
  return Buffer.from(JSON.stringify(finding), "utf8").toString("base64");
}

export function decodeFindingMessage(message: unknown): Finding {
  // The Functions runtime hands the trigger the decoded JSON (object) or text; accept both.
  let value = message;
  if (typeof value === "string") {
    const text = /^[A-Za-z0-9+/=\s]+$/.test(value) && !value.trim().startsWith("{") ? Buffer.from(value, "base64").toString("utf8") : value;
    value = JSON.parse(text);
  }
  return FindingSchema.parse(value);
}
