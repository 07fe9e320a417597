/**
 * An EVTX event element reduced to what Windows event shippers and Sentinel carry: the System
 * fields, the named EventData values, and the rest of the payload (unnamed Data values, Binary,
 * UserData, a forwarded event's rendered message), nothing dropped.
 */
import { formatDatetime, isDatetimeTickText, parseDatetime } from "../kql/values.js";
import type { EvtxArray, EvtxElement, EvtxNode, ValueListItemValue } from "./evtx-binxml.js";
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
  /** Execution's ProcessID and ThreadID: the process and thread that logged the event (null when absent). */
  ProcessID: number | null;
  ThreadID: number | null;
  /** Security's UserID: the SID the event was logged under ("" when absent, as in most Security-channel events). */
  UserID: string;
  /** EventData's named Data elements; an empty element reads as null. */
  data: Record<string, DataValue>;
  /** EventData's Data elements without a Name, in order. */
  unnamed: DataValue[];
  /** EventData's Binary element, as hex. */
  binary: string | null;
  /** UserData's leaf elements by name (a repeated name holds every value, in order). */
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

/** The value of an element holding this one value (null: none): text with LF line endings, null when empty, or the items. */
function itemValue(value: ValueListItemValue): DataValue {
  if (value === null) return null;
  if (typeof value === "string") return value === "" ? null : lineEndings(value);
  return value.items.map(lineEndings);
}

/** The text of an element holding this one value (null: none), as `textOf` reads it. */
function itemText(value: ValueListItemValue): string {
  if (value === null) return "";
  return typeof value === "string" ? value : value.items.join("\n");
}

function valueOf(element: EvtxElement): DataValue {
  const children = element.children;
  if (children.length === 0) return itemValue(null);
  if (children.length === 1 && !isElement(children[0])) return itemValue(children[0]);
  const text = lineEndings(textOf(element));
  return text === "" ? null : text;
}

/** UserData's leaf elements in document order, each name with every value it has. */
function leafValues(element: EvtxElement, into: Map<string, DataValue[]>): void {
  for (const child of element.children) {
    if (!isElement(child)) continue;
    if (child.children.some(isElement)) leafValues(child, into);
    else {
      const values = into.get(child.name);
      if (values) values.push(valueOf(child));
      else into.set(child.name, [valueOf(child)]);
    }
  }
}

/**
 * UserData's leaves by name: a name that appears once keeps its value; a repeated one keeps every
 * value in order (an empty one as ""), or null when none has a value.
 */
function collectLeaves(element: EvtxElement, into: Record<string, DataValue>): void {
  const leaves = new Map<string, DataValue[]>();
  leafValues(element, leaves);
  for (const [name, values] of leaves) {
    if (values.length === 1) into[name] = values[0];
    else if (values.every((v) => v === null)) into[name] = null;
    else into[name] = values.flatMap((v) => (v === null ? [""] : v));
  }
}

/** What an event is flattened from: its System fields' text (undefined when absent) and its payload elements. */
export interface EventParts {
  eventId?: string;
  /** TimeCreated's SystemTime attribute. */
  systemTime?: string;
  computer?: string;
  channel?: string;
  /** Provider's Name attribute. */
  provider?: string;
  eventRecordId?: string;
  task?: string;
  level?: string;
  keywords?: string;
  /** Execution's ProcessID and ThreadID attributes, Security's UserID attribute. */
  processId?: string;
  threadId?: string;
  userId?: string;
  eventData?: EvtxElement;
  /** EventData's fields, when read as it was built. */
  eventDataFields?: EventDataFields;
  userData?: EvtxElement;
  message: string | null;
  /**
   * False when nothing reads the event's named values (EventData's named Data, UserData's leaves):
   * `data` and `userData` stay empty. Rows other than SecurityEvent's carry the payload as XML instead.
   */
  namedValues?: boolean;
}

/** A RenderingInfo element's Message as text, or undefined when it has none. */
export function renderedMessage(renderingInfo: EvtxElement): string | null | undefined {
  const rendered = renderingInfo.children.find((c): c is EvtxElement => isElement(c) && c.name === "Message");
  return rendered ? lineEndings(textOf(rendered)) || null : undefined;
}

