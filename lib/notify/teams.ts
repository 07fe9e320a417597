/**
 * Teams messages for a Workflows webhook ("Post to a channel when a webhook request is
 * received"): a message with one Adaptive Card 1.4 attachment, kept under Teams' 28 KB limit.
 */
import type { Finding } from "../findings/finding.js";
import { composeQuery, findHunt } from "../hunts/catalog.js";
import { entityLabel } from "../hunts/entities.js";
import type { Incident, IncidentFinding, NoticeKind } from "../incidents/store.js";
import { logAnalyticsUrl } from "../links/log-analytics.js";
import { signedUrl, type CardLinks } from "../links/signed.js";

export const TEAMS_MAX_BYTES = 28 * 1024;
export const CARD_VERSION = "1.4";

type Element = Record<string, unknown>;

export interface TeamsMessage {
  type: "message";
  attachments: { contentType: "application/vnd.microsoft.card.adaptive"; contentUrl: null; content: Element }[];
}

function card(body: Element[], actions: Element[] = []): Element {
  return {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: CARD_VERSION,
    body,
    ...(actions.length ? { actions } : {}),
  };
}

export function message(content: Element): TeamsMessage {
  return { type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content }] };
}

export function messageBytes(m: TeamsMessage): number {
  return Buffer.byteLength(JSON.stringify(m), "utf8");
}

const SEVERITY_COLOR: Record<string, string> = {
  critical: "attention",
  high: "attention",
  medium: "warning",
  low: "accent",
  informational: "default",
};

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** An ISO time to the minute, as people read it: `2024-10-20 03:00`. */
function minuteText(iso: string): string {
  return iso.slice(0, 16).replace("T", " ");
}

function windowText(f: Finding): string {
  return `${minuteText(f.window.start)} to ${minuteText(f.window.end)} UTC`;
}

/** The run behind a finding: a signed link that opens without a function key. */
function runUrl(runId: string, links: CardLinks, now: number): string | undefined {
  return signedUrl(links, { action: "run", runId }, now);
}

/** The hunt's query over the finding's window, in the workspace, when the hunt is known and a workspace is configured. */
function logAnalyticsLink(f: Pick<IncidentFinding, "huntId" | "windowStart" | "windowEnd">, links: CardLinks): string | undefined {
  const hunt = findHunt(f.huntId);
  if (!hunt || !links.workspaceResourceId || !hunt.sources.includes("log-analytics")) return undefined;
  const window = { start: Date.parse(f.windowStart), end: Date.parse(f.windowEnd) };
  return logAnalyticsUrl(links.workspaceResourceId, composeQuery(hunt, window), { start: f.windowStart, end: f.windowEnd });
}

function openUrl(title: string, url: string | undefined): Element[] {
  return url ? [{ type: "Action.OpenUrl", title, url }] : [];
}

function findingElements(f: Finding, reasonsLimit: number): Element[] {
  return [
    {
      type: "TextBlock",
      text: clip(`${f.score} · ${f.huntTitle}`, 200),
      weight: "Bolder",
      size: "Medium",
      color: SEVERITY_COLOR[f.severity] ?? "default",
      wrap: true,
    },
    {
      type: "FactSet",
      facts: [
        { title: "Entity", value: clip(`${f.entity.type} ${f.entity.key}`, 300) },
        { title: "Score", value: `${f.score} / 100${f.alert ? " (alert)" : ""}` },
        { title: "Severity", value: f.severity },
        { title: "Window", value: windowText(f) },
        { title: "MITRE", value: clip(f.mitre.techniques.join(", "), 200) },
        { title: "Source", value: clip(f.source, 120) },
        ...(f.partial ? [{ title: "Partial data", value: clip(f.partial, 300) }] : []),
      ],
    },
    { type: "TextBlock", text: "Why", weight: "Bolder", spacing: "Small" },
    ...f.reasons.slice(0, reasonsLimit).map((r) => ({ type: "TextBlock", text: `- ${clip(r, 400)}`, wrap: true, spacing: "None" })),
  ];
}

