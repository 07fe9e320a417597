/**
 * An EVTX event element reduced to what Windows event shippers and Sentinel carry: the System
 * fields, the named EventData values, and the rest of the payload (unnamed Data values, Binary,
 * UserData, a forwarded event's rendered message), nothing dropped.
 */
import { formatDatetime, parseDatetime } from "../kql/values.js";
import type { EvtxArray, EvtxElement, EvtxNode } from "./evtx-binxml.js";
import type { EvtxRecord } from "./evtx.js";

/** One payload value: text, the items of an array value, or null for an empty element. */
export type DataValue = string | string[] | null;

export interface FlatEvent {
  EventID: number;
  /** Kusto datetime text, exact to the 100 ns tick. */
  TimeCreated: string;
  Computer: string;
  Channel: string;
  Provider: string;
  EventRecordID: number;
  Task: number | null;
  Level: string;
  Keywords: string;
  /** EventData's named Data elements; an empty element reads as null. */
  data: Record<string, DataValue>;
  /** EventData's Data elements without a Name, in order. */
  unnamed: DataValue[];
  /** EventData's Binary element, as hex. */
  binary: string | null;
  /** UserData's leaf elements by name (the first of a repeated name). */
  userData: Record<string, DataValue>;
  /** The EventData or UserData element as the event holds it (for XML columns). */
  payload: EvtxElement | null;
  /** A forwarded event's message, rendered by the forwarding machine. */
  message: string | null;
}

function isElement(node: EvtxNode): node is EvtxElement {
  return typeof node === "object" && "name" in node;
}
function isArray(node: EvtxNode): node is EvtxArray {
  return typeof node === "object" && "items" in node;
}

/** XML normalises line endings to LF; EVTX stores the CRLF the event source wrote. */
function lineEndings(text: string): string {
  return text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
}

export function textOf(element: EvtxElement | undefined): string {
  if (!element) return "";
  const children = element.children;
  if (children.length === 1 && typeof children[0] === "string") return children[0];
  let text = "";
  for (const c of children) text += typeof c === "string" ? c : isArray(c) ? c.items.join("\n") : textOf(c);
  return text;
}

function valueOf(element: EvtxElement): DataValue {
  const children = element.children;
  if (children.length === 1) {
    const only = children[0];
    if (typeof only === "string") return only === "" ? null : lineEndings(only);
    if (isArray(only)) return only.items.map(lineEndings);
  }
  const text = lineEndings(textOf(element));
  return text === "" ? null : text;
}

function collectLeaves(element: EvtxElement, into: Record<string, DataValue>): void {
  for (const child of element.children) {
    if (!isElement(child)) continue;
    if (child.children.some(isElement)) collectLeaves(child, into);
    else if (!(child.name in into)) into[child.name] = valueOf(child);
  }
}

/** System fields and the whole payload of an event record. */
export function flattenEvent(record: EvtxRecord): FlatEvent {
  let eventData: EvtxElement | undefined;
  let userData: EvtxElement | undefined;
  let message: string | null = null;
  let eventId: EvtxElement | undefined;
  let timeCreated: EvtxElement | undefined;
  let computer: EvtxElement | undefined;
  let channel: EvtxElement | undefined;
  let provider: EvtxElement | undefined;
  let eventRecordId: EvtxElement | undefined;
  let task: EvtxElement | undefined;
  let level: EvtxElement | undefined;
  let keywords: EvtxElement | undefined;
  for (const child of record.root.children) {
    if (!isElement(child)) continue;
    if (child.name === "System") {
      // The first of a repeated field counts.
      for (const field of child.children) {
        if (!isElement(field)) continue;
        switch (field.name) {
          case "EventID":
            eventId ??= field;
            break;
          case "TimeCreated":
            timeCreated ??= field;
            break;
          case "Computer":
            computer ??= field;
            break;
          case "Channel":
            channel ??= field;
            break;
          case "Provider":
            provider ??= field;
            break;
          case "EventRecordID":
            eventRecordId ??= field;
            break;
          case "Task":
            task ??= field;
            break;
          case "Level":
            level ??= field;
            break;
          case "Keywords":
            keywords ??= field;
            break;
        }
      }
    } else if (child.name === "EventData") eventData = child;
    else if (child.name === "UserData") userData = child;
    else if (child.name === "RenderingInfo") {
      const rendered = child.children.find((c): c is EvtxElement => isElement(c) && c.name === "Message");
      if (rendered) message = lineEndings(textOf(rendered)) || null;
    }
  }
  const data: Record<string, DataValue> = {};
  const unnamed: DataValue[] = [];
  let binary: string | null = null;
  if (eventData) {
    for (const item of eventData.children) {
      if (!isElement(item)) continue;
      if (item.name === "Data") {
        const name = item.attributes.Name;
        if (name) data[name] = valueOf(item);
        else unnamed.push(valueOf(item));
      } else if (item.name === "Binary") binary = textOf(item) || null;
      else if (!(item.name in data)) data[item.name] = valueOf(item);
    }
  }
  const userFields: Record<string, DataValue> = {};
  if (userData) collectLeaves(userData, userFields);
  const taskText = textOf(task);
  return {
    EventID: Number(textOf(eventId)),
    TimeCreated: exactTime(timeCreated?.attributes.SystemTime) ?? record.written,
    Computer: textOf(computer),
    Channel: textOf(channel),
    Provider: provider?.attributes.Name ?? "",
    EventRecordID: Number(textOf(eventRecordId) || record.recordId),
    Task: taskText === "" ? null : Number(taskText),
    Level: textOf(level),
    Keywords: textOf(keywords),
    data,
    unnamed,
    binary,
    userData: userFields,
    payload: eventData ?? userData ?? null,
    message,
  };
}

const UTC_TEXT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/;

/**
 * SystemTime is normally a FILETIME already rendered to the tick. Forwarded events hold it as text
 * (nanoseconds, sometimes): that is cut to the tick as text, since a float of milliseconds is not exact.
 */
function exactTime(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const utc = UTC_TEXT.exec(text);
  if (utc) return `${utc[1]}.${(utc[2] ?? "").slice(0, 7).padEnd(7, "0")}Z`;
  const ms = parseDatetime(text);
  return ms === null ? undefined : formatDatetime(ms);
}
