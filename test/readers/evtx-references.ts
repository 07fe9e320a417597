/**
 * Reads the reference decodes committed beside the EVTX fixtures (python-evtx JSON lines, libevtx
 * XML export) into comparable events: System fields and payload leaf values, normalised for the
 * rendering differences that are not data (hex padding, GUID case, Python's True/False, base64).
 */
import { existsSync, readFileSync } from "node:fs";

export interface ReferenceEvent {
  source: "python-evtx" | "libevtx";
  eventRecordId: number;
  eventId: number;
  computer: string;
  channel: string;
  /** Execution's ProcessID and ThreadID, Security's UserID, as the reference prints them (undefined when absent). */
  processId?: string;
  threadId?: string;
  userId?: string;
  /** EventData/UserData leaf values, normalised. */
  values: string[];
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, "&");
}

/** One rendering of a value, whoever wrote it. */
export function normalizeValue(value: string): string {
  const v = value.replace(/\r\n?/g, "\n").trim();
  if (/^0x[0-9a-f]+$/i.test(v)) return `0x${BigInt(v).toString(16)}`;
  if (/^(true|false)$/i.test(v)) return v.toLowerCase();
  if (/^\{[0-9a-f-]{36}\}$/i.test(v)) return v.toUpperCase();
  return v;
}

const TIME_TEXT = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d/;

function referenceEvent(xml: string, source: ReferenceEvent["source"]): ReferenceEvent | undefined {
  const field = (name: string) => new RegExp(`<${name}(?: [^>]*)?>([^<]*)</${name}>`).exec(xml)?.[1] ?? "";
  const eventRecordId = Number(field("EventRecordID"));
  const channel = unescapeXml(field("Channel"));
  // python-evtx renders zeroed slack as an empty event; a real event may have an empty Channel (ETW sessions).
  if (!channel && !eventRecordId) return undefined;
  const payload = /<(EventData|UserData|ProcessingErrorData)>([\s\S]*)<\/\1>/.exec(xml)?.[2] ?? "";
  // python-evtx writes a string array as escaped <string> items and Binary as base64.
  const body = source === "python-evtx" ? payload.replace(/&lt;string&gt;([\s\S]*?)&lt;\/string&gt;\n?/g, "<s>$1</s>") : payload;
  // The closing `<` is looked at, not taken: text between tags (a newline) must leave `<Binary>` whole.
  const values = [...body.matchAll(/(<Binary>)?([^<>]+)(?=<)/g)]
    .map((m) => {
      let v = unescapeXml(m[2]);
      if (m[1] && source === "python-evtx" && /^[A-Za-z0-9+/=]+$/.test(v.trim()))
        v = Buffer.from(v.trim(), "base64").toString("hex").toUpperCase();
      return normalizeValue(v);
    })
    .filter((v) => v && !TIME_TEXT.test(v));
  const attribute = (element: string, name: string) => new RegExp(`<${element}\\b[^>]*\\b${name}="([^"]*)"`).exec(xml)?.[1];
  return {
    source,
    eventRecordId,
    eventId: Number(field("EventID")),
    computer: unescapeXml(field("Computer")),
    channel,
    processId: attribute("Execution", "ProcessID"),
    threadId: attribute("Execution", "ThreadID"),
    userId: attribute("Security", "UserID"),
    values,
  };
}

/** The reference events for an EVTX fixture, from both references. */
export function referenceEvents(evtxPath: string): ReferenceEvent[] {
  const base = evtxPath.replace(/\.evtx$/, "");
  const out: ReferenceEvent[] = [];
  if (existsSync(`${base}.python-evtx.jsonl`)) {
    for (const line of readFileSync(`${base}.python-evtx.jsonl`, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const entry = JSON.parse(line) as { xml?: string };
      const event = entry.xml ? referenceEvent(entry.xml, "python-evtx") : undefined;
      if (event) out.push(event);
    }
  }
  if (existsSync(`${base}.libevtx.xml`)) {
    for (const block of readFileSync(`${base}.libevtx.xml`, "utf8").split("<Event xmlns")) {
      const event = block.includes("<EventRecordID>") ? referenceEvent(block, "libevtx") : undefined;
      if (event) out.push(event);
    }
  }
  return out;
}
