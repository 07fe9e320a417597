/**
 * An EVTX event element reduced to what Windows event shippers and Sentinel carry: the System
 * fields, the named EventData values, and the rest of the payload (unnamed Data values, Binary,
 * UserData, a forwarded event's rendered message), nothing dropped.
 */
import { formatDatetime, parseDatetime } from "../kql/values.js";
import {
  Expansion,
  filetimeTextAt,
  isEmptyValue,
  isInstance,
  isSlot,
  parseRecordEvent,
  recordNodes,
  type BinXmlChunk,
  type EvtxArray,
  type EvtxElement,
  type EvtxNode,
  type SubValue,
  type TemplateElement,
  type TemplateNode,
} from "./evtx-binxml.js";
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

/** What an event is flattened from: its System fields' text (undefined when absent) and its payload elements. */
interface EventParts {
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
  eventData?: EvtxElement;
  userData?: EvtxElement;
  message: string | null;
}

/** A RenderingInfo element's Message as text, or undefined when it has none. */
function renderedMessage(renderingInfo: EvtxElement): string | null | undefined {
  const rendered = renderingInfo.children.find((c): c is EvtxElement => isElement(c) && c.name === "Message");
  return rendered ? lineEndings(textOf(rendered)) || null : undefined;
}

function flatEvent(parts: EventParts, recordId: number, written: () => string): FlatEvent {
  const data: Record<string, DataValue> = {};
  const unnamed: DataValue[] = [];
  let binary: string | null = null;
  const { eventData, userData } = parts;
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
    data,
    unnamed,
    binary,
    userData: userFields,
    payload: eventData ?? userData ?? null,
    message: parts.message,
  };
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
      const rendered = renderedMessage(child);
      if (rendered !== undefined) message = rendered;
    }
  }
  const text = (element: EvtxElement | undefined) => (element ? textOf(element) : undefined);
  return flatEvent(
    {
      eventId: text(eventId),
      systemTime: timeCreated?.attributes.SystemTime,
      computer: text(computer),
      channel: text(channel),
      provider: provider?.attributes.Name,
      eventRecordId: text(eventRecordId),
      task: text(task),
      level: text(level),
      keywords: text(keywords),
      eventData,
      userData,
      message,
    },
    record.recordId,
    () => record.written,
  );
}

/** Where a node sits, which decides what of it an event keeps. */
const enum Place {
  /** The record's own nodes: the first element is the event. */
  Record,
  /** A child of the event element: System, EventData, UserData, RenderingInfo. */
  EventChild,
  /** A child of System: the fields. */
  SystemChild,
  /** Inside a System field: its text. */
  FieldText,
}

const NO_VALUES: SubValue[] = [];

/**
 * The direct way from a record's BinXML to its flattened event: System is read straight from the
 * template and its values (no elements built, values nobody reads only checked), and only the
 * payload (EventData, UserData, RenderingInfo) is instantiated as elements. It visits every node
 * and value in the order the element tree would be built and counts them the same, so it fails
 * exactly where building the tree would, and when it succeeds it gives what flattenEvent gives.
 */
class EventWalk extends Expansion {
  readonly parts: EventParts = { message: null };
  hasEvent = false;
  private text = "";

  walk(node: TemplateNode, values: SubValue[], depth: number, place: Place): void {
    this.count();
    if (typeof node === "string") {
      if (place === Place.FieldText) this.text += node;
      return;
    }
    if (isSlot(node)) {
      const value = values[node.slot];
      if (!value || isEmptyValue(value.type, value.size)) return;
      if (value.type === 0x21) {
        // A BinXml value's nodes stand where the substitution does.
        for (const n of this.nested(value, depth)) this.walk(n, NO_VALUES, depth + 1, place);
      } else if (place === Place.FieldText) {
        const rendered = this.value(value, depth) as string | EvtxArray | null;
        if (rendered !== null) this.text += typeof rendered === "string" ? rendered : rendered.items.join("\n");
      } else this.check(value, depth);
      return;
    }
    if (isInstance(node)) {
      this.enterInstance(depth);
      for (const n of node.template) this.walk(n, node.values, depth + 1, place);
      return;
    }
    switch (place) {
      case Place.Record:
        if (this.hasEvent) this.validateElement(node, values, depth);
        else {
          this.hasEvent = true;
          this.checkAttributes(node, values, depth);
          for (const child of node.children) this.walk(child, values, depth, Place.EventChild);
        }
        return;
      case Place.EventChild:
        return this.eventChild(node, values, depth);
      case Place.SystemChild:
        return this.systemField(node, values, depth);
      case Place.FieldText:
        this.checkAttributes(node, values, depth);
        for (const child of node.children) this.walk(child, values, depth, Place.FieldText);
    }
  }