/** EventData's values: by name (Data elements with a Name, and other elements by theirs), unnamed Data, and Binary. */
export interface EventDataFields {
  data: Record<string, DataValue>;
  unnamed: DataValue[];
  binary: string | null;
}

/** What an EventData element's child elements give, in order, when its template fixes them: a key of `data`, or one of these. */
export const UNNAMED = 0;
export const BINARY = 1;
/** An element whose name is a key already (the first one counts). */
export const SKIP = 2;

/**
 * The fields of EventData elements whose child elements a template fixes: `roles` says what each
 * child element gives, and `shape` has the keys of `data` in order.
 */
export interface DataLayout {
  shape: Readonly<Record<string, DataValue>>;
  roles: readonly (string | number)[];
}

const shapes = new Map<string, Readonly<Record<string, DataValue>>>();
const MAX_SHAPES = 4096;

/**
 * An object with these keys in this order, every value null. Copying it gives a fresh `data` object
 * with all its keys at once; an object built key by key is slow to build and to read once it has
 * more than a few keys (as EventData often has). JSON.parse builds objects with many keys in the
 * fast form, which copies keep; shapes are kept by their keys, which recur in every chunk and file.
 */
function shapeOf(keys: string[]): Readonly<Record<string, DataValue>> {
  const id = keys.join("\u0000");
  let shape = shapes.get(id);
  if (!shape) {
    if (shapes.size >= MAX_SHAPES) shapes.clear();
    shape = JSON.parse(JSON.stringify(Object.fromEntries(keys.map((key) => [key, null])))) as Record<string, DataValue>;
    shapes.set(id, shape);
  }
  return shape;
}

/**
 * The layout of EventData whose child elements are `children` (name, and a Data element's constant
 * Name attribute): what the generic reading of `eventDataFields` does with them, decided once.
 * Undefined where it cannot be decided ahead (a name that would change the object's prototype).
 */
export function dataLayout(children: readonly { name: string; dataName: string | undefined }[]): DataLayout | undefined {
  const keys: string[] = [];
  const seen = new Set<string>();
  const roles: (string | number)[] = [];
  for (const { name, dataName } of children) {
    if (name === "Data") {
      if (!dataName) roles.push(UNNAMED);
      else if (dataName === "__proto__") return undefined;
      else {
        if (!seen.has(dataName)) keys.push(dataName);
        seen.add(dataName);
        roles.push(dataName);
      }
    } else if (name === "Binary") roles.push(BINARY);
    else if (name === "__proto__") return undefined;
    // As `name in data`: a key set already, or one every object has.
    else if (seen.has(name) || name in {}) roles.push(SKIP);
    else {
      keys.push(name);
      seen.add(name);
      roles.push(name);
    }
  }
  return { shape: shapeOf(keys), roles };
}

/**
 * EventData's fields; with its layout (the child elements its template fixes), without deciding
 * anything per event. Without `named`, `data` stays empty (unnamed values and Binary are still read).
 */
export function eventDataFields(eventData: EvtxElement | undefined, layout?: DataLayout, named = true): EventDataFields {
  let data: Record<string, DataValue> = {};
  const unnamed: DataValue[] = [];
  let binary: string | null = null;
  if (!eventData) return { data, unnamed, binary };
  if (layout) {
    if (named) data = { ...layout.shape };
    let index = 0;
    for (const item of eventData.children) {
      if (!isElement(item)) continue;
      const role = layout.roles[index++];
      if (typeof role === "string") {
        if (named) data[role] = valueOf(item);
      } else if (role === UNNAMED) unnamed.push(valueOf(item));
      else if (role === BINARY) binary = textOf(item) || null;
    }
    return { data, unnamed, binary };
  }
  for (const item of eventData.children) {
    if (!isElement(item)) continue;
    if (item.name === "Data") {
      const name = item.attributes.Name;
      if (!name) unnamed.push(valueOf(item));
      else if (named) data[name] = valueOf(item);
    } else if (item.name === "Binary") binary = textOf(item) || null;
    else if (named && !(item.name in data)) data[item.name] = valueOf(item);
  }
  return { data, unnamed, binary };
}

