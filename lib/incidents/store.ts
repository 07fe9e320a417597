/**
 * Incidents: alerts of any hunt that share an entity (IP, account, host) within the incident
 * window form one incident with a stable id. Every alert belongs to exactly one incident.
 *
 * Table `<prefix>incidents`:
 *   PartitionKey `incident`  RowKey <incident id>      the incident (JSON), written under its etag
 *   PartitionKey `entity`    RowKey <type:value>       the open incident an entity last joined
 *
 * Assigning is idempotent: an alert already in its incident changes nothing, and what a run was
 * told to notify is remembered per run, so a retried run publishes the same notices again (the
 * notifier delivers each once).
 */
import { createHash } from "node:crypto";
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import pMap from "p-map";
import { z } from "zod";
import type { Finding } from "../findings/finding.js";
import { SEVERITIES, type Severity } from "../hunts/schema.js";
import { encodeKey } from "../state/keys.js";
import { deleteWhere, getEntityOrUndefined, isConflict, transactionChunks, type TimeBudget } from "../state/tables.js";
import { submitTransaction } from "../state/transactions.js";
import { entityLabel, SharedEntity } from "../hunts/entities.js";

/** An incident stays open for alerts this long after its last one. */
export const DEFAULT_INCIDENT_WINDOW_MS = 24 * 3_600_000;
/** Findings listed on an incident (the count goes on). */
const MAX_LISTED_FINDINGS = 50;
const MAX_ENTITIES = 100;
const MAX_NOTICES = 20;
/** A Table Storage string property holds at most 32K characters: the stored incident stays under it. */
const MAX_JSON_CHARS = 30_000;
const MAX_ATTEMPTS = 6;
/** Table Storage takes at most 15 comparisons in one filter: the partition and 14 row keys. */
const KEYS_PER_QUERY = 14;

/** The incident an entity last joined, and whether an alert now is within its span. */
interface LastIncident {
  incidentId: string;
  lastAlertAt: number;
  open: boolean;
}

export const NoticeKind = z.enum(["opened", "updated"]);
export type NoticeKind = z.infer<typeof NoticeKind>;

export const IncidentFinding = z.object({
  fingerprint: z.string(),
  huntId: z.string(),
  huntTitle: z.string(),
  runId: z.string(),
  entity: z.string(),
  score: z.number(),
  severity: z.enum(SEVERITIES),
  windowStart: z.iso.datetime(),
  windowEnd: z.iso.datetime(),
  reason: z.string(),
});
export type IncidentFinding = z.infer<typeof IncidentFinding>;

export const IncidentSchema = z.object({
  id: z.string(),
  title: z.string(),
  openedAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  /** End of the latest alert's window: the incident takes alerts until this plus the incident window. */
  lastAlertAt: z.iso.datetime(),
  score: z.number(),
  severity: z.enum(SEVERITIES),
  hunts: z.array(z.string()),
  /** Entities of its alerts, those shared by more than one alert first. */
  entities: z.array(SharedEntity),
  shared: z.array(SharedEntity),
  findings: z.array(IncidentFinding),
  findingCount: z.number().int(),
  /** What each run that touched the incident was to notify. */
  notices: z.array(z.object({ runId: z.string(), kind: NoticeKind })),
});
export type Incident = z.infer<typeof IncidentSchema>;

export interface Notice {
  incidentId: string;
  kind: NoticeKind;
  runId: string;
}

const severityRank = (s: Severity) => SEVERITIES.indexOf(s);

