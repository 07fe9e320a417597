/**
 * Teams messages for a Workflows webhook ("Post to a channel when a webhook request is
 * received"): a message with one Adaptive Card 1.4 attachment, kept under Teams' 28 KB limit.
 */
import type { Finding } from "../findings/finding.js";

export const TEAMS_MAX_BYTES = 28 * 1024;
export const CARD_VERSION = "1.4";

type Element = Record<string, unknown>;

export interface TeamsMessage {
  type: "message";
  attachments: { contentType: "application/vnd.microsoft.card.adaptive"; contentUrl: null; content: Element }[];
}

export interface CardLinks {
  /** Base URL of the app: links point at the run behind a finding. */
  baseUrl: string;
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

function runUrl(f: Finding, links: CardLinks): string {
  return `${links.baseUrl.replace(/\/$/, "")}/api/runs/${encodeURIComponent(f.runId)}`;
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

/** One finding as a Teams message, with a link to its run. */
export function findingMessage(f: Finding, links: CardLinks): TeamsMessage {
  for (const reasons of [10, 3, 1]) {
    const m = message(card(findingElements(f, reasons), [{ type: "Action.OpenUrl", title: "Open the run", url: runUrl(f, links) }]));
    if (messageBytes(m) <= TEAMS_MAX_BYTES) return m;
  }
  throw new Error(`finding ${f.fingerprint} does not fit in a Teams message`);
}

export interface DigestOptions {
  title: string;
  since: string;
  until: string;
  /** Messages at most (each under 28 KB); what does not fit is counted on a last "more" line. */
  maxMessages?: number;
}

function digestRow(f: Finding, rank: number, links: CardLinks): Element {
  return {
    type: "Container",
    separator: true,
    selectAction: { type: "Action.OpenUrl", url: runUrl(f, links) },
    items: [
      {
        type: "ColumnSet",
        columns: [
          {
            type: "Column",
            width: "auto",
            items: [{ type: "TextBlock", text: `${rank}. **${f.score}**`, color: SEVERITY_COLOR[f.severity] ?? "default" }],
          },
          {
            type: "Column",
            width: "stretch",
            items: [
              { type: "TextBlock", text: clip(`${f.entity.key} · ${f.huntTitle}`, 200), wrap: true, weight: "Bolder" },
              { type: "TextBlock", text: clip(f.reasons[0] ?? "", 300), wrap: true, isSubtle: true, spacing: "None" },
              {
                type: "TextBlock",
                text: `${windowText(f)} · ${f.mitre.techniques.slice(0, 3).join(", ")}`,
                isSubtle: true,
                size: "Small",
                spacing: "None",
              },
            ],
          },
        ],
      },
    ],
  };
}

/** A ranked digest: as many messages as needed (up to maxMessages), each under 28 KB. */
export function digestMessages(findings: readonly Finding[], links: CardLinks, options: DigestOptions): TeamsMessage[] {
  const ranked = [...findings].sort((a, b) => b.score - a.score);
  const maxMessages = options.maxMessages ?? 3;
  const header = (page: number, pages: number): Element[] => [
    { type: "TextBlock", text: options.title, weight: "Bolder", size: "Large", wrap: true },
    {
      type: "TextBlock",
      text: `${ranked.length} finding(s), ${minuteText(options.since)} to ${minuteText(options.until)} UTC${pages > 1 ? ` · part ${page}` : ""}`,
      isSubtle: true,
      wrap: true,
    },
  ];
  const messages: TeamsMessage[] = [];
  let next = 0;
  if (!ranked.length) return [message(card([...header(1, 1), { type: "TextBlock", text: "No findings.", wrap: true }]))];
  while (next < ranked.length && messages.length < maxMessages) {
    const body = header(messages.length + 1, 2);
    const last = messages.length === maxMessages - 1;
    let taken = 0;
    // Leave room for the "more" line on the last message.
    const reserve = last ? 400 : 0;
    for (; next + taken < ranked.length; taken++) {
      const row = digestRow(ranked[next + taken], next + taken + 1, links);
      if (messageBytes(message(card([...body, row]))) + reserve > TEAMS_MAX_BYTES) break;
      body.push(row);
    }
    next += taken;
    if (last && next < ranked.length)
      body.push({ type: "TextBlock", text: `…and ${ranked.length - next} more finding(s) not shown.`, wrap: true, weight: "Bolder" });
    messages.push(message(card(body)));
    if (taken === 0) break;
  }
  return messages;
}