/** `eventDataFields` of a ValueListElement, from its values: child element `i` has role `layout.roles[i]`. */
export function valueListFields(layout: DataLayout, values: readonly ValueListItemValue[], named = true): EventDataFields {
  const data: Record<string, DataValue> = named ? { ...layout.shape } : {};
  const unnamed: DataValue[] = [];
  let binary: string | null = null;
  for (let i = 0; i < values.length; i++) {
    const role = layout.roles[i];
    if (typeof role === "string") {
      if (named) data[role] = itemValue(values[i]);
    } else if (role === UNNAMED) unnamed.push(itemValue(values[i]));
    else if (role === BINARY) binary = itemText(values[i]) || null;
  }
  return { data, unnamed, binary };
}

/** An attribute's number, or null when it is absent or not a number. */
function optionalNumber(text: string | undefined): number | null {
  if (text === undefined || text === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** The event from its parts; `written` (the record's own time) is asked for only when TimeCreated holds none. */
export function assembleEvent(parts: EventParts, recordId: number, written: () => string): FlatEvent {
  const { eventData, userData } = parts;
  const named = parts.namedValues !== false;
  const { data, unnamed, binary } = parts.eventDataFields ?? eventDataFields(eventData, undefined, named);
  const userFields: Record<string, DataValue> = {};
  if (userData && named) collectLeaves(userData, userFields);
  const task = parts.task ?? "";
  return {
    EventID: Number(parts.eventId ?? ""),
    TimeCreated: exactTime(parts.systemTime) ?? written(),
    Computer: parts.computer ?? "",
    Channel: parts.channel ?? "",
    Provider: parts.provider ?? "",
    EventRecordID: Number(parts.eventRecordId || recordId),
    Task: task === "" ? null : Number(task),
    Level: parts.level ?? "",
    Keywords: parts.keywords ?? "",
    ProcessID: optionalNumber(parts.processId),
    ThreadID: optionalNumber(parts.threadId),
    UserID: parts.userId ?? "",
    data,
    unnamed,
    binary,
    userData: userFields,
    payload: eventData ?? userData ?? null,
    message: parts.message,
  };
}

/** Whether an event of this channel needs its named values (undefined: the channel is not known yet, or there is none). */
export type NamedValuesWanted = (channel: string | undefined) => boolean;

/** System fields and the whole payload of an event record (its named values only where `namedValues` wants them). */
export function flattenEvent(record: EvtxRecord, namedValues?: NamedValuesWanted): FlatEvent {
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
  let execution: EvtxElement | undefined;
  let security: EvtxElement | undefined;
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
          case "Execution":
            execution ??= field;
            break;
          case "Security":
            security ??= field;
            break;
        }
      }
    } else if (child.name === "EventData") eventData = child;
    else if (child.name === "UserData") userData = child;
    // What Windows writes instead of the event's data when it could not render it: kept as UserData is.
    else if (child.name === "ProcessingErrorData") userData ??= child;
    else if (child.name === "RenderingInfo") {
      const rendered = renderedMessage(child);
      if (rendered !== undefined) message = rendered;
    }
  }
  const text = (element: EvtxElement | undefined) => (element ? textOf(element) : undefined);
  const channelText = text(channel);
  return assembleEvent(
    {
      eventId: text(eventId),
      systemTime: timeCreated?.attributes.SystemTime,
      computer: text(computer),
      channel: channelText,
      provider: provider?.attributes.Name,
      eventRecordId: text(eventRecordId),
      task: text(task),
      level: text(level),
      keywords: text(keywords),
      processId: execution?.attributes.ProcessID,
      threadId: execution?.attributes.ThreadID,
      userId: security?.attributes.UserID,
      eventData,
      userData,
      message,
      namedValues: namedValues ? namedValues(channelText) : true,
    },
    record.recordId,
    () => record.written,
  );
}

const UTC_TEXT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/;
/**
 * SystemTime is normally a FILETIME already rendered to the tick. Forwarded events hold it as text
 * (nanoseconds, sometimes): that is cut to the tick as text, since a float of milliseconds is not exact.
 */
function exactTime(text: string | undefined): string | undefined {
  if (!text) return undefined;
  if (isDatetimeTickText(text)) return text;
  const utc = UTC_TEXT.exec(text);
  if (utc) return `${utc[1]}.${(utc[2] ?? "").slice(0, 7).padEnd(7, "0")}Z`;
  const ms = parseDatetime(text);
  return ms === null ? undefined : formatDatetime(ms);
}
