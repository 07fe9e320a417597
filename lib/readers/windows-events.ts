/**
 * Windows Security events as Sentinel's SecurityEvent rows. The EVTX, NXLog and Winlogbeat
 * readers all reduce an event to `WindowsEvent` first, so the mapping lives only here.
 */
import { datetimeFromMs, formatDatetime } from "../kql/values.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import { ValueListElement, type EvtxArray, type EvtxElement, type EvtxNode } from "./evtx-binxml.js";

/** Logon types as the 4624 documentation names them. */
export const LOGON_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "System",
  2: "Interactive",
  3: "Network",
  4: "Batch",
  5: "Service",
  7: "Unlock",
  8: "NetworkCleartext",
  9: "NewCredentials",
  10: "RemoteInteractive",
  11: "CachedInteractive",
  12: "CachedRemoteInteractive",
  13: "CachedUnlock",
};

/** Sentinel's `Activity` text for the event IDs the hunts read (the event's documented title). */
export const EVENT_TITLES: Readonly<Record<number, string>> = {
  1102: "The audit log was cleared.",
  4624: "An account was successfully logged on.",
  4625: "An account failed to log on.",
  4634: "An account was logged off.",
  4647: "User initiated logoff.",
  4648: "A logon was attempted using explicit credentials.",
  4672: "Special privileges assigned to new logon.",
  4688: "A new process has been created.",
  4720: "A user account was created.",
  4728: "A member was added to a security-enabled global group.",
  4732: "A member was added to a security-enabled local group.",
  4768: "A Kerberos authentication ticket (TGT) was requested.",
  4769: "A Kerberos service ticket was requested.",
  4771: "Kerberos pre-authentication failed.",
  4776: "The computer attempted to validate the credentials for an account.",
};

/** An event value: text, a number (JSON sources), the items of an array value, or empty. */
export type EventDataValue = string | number | string[] | null | undefined;

export interface WindowsEvent {
  eventId: number;
  /** Milliseconds since the Unix epoch (UTC), or Kusto datetime text when the source is exact to the tick. */
  time: number | string;
  computer: string;
  channel: string;
  provider: string;
  task: number | null;
  level: string;
  /** EventData by name (and, for EVTX, UserData's fields by name); null for an empty value. */
  data: Record<string, EventDataValue>;
  /** Data values without a name, in order. */
  unnamed?: EventDataValue[];
  /** The event's Binary data, as hex. */
  binary?: string | null;
  /** The EventData or UserData element as the source holds it (EVTX); otherwise XML is built from `data`. */
  payload?: EvtxElement | null;
  /** A message already rendered by Windows (forwarded events carry one). */
  message?: string | null;
  /** System fields SecurityEvent has columns for, where the source carries them (EVTX). */
  system?: {
    recordId: number;
    keywords: string;
    processId: number | null;
    threadId: number | null;
    /** Security's UserID (a SID), "" when the event has none. */
    userId: string;
  };
}

const EVENT_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event";
const SECURITY_EVENT_COLUMNS = new Set((TABLE_SCHEMAS.SecurityEvent ?? []).map((c) => c.name));

/**
 * Texts up to this long are scanned for characters to escape in a loop; longer ones by a regular
 * expression (measured with Node 20: the loop is faster up to about 6 characters, the expression
 * twice as fast at 20-40, the length of most event values).
 */