/** One finding as a Teams message, with links to its run and its query in Log Analytics. */
export function findingMessage(f: Finding, links: CardLinks, now: number): TeamsMessage {
  const actions = [
    ...openUrl("Open the run", runUrl(f.runId, links, now)),
    ...openUrl(
      "Open in Log Analytics",
      logAnalyticsLink({ huntId: f.huntId, windowStart: f.window.start, windowEnd: f.window.end }, links),
    ),
  ];
  for (const reasons of [10, 3, 1]) {
    const m = message(card(findingElements(f, reasons), actions));
    if (messageBytes(m) <= TEAMS_MAX_BYTES) return m;
  }
  throw new Error(`finding ${f.fingerprint} does not fit in a Teams message`);
}

function incidentFindingRow(f: IncidentFinding, links: CardLinks, now: number): Element {
  const run = runUrl(f.runId, links, now);
  return {
    type: "Container",
    separator: true,
    ...(run ? { selectAction: { type: "Action.OpenUrl", url: run } } : {}),
    items: [
      {
        type: "TextBlock",
        text: clip(`**${f.score}** · ${f.huntTitle} · ${f.entity}`, 250),
        wrap: true,
        color: SEVERITY_COLOR[f.severity] ?? "default",
      },
      { type: "TextBlock", text: clip(f.reason, 300), wrap: true, isSubtle: true, spacing: "None" },
      {
        type: "TextBlock",
        text: `${minuteText(f.windowStart)} to ${minuteText(f.windowEnd)} UTC`,
        isSubtle: true,
        size: "Small",
        spacing: "None",
      },
    ],
  };
}

/**
 * One incident as a Teams message: what happened, the entities its alerts share, its findings
 * (best first), and links to open it, to query it in Log Analytics and to mark its main entity benign.
 */
export function incidentMessage(incident: Incident, notice: NoticeKind, links: CardLinks, now: number): TeamsMessage {
  const top = incident.findings[0];
  const main = incident.shared[0] ?? incident.entities[0];
  const actions = [
    ...openUrl("Open the incident", signedUrl(links, { action: "incident", incidentId: incident.id }, now)),
    ...(top ? openUrl("Open in Log Analytics", logAnalyticsLink(top, links)) : []),
    ...(main && top
      ? openUrl(
          `Mark ${main.value} benign`,
          signedUrl(links, { action: "benign", huntId: top.huntId, entity: main, incidentId: incident.id }, now),
        )
      : []),
  ];
  const header: Element[] = [
    {
      type: "TextBlock",
      text: clip(`${notice === "opened" ? "New incident" : "Incident updated"} · ${incident.score} · ${incident.title}`, 250),
      weight: "Bolder",
      size: "Medium",
      color: SEVERITY_COLOR[incident.severity] ?? "default",
      wrap: true,
    },
    {
      type: "FactSet",
      facts: [
        { title: "Incident", value: incident.id },
        { title: "Score", value: `${incident.score} / 100` },
        { title: "Severity", value: incident.severity },
        { title: "Hunts", value: clip(incident.hunts.join(", "), 300) },
        { title: "Alerts", value: String(incident.findingCount) },
        ...(incident.shared.length ? [{ title: "Shared", value: clip(incident.shared.map(entityLabel).join(", "), 400) }] : []),
        { title: "Entities", value: clip(incident.entities.slice(0, 12).map(entityLabel).join(", "), 400) },
        { title: "Since", value: `${minuteText(incident.openedAt)} UTC` },
      ],
    },
  ];
  for (const count of [10, 5, 2, 1]) {
    const rows = incident.findings.slice(0, count).map((f) => incidentFindingRow(f, links, now));
    const more =
      incident.findingCount > count
        ? [{ type: "TextBlock", text: `…and ${incident.findingCount - count} more alert(s).`, wrap: true }]
        : [];
    const m = message(card([...header, ...rows, ...more], actions));
    if (messageBytes(m) <= TEAMS_MAX_BYTES) return m;
  }
  throw new Error(`incident ${incident.id} does not fit in a Teams message`);
}

export interface DigestOptions {
  title: string;
  /** Messages at most (each under 28 KB); what does not fit is counted on a last "more" line. */
  maxMessages?: number;
}

export interface DigestContent {
  since: number;
  until: number;
  incidents: readonly Incident[];
  alerts: readonly Finding[];
  /** Kept quiet, each with how many windows it stands for (quietEntries). */
  quiet: readonly (Finding & { windows?: number })[];
}