  private eventChild(node: TemplateElement, values: SubValue[], depth: number): void {
    switch (node.name) {
      case "System":
        this.checkAttributes(node, values, depth);
        for (const child of node.children) this.walk(child, values, depth, Place.SystemChild);
        return;
      case "EventData":
        this.parts.eventData = this.element(node, values, depth);
        return;
      case "UserData":
        this.parts.userData = this.element(node, values, depth);
        return;
      case "RenderingInfo": {
        const rendered = renderedMessage(this.element(node, values, depth));
        if (rendered !== undefined) this.parts.message = rendered;
        return;
      }
      default:
        this.validateElement(node, values, depth);
    }
  }

  /** A System field: the first of each name is read, the rest only checked. */
  private systemField(node: TemplateElement, values: SubValue[], depth: number): void {
    const parts = this.parts;
    switch (node.name) {
      case "EventID":
        if (parts.eventId === undefined) return void (parts.eventId = this.fieldText(node, values, depth));
        break;
      case "Computer":
        if (parts.computer === undefined) return void (parts.computer = this.fieldText(node, values, depth));
        break;
      case "Channel":
        if (parts.channel === undefined) return void (parts.channel = this.fieldText(node, values, depth));
        break;
      case "EventRecordID":
        if (parts.eventRecordId === undefined) return void (parts.eventRecordId = this.fieldText(node, values, depth));
        break;
      case "Task":
        if (parts.task === undefined) return void (parts.task = this.fieldText(node, values, depth));
        break;
      case "Level":
        if (parts.level === undefined) return void (parts.level = this.fieldText(node, values, depth));
        break;
      case "Keywords":
        if (parts.keywords === undefined) return void (parts.keywords = this.fieldText(node, values, depth));
        break;
      case "TimeCreated":
        if (!this.timeCreatedSeen) {
          this.timeCreatedSeen = true;
          return void (parts.systemTime = this.fieldAttribute(node, values, depth, "SystemTime"));
        }
        break;
      case "Provider":
        if (!this.providerSeen) {
          this.providerSeen = true;
          return void (parts.provider = this.fieldAttribute(node, values, depth, "Name"));
        }
        break;
    }
    this.validateElement(node, values, depth);
  }

  private timeCreatedSeen = false;
  private providerSeen = false;

  /** textOf the field's element. */
  private fieldText(node: TemplateElement, values: SubValue[], depth: number): string {
    this.text = "";
    this.checkAttributes(node, values, depth);
    for (const child of node.children) this.walk(child, values, depth, Place.FieldText);
    return this.text;
  }

  /** One attribute of the field's element, as its attributes record would hold it (the last of the name that is present). */
  private fieldAttribute(node: TemplateElement, values: SubValue[], depth: number, name: string): string | undefined {
    let found: string | undefined;
    for (const attribute of node.attributes) {
      if (attribute.name === name) found = this.attributeText(attribute, values, depth) ?? found;
      else
        for (const part of attribute.value) {
          if (typeof part === "string") continue;
          const value = values[part.slot];
          if (value) this.check(value, depth);
        }
    }
    for (const child of node.children) this.validate(child, values, depth);
    return found;
  }
}

/**
 * The flattened event of the record at `pos` (whose header has been checked): read directly, and
 * when that fails, through the element tree, which gives the same event or says exactly why not.
 */
export function decodeEvent(chunk: BinXmlChunk, pos: number, size: number, recordId: number): FlatEvent {
  try {
    const walk = new EventWalk(chunk);
    for (const node of recordNodes(chunk, pos, size)) walk.walk(node, NO_VALUES, 0, Place.Record);
    if (walk.hasEvent) return flatEvent(walk.parts, recordId, () => filetimeTextAt(chunk.buf, pos + 16));
  } catch {
    // decided below
  }
  return flattenEvent({ recordId, written: filetimeTextAt(chunk.buf, pos + 16), root: parseRecordEvent(chunk, pos, size) });
}

const UTC_TEXT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/;
/** Datetime text to the tick, as a FILETIME renders: "d" stands for a digit. */
const TICK_TEXT = "dddd-dd-ddTdd:dd:dd.dddddddZ";

/** Whether the text is already datetime text to the tick (what a FILETIME renders to), checked without a regular expression. */
function isTickText(text: string): boolean {
  if (text.length !== TICK_TEXT.length) return false;
  for (let i = 0; i < TICK_TEXT.length; i++) {
    const code = text.charCodeAt(i);
    const expected = TICK_TEXT.charCodeAt(i);
    if (expected === 100 ? code < 48 || code > 57 : code !== expected) return false;
  }
  return true;
}

/**
 * SystemTime is normally a FILETIME already rendered to the tick. Forwarded events hold it as text
 * (nanoseconds, sometimes): that is cut to the tick as text, since a float of milliseconds is not exact.
 */
function exactTime(text: string | undefined): string | undefined {
  if (!text) return undefined;
  if (isTickText(text)) return text;
  const utc = UTC_TEXT.exec(text);
  if (utc) return `${utc[1]}.${(utc[2] ?? "").slice(0, 7).padEnd(7, "0")}Z`;
  const ms = parseDatetime(text);
  return ms === null ? undefined : formatDatetime(ms);
}