const SHORT_TEXT = 6;
const NEEDS_ESCAPE = /[&<>"]/;

function escapeXml(text: string): string {
  if (text.length <= SHORT_TEXT) {
    let i = 0;
    for (; i < text.length; i++) {
      const code = text.charCodeAt(i);
      // & < > "
      if (code === 38 || code === 60 || code === 62 || code === 34) break;
    }
    if (i === text.length) return text;
  } else if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function startTag(name: string, attributes: Readonly<Record<string, string>>): string {
  let tag = `<${name}`;
  for (const key in attributes) tag += ` ${key}="${escapeXml(attributes[key])}"`;
  return tag;
}

/** An element's tags for a fixed name and attribute set: its start tag unclosed, closed, self-closed, and its end tag. */
interface Tags {
  open: string;
  openEnd: string;
  empty: string;
  close: string;
}

/** Where attribute sets made by `sharedAttributes` keep their element's tags (not enumerable: not an attribute). */
const TAGS = Symbol("element tags");

/**
 * A frozen attribute set shared by every element of this name a source builds with these constant
 * attributes (the EVTX decoder's Data elements with their Name), carrying the element's tags: each
 * tag is written once, not once per event, and found without a lookup.
 */
export function sharedAttributes(name: string, attributes: Record<string, string>): Readonly<Record<string, string>> {
  Object.defineProperty(attributes, TAGS, { value: tagsOf(name, attributes), enumerable: false });
  return Object.freeze(attributes);
}

function sharedTags(attributes: Readonly<Record<string, string>>): Tags | undefined {
  return (attributes as { [TAGS]?: Tags })[TAGS];
}

/** An element's tags, with the namespace declared when given and the element declares none. */
function tagsOf(name: string, attributes: Readonly<Record<string, string>>, namespace?: string): Tags {
  let open = startTag(name, attributes);
  if (namespace && !("xmlns" in attributes)) open = `<${name} xmlns="${namespace}"${open.slice(name.length + 1)}`;
  return { open, openEnd: `${open}>`, empty: `${open} />`, close: `</${name}>` };
}

/** An element holding one value (null: none) with these tags; an array value repeats the element once per item. */
function oneValueXml(tags: Tags, value: string | EvtxArray | null): string {
  if (value === null) return tags.empty;
  if (typeof value === "string") return tags.openEnd + escapeXml(value) + tags.close;
  let xml = "";
  for (const item of value.items) xml += tags.openEnd + escapeXml(item) + tags.close;
  return xml;
}

/** Compact XML of an element (with the event namespace declared, for the payload element); an array value repeats its element once per item. */
function elementXml(element: EvtxElement, namespace?: string): string {
  if (element instanceof ValueListElement) return valueListXml(element, namespace);
  const { name, attributes, children } = element;
  const tags = (namespace ? undefined : sharedTags(attributes)) ?? tagsOf(name, attributes, namespace);
  if (children.length === 0) return oneValueXml(tags, null);
  const only = children.length === 1 ? children[0] : undefined;
  if (only !== undefined && (typeof only === "string" || "items" in only)) return oneValueXml(tags, only);
  return tags.openEnd + childrenXml(children) + tags.close;
}

/** elementXml of a ValueListElement, written from its values (its child elements are not made). */
function valueListXml(element: ValueListElement, namespace?: string): string {
  const { name, attributes, values, childAttributes } = element;
  const own = tagsOf(name, attributes, namespace);
  if (values.length === 0) return own.empty;
  let inner = "";
  for (let i = 0; i < values.length; i++) {
    const tags = sharedTags(childAttributes[i]);
    if (!tags) return own.openEnd + childrenXml(element.children) + own.close;
    inner += oneValueXml(tags, values[i]);
  }
  return own.openEnd + inner + own.close;
}

function childrenXml(children: readonly EvtxNode[]): string {
  let inner = "";
  for (const child of children) {
    if (typeof child === "string") inner += escapeXml(child);
    else if ("items" in child) inner += escapeXml(child.items.join("\n"));
    else inner += elementXml(child);
  }
  return inner;
}

function valueXml(name: string, attributes: Record<string, string>, value: EventDataValue): string {
  const open = startTag(name, attributes);
  if (Array.isArray(value)) return value.map((item) => `${open}>${escapeXml(item)}</${name}>`).join("");
  if (value === null || value === undefined || value === "") return `${open} />`;
  return `${open}>${escapeXml(String(value))}</${name}>`;
}

/** The event's EventData (or UserData) as XML, the form Sentinel's EventData columns hold. */
export function eventDataXml(event: WindowsEvent): string {
  if (event.payload) return elementXml(event.payload, EVENT_NAMESPACE);
  let inner = "";
  for (const [name, value] of Object.entries(event.data)) inner += valueXml("Data", { Name: name }, value);
  for (const value of event.unnamed ?? []) inner += valueXml("Data", {}, value);
  if (event.binary) inner += valueXml("Binary", {}, event.binary);
  return inner ? `<EventData xmlns="${EVENT_NAMESPACE}">${inner}</EventData>` : `<EventData xmlns="${EVENT_NAMESPACE}" />`;
}

function timeText(time: number | string): string {
  return typeof time === "number" ? formatDatetime(datetimeFromMs(time)) : time;
}

/** Insertion strings of a classic event, the part of its description that does not come from the provider's message file. */
function renderedDescription(event: WindowsEvent): string {
  if (event.message) return event.message;
  if (!event.unnamed?.length) return "";
  const texts = event.unnamed.filter((v) => v !== null && v !== undefined && v !== "");
  return texts.map((v) => (Array.isArray(v) ? v.join("\n") : String(v))).join("\n");
}

function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value) ?? "";
}