/** Alerts of one batch that share an entity belong together (union-find over their entities). */
function groupByEntities(alerts: readonly Finding[]): Finding[][] {
  const parent = alerts.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const owner = new Map<string, number>();
  alerts.forEach((alert, i) => {
    for (const e of alert.entities) {
      const label = entityLabel(e);
      const j = owner.get(label);
      if (j === undefined) owner.set(label, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, Finding[]>();
  alerts.forEach((alert, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), alert]);
  });
  return [...groups.values()];
}

function incidentIdFor(group: readonly Finding[]): string {
  const first = [...group].map((f) => f.fingerprint).sort()[0];
  return `inc-${createHash("sha256").update(first).digest("base64url").slice(0, 16)}`;
}

function summary(f: Finding): IncidentFinding {
  return {
    fingerprint: f.fingerprint,
    huntId: f.huntId,
    huntTitle: f.huntTitle,
    runId: f.runId,
    entity: f.entity.key.slice(0, 200),
    score: f.score,
    severity: f.severity,
    windowStart: f.window.start,
    windowEnd: f.window.end,
    reason: (f.reasons[0] ?? "").slice(0, 300),
  };
}

/**
 * The incident as stored: its findings (best first) and entities are cut until it fits a Table
 * Storage property; the counts still say how many there are.
 */
export function boundedIncident(incident: Incident): Incident {
  let bounded = incident;
  while (JSON.stringify(bounded).length > MAX_JSON_CHARS && (bounded.findings.length > 1 || bounded.entities.length > 10)) {
    bounded = {
      ...bounded,
      findings: bounded.findings.slice(0, Math.max(1, Math.floor(bounded.findings.length * 0.75))),
      entities: bounded.entities.slice(0, Math.max(10, Math.floor(bounded.entities.length * 0.75))),
      shared: bounded.shared.slice(0, Math.max(10, Math.floor(bounded.shared.length * 0.75))),
    };
  }
  return bounded;
}

/** The incident with the group's alerts added, and what this run should notify. */
export function addToIncident(
  current: Incident | undefined,
  id: string,
  group: readonly Finding[],
  runId: string,
  now: number,
): {
  incident: Incident;
  notice?: NoticeKind;
} {
  const previous = current?.notices.find((n) => n.runId === runId);
  const known = new Set(current?.findings.map((f) => f.fingerprint) ?? []);
  const fresh = group.filter((f) => !known.has(f.fingerprint));
  if (current && fresh.length === 0) return { incident: current, notice: previous?.kind };

  const findings = [...(current?.findings ?? []), ...fresh.map(summary)].sort((a, b) => b.score - a.score);
  const score = Math.max(current?.score ?? 0, ...fresh.map((f) => f.score));
  const severity = [...fresh.map((f) => f.severity), current?.severity ?? "informational"].sort(
    (a, b) => severityRank(b) - severityRank(a),
  )[0];
  const hunts = [...new Set([...(current?.hunts ?? []), ...fresh.map((f) => f.huntId)])];
  const counts = new Map<string, { entity: SharedEntity; n: number }>();
  for (const e of current?.entities ?? []) counts.set(entityLabel(e), { entity: e, n: 1 });
  for (const e of current?.shared ?? []) counts.set(entityLabel(e), { entity: e, n: 2 });
  for (const f of fresh)
    for (const e of f.entities) {
      const entry = counts.get(entityLabel(e)) ?? { entity: e, n: 0 };
      entry.n++;
      counts.set(entityLabel(e), entry);
    }
  const ordered = [...counts.values()].sort((a, b) => b.n - a.n);
  const lastAlertAt = [current?.lastAlertAt ?? "", ...fresh.map((f) => f.window.end)].sort().at(-1)!;
  let notice: NoticeKind | undefined;
  if (!current) notice = "opened";
  else if (score > current.score || severityRank(severity) > severityRank(current.severity) || hunts.length > current.hunts.length)
    notice = "updated";
  const top = findings[0];
  const incident: Incident = boundedIncident({
    id,
    title: current?.title ?? `${top.huntTitle}: ${top.entity}`,
    openedAt: current?.openedAt ?? new Date(now).toISOString(),
    updatedAt: new Date(now).toISOString(),
    lastAlertAt,
    score,
    severity,
    hunts,
    entities: ordered.slice(0, MAX_ENTITIES).map((e) => e.entity),
    shared: ordered.filter((e) => e.n > 1).map((e) => e.entity),
    findings: findings.slice(0, MAX_LISTED_FINDINGS),
    findingCount: (current?.findingCount ?? 0) + fresh.length,
    notices: [...(current?.notices ?? []), ...(notice ? [{ runId, kind: notice }] : [])].slice(-MAX_NOTICES),
  });
  return { incident, notice };
}

export class IncidentStore {
  constructor(
    private readonly client: TableClient,
    private readonly windowMs = DEFAULT_INCIDENT_WINDOW_MS,
  ) {}

  async get(id: string): Promise<Incident | undefined> {
    return (await this.getWithEtag(id))?.incident;
  }

  private async getWithEtag(id: string): Promise<{ incident: Incident; etag: string } | undefined> {
    const entity = await getEntityOrUndefined<{ json: string }>(this.client, "incident", encodeKey(id));
    return entity && { incident: IncidentSchema.parse(JSON.parse(entity.json)), etag: entity.etag };
  }

  /** Incidents whose last alert fell in (after, until]. */
  async between(after: number, until: number): Promise<Incident[]> {
    const out: Incident[] = [];
    const filter = odata`PartitionKey eq 'incident' and lastAlertAt gt ${new Date(after)} and lastAlertAt le ${new Date(until)}`;
    for await (const entity of this.client.listEntities<{ json: string }>({ queryOptions: { filter } }))
      out.push(IncidentSchema.parse(JSON.parse(entity.json)));
    return out.sort((a, b) => b.score - a.score);
  }

  /**
   * Deletes incidents whose last alert was before `before`, and entities' links to them; returns
   * how many rows. Conditional on the listed etag: an incident or link an alert touches meanwhile stays.
   */
  async prune(before: number, budget?: TimeBudget): Promise<number> {
    const old = (partition: string) => odata`PartitionKey eq ${partition} and lastAlertAt lt ${new Date(before)}`;
    return (
      (await deleteWhere(this.client, old("incident"), { mode: "unchanged", budget })) +
      (await deleteWhere(this.client, old("entity"), { mode: "unchanged", budget }))
    );
  }

  /**
   * The incident each entity last joined, and whether an alert at `at` is within its span. Alerts
   * may come out of order (a hunt catching up after an outage): one far earlier than the
   * incident's last alert does not join it either. One query per 14 entities, not one read each.
   */
  private async lastIncidentsOf(labels: readonly string[], at: number): Promise<(LastIncident | undefined)[]> {
    const rowKeys = labels.map(encodeKey);
    const found = new Map<string, LastIncident>();
    const queries: string[][] = [];
    for (let i = 0; i < rowKeys.length; i += KEYS_PER_QUERY) queries.push(rowKeys.slice(i, i + KEYS_PER_QUERY));
    await pMap(
      queries,
      async (keys) => {
        const filter = `${odata`PartitionKey eq ${"entity"}`} and (${keys.map((k) => odata`RowKey eq ${k}`).join(" or ")})`;
        const select = ["RowKey", "incidentId", "lastAlertAt"];
        for await (const entry of this.client.listEntities<{ incidentId: string; lastAlertAt: Date }>({
          queryOptions: { filter, select },
        })) {
          const last = entry.lastAlertAt instanceof Date ? entry.lastAlertAt.getTime() : Date.parse(String(entry.lastAlertAt));
          found.set(entry.rowKey!, { incidentId: entry.incidentId, lastAlertAt: last, open: Math.abs(at - last) <= this.windowMs });
        }
      },
      { concurrency: 8 },
    );
    return rowKeys.map((k) => found.get(k));
  }

  /**
   * Puts each alert in exactly one incident (joining an open one that shares an entity, or
   * opening one) and returns the alerts with their incident ids, and the notices for this run.
   */
  async assign(alerts: readonly Finding[], runId: string, now: number): Promise<{ alerts: Finding[]; notices: Notice[] }> {
    const assigned = new Map<string, string>();
    const notices: Notice[] = [];
    await pMap(
      groupByEntities(alerts),
      async (group) => {
        const at = Math.max(...group.map((f) => Date.parse(f.window.end)));
        const labels = [...new Set(group.flatMap((f) => f.entities.map(entityLabel)))];
        const last = await this.lastIncidentsOf(labels, at);
        const open = last.flatMap((l) => (l?.open ? [l.incidentId] : []));
        // Several open incidents share the group's entities: it joins the one opened first.
        const candidates = await Promise.all([...new Set(open)].map((id) => this.get(id)));
        const existing = candidates.filter((c) => c !== undefined).sort((a, b) => a.openedAt.localeCompare(b.openedAt))[0];
        const id = existing?.id ?? incidentIdFor(group);
        const { incident, notice } = await this.update(id, group, runId, now);
        for (const f of group) assigned.set(f.fingerprint, incident.id);
        // Several groups of one run may join one incident: it gets one notice for the run.
        if (notice && !notices.some((n) => n.incidentId === incident.id)) notices.push({ incidentId: incident.id, kind: notice, runId });
        const lastAlertAt = new Date(incident.lastAlertAt);
        const pointers = labels
          // An entity keeps pointing at its latest incident: a late alert's older incident does not take its place.
          .filter((_, i) => !(last[i] && last[i].incidentId !== incident.id && last[i].lastAlertAt > lastAlertAt.getTime()))
          .map((label) => ({ partitionKey: "entity", rowKey: encodeKey(label), incidentId: incident.id, lastAlertAt }));
        await pMap(
          transactionChunks(pointers, (p) => p.partitionKey),
          (chunk) =>
            submitTransaction(
              this.client,
              chunk.map((p): TransactionAction => ["upsert", p, "Replace"]),
            ),
          { concurrency: 8 },
        );
      },
      // Groups touching one incident must not race on its record more than the etag retries allow.
      { concurrency: 1 },
    );
    return { alerts: alerts.map((f) => ({ ...f, incidentId: assigned.get(f.fingerprint) })), notices };
  }

  private async update(
    id: string,
    group: readonly Finding[],
    runId: string,
    now: number,
  ): Promise<{ incident: Incident; notice?: NoticeKind }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.getWithEtag(id);
      const result = addToIncident(current?.incident, id, group, runId, now);
      if (current && result.incident === current.incident) return result;
      const entity = {
        partitionKey: "incident",
        rowKey: encodeKey(id),
        json: JSON.stringify(result.incident),
        lastAlertAt: new Date(result.incident.lastAlertAt),
        score: result.incident.score,
      };
      try {
        if (current) await this.client.updateEntity(entity, "Replace", { etag: current.etag });
        else await this.client.createEntity(entity);
        return result;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    throw new Error(`incident ${id}: could not be updated (${MAX_ATTEMPTS} conflicting writes)`);
  }
}