function digestIncidentRow(incident: Incident, rank: number, alerts: number, links: CardLinks, now: number): Element {
  const url = signedUrl(links, { action: "incident", incidentId: incident.id }, now);
  return {
    type: "Container",
    separator: true,
    ...(url ? { selectAction: { type: "Action.OpenUrl", url } } : {}),
    items: [
      {
        type: "TextBlock",
        text: clip(`${rank}. **${incident.score}** · ${incident.title}`, 250),
        wrap: true,
        weight: "Bolder",
        color: SEVERITY_COLOR[incident.severity] ?? "default",
      },
      {
        type: "TextBlock",
        text: clip(
          `${incident.id} · ${alerts} new alert(s), ${incident.findingCount} in all · ${incident.hunts.join(", ")}${incident.shared.length ? ` · shared ${incident.shared.slice(0, 4).map(entityLabel).join(", ")}` : ""}`,
          400,
        ),
        wrap: true,
        isSubtle: true,
        spacing: "None",
      },
      { type: "TextBlock", text: clip(incident.findings[0]?.reason ?? "", 300), wrap: true, isSubtle: true, spacing: "None" },
    ],
  };
}

function digestQuietRow(f: Finding & { windows?: number }): Element {
  const windows = f.windows && f.windows > 1 ? ` (${f.windows} windows)` : "";
  return {
    type: "TextBlock",
    text: clip(`${f.score} · ${f.huntTitle} · ${f.entity.key}${windows}: ${f.digestOnly ?? f.reasons[0] ?? ""}`, 400),
    wrap: true,
    isSubtle: true,
    spacing: "Small",
  };
}

/**
 * A digest: the incidents (ranked, each with its new alerts counted), then what was kept quiet and
 * why. As many messages as needed (up to maxMessages), each under 28 KB.
 */
export function digestMessages(digest: DigestContent, links: CardLinks, options: DigestOptions): TeamsMessage[] {
  const now = digest.until;
  const incidents = [...digest.incidents].sort((a, b) => b.score - a.score);
  const newAlerts = new Map<string, number>();
  for (const f of digest.alerts) if (f.incidentId) newAlerts.set(f.incidentId, (newAlerts.get(f.incidentId) ?? 0) + 1);
  const rows: Element[] = [
    ...incidents.map((incident, i) => digestIncidentRow(incident, i + 1, newAlerts.get(incident.id) ?? 0, links, now)),
    ...(digest.quiet.length
      ? [
          {
            type: "TextBlock",
            text: `Kept quiet (${digest.quiet.length}): not alerted, and why`,
            weight: "Bolder",
            separator: true,
            wrap: true,
          },
          ...digest.quiet.map(digestQuietRow),
        ]
      : []),
  ];
  const maxMessages = options.maxMessages ?? 3;
  const header = (page: number, pages: number): Element[] => [
    { type: "TextBlock", text: options.title, weight: "Bolder", size: "Large", wrap: true },
    {
      type: "TextBlock",
      text: `${incidents.length} incident(s), ${digest.alerts.length} alert(s), ${digest.quiet.length} kept quiet, ${minuteText(new Date(digest.since).toISOString())} to ${minuteText(new Date(digest.until).toISOString())} UTC${pages > 1 ? ` · part ${page}` : ""}`,
      isSubtle: true,
      wrap: true,
    },
  ];
  if (!rows.length) return [message(card([...header(1, 1), { type: "TextBlock", text: "No findings.", wrap: true }]))];
  const messages: TeamsMessage[] = [];
  let next = 0;
  while (next < rows.length && messages.length < maxMessages) {
    const body = header(messages.length + 1, 2);
    const last = messages.length === maxMessages - 1;
    let taken = 0;
    // Leave room for the "more" line on the last message.
    const reserve = last ? 400 : 0;
    for (; next + taken < rows.length; taken++) {
      if (messageBytes(message(card([...body, rows[next + taken]]))) + reserve > TEAMS_MAX_BYTES) break;
      body.push(rows[next + taken]);
    }
    next += taken;
    if (last && next < rows.length)
      body.push({ type: "TextBlock", text: `…and ${rows.length - next} more line(s) not shown.`, wrap: true, weight: "Bolder" });
    messages.push(message(card(body)));
    if (taken === 0) break;
  }
  return messages;
}