function joinAccount(domain: string, user: string): string {
  if (!user) return "";
  return domain ? `${domain}\\${user}` : user;
}

/**
 * A SecurityEvent column name found at each position of an event's named values: the events of one
 * template name theirs in the same order, and comparing a name with the last one found there costs
 * less than looking it up among the columns.
 */
const COLUMN_AT: string[] = [];

/** A SecurityEvent record (column name -> raw value), ready for the table builder. */
export function securityEventRecord(event: WindowsEvent): Record<string, unknown> {
  const data = event.data;
  // Built key by key: a spread copy of the event data with the columns added after it took five times as long per record
  // on the bench's one-template log (V8 with Node 20). for-in walks the keys without an array of them (nothing inherited
  // is enumerable).
  const record: Record<string, unknown> = {};
  // Whether the event holds anything the SecurityEvent columns do not (then its EventData column carries it): a payload
  // other than EventData, unnamed values, Binary, or a named value SecurityEvent has no column for.
  let beyondColumns = (!!event.payload && event.payload.name !== "EventData") || !!event.unnamed?.length || !!event.binary;
  let position = 0;
  for (const name in data) {
    record[name] = data[name] ?? "";
    if (!beyondColumns && COLUMN_AT[position] !== name) {
      if (SECURITY_EVENT_COLUMNS.has(name)) COLUMN_AT[position] = name;
      else beyondColumns = true;
    }
    position++;
  }
  const targetUser = text(event.data.TargetUserName);
  const subjectUser = text(event.data.SubjectUserName);
  const target = joinAccount(text(event.data.TargetDomainName), targetUser);
  const subject = joinAccount(text(event.data.SubjectDomainName), subjectUser);
  // Sentinel's Account is the account the event is about: the target where there is one.
  const account = target && targetUser !== "-" ? target : subject;
  const rawLogonType = event.data.LogonType;
  const logonType =
    typeof rawLogonType === "number" || (typeof rawLogonType === "string" && rawLogonType !== "") ? Number(rawLogonType) : null;
  const title = EVENT_TITLES[event.eventId];
  // The named EventData fields are columns already; the EventData column carries what no column holds
  // (UserData, unnamed values, Binary, fields SecurityEvent has no column for), as Sentinel's does.
  if (beyondColumns) record.EventData = eventDataXml(event);
  record.TimeGenerated = event.time;
  record.Computer = event.computer;
  record.EventID = event.eventId;
  record.Channel = event.channel;
  record.EventSourceName = event.provider;
  record.Task = event.task;
  record.Level = event.level;
  record.Activity = title ? `${event.eventId} - ${title}` : String(event.eventId);
  record.Account = account;
  record.AccountType = account.endsWith("$") ? "Machine" : account ? "User" : "";
  record.TargetAccount = target;
  record.SubjectAccount = subject;
  record.LogonType = logonType;
  record.LogonTypeName = logonType === null ? "" : `${logonType} - ${LOGON_TYPE_NAMES[logonType] ?? "Unknown"}`;
  if (event.system) {
    record.EventRecordId = String(event.system.recordId);
    record.Keywords = event.system.keywords;
    record.SystemProcessId = event.system.processId;
    record.SystemThreadId = event.system.threadId;
    // Sentinel writes N/A where the event was logged under no user, as most Security-channel events are.
    record.SystemUserId = event.system.userId || "N/A";
  }
  record.Type = "SecurityEvent";
  return record;
}

/** Events from other channels (Sysmon, Application, ...) go to Sentinel's `Event` table. */
export function eventRecord(event: WindowsEvent): Record<string, unknown> {
  return {
    TimeGenerated: event.time,
    Source: event.provider,
    EventLog: event.channel,
    Computer: event.computer,
    EventID: event.eventId,
    EventLevelName: event.level,
    RenderedDescription: renderedDescription(event),
    EventData: `<DataItem type="System.XmlData" time="${timeText(event.time)}">${eventDataXml(event)}</DataItem>`,
    Type: "Event",
  };
}

/** Whether a channel's events become SecurityEvent rows (the only rows with a column per named value). */
export function isSecurityChannel(channel: string): boolean {
  return channel.toLowerCase() === "security";
}

/** The table and record a Windows event becomes. */
export function windowsEventRow(event: WindowsEvent): { table: string; record: Record<string, unknown> } {
  return isSecurityChannel(event.channel)
    ? { table: "SecurityEvent", record: securityEventRecord(event) }
    : { table: "Event", record: eventRecord(event) };
}
