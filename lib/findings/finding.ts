/**
 * Findings: what a hunt run reports about one entity in one window. The schema is the contract
 * between the runner, the `findings` queue, the notifier and the digest, so it is parsed with zod
 * wherever a finding crosses a boundary.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Hunt } from "../hunts/schema.js";
import { SEVERITIES } from "../hunts/schema.js";
import { entitiesOf, SharedEntity } from "../hunts/entities.js";
import type { Score } from "../scoring/index.js";
import { trimDetails } from "./details.js";

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
  /** The IPs, accounts and hosts the finding names (the hunt's entity mapping), its own first. */
  entities: z.array(SharedEntity).default([]),
  /**
   * The entities a finding folded from several stands for (a source that reached many new values),
   * best first; the finding's own entity is the first of them.
   */
  members: z.array(z.string()).optional(),
  /** The incident the alert belongs to (every alert belongs to exactly one). */
  incidentId: z.string().optional(),
  /** The exception that covers the finding's entity, if one does. */
  exceptionId: z.string().optional(),
  /** Why the finding goes to the digest whatever its score (usual for the entity, a fleet-wide change). */
  digestOnly: z.string().optional(),
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

export interface FindingInput {
  hunt: Hunt;
  runId: string;
  window: { start: number; end: number };
  entityKey: string;
  /** The hunt's output row for the entity. */
  row: Record<string, unknown>;
  score: Score;
  /** The source's name, shown on the finding. */
  source: string;
  partial?: string;
  createdAt: number;
  /** The entity, when it is not the hunt's own (a fleet-wide change names the value that spread). */
  entity?: Finding["entity"];
  /** For a finding that stands for several entities: their keys. */
  members?: string[];
}

/** A finding from one scored entity row: the one place its fields are put together. */
export function buildFinding(input: FindingInput): Finding {
  const { hunt, row, score, window } = input;
  return {
    fingerprint: fingerprint(hunt.id, input.entityKey, window),
    huntId: hunt.id,
    huntTitle: hunt.titleFor ? hunt.titleFor(row) || hunt.title : hunt.title,
    runId: input.runId,
    severity: hunt.severity,
    score: score.score,
    // A finding the scoring sends to the digest (usual for the entity, a fleet-wide change) never alerts.
    alert: score.score >= hunt.alertScore && !score.digestOnly,
    ...(score.digestOnly ? { digestOnly: score.digestOnly } : {}),
    entity: input.entity ?? {
      type: hunt.entity.type,
      key: input.entityKey,
      values: Object.fromEntries(hunt.entity.columns.map((c) => [c, row[c]])),
    },
    window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
    reasons: score.reasons,
    signals: score.signals,
    mitre: { tactics: hunt.mitre.tactics, techniques: hunt.mitre.techniques },
    // A fleet-wide change names no shared entity: it would join every device's incident.
    entities: input.entity && !input.members ? [] : entitiesOf(hunt.entityMappings, row),
    ...(input.members ? { members: input.members } : {}),
    details: trimDetails(row),
    source: input.source,
    ...(input.partial ? { partial: input.partial } : {}),
    createdAt: new Date(input.createdAt).toISOString(),
  };
}

/** Highest score first; ties by entity, so the order is stable. */
export function byScore(a: Finding, b: Finding): number {
  return b.score - a.score || a.entity.key.localeCompare(b.entity.key);
}
