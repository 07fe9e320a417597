/** Windows events as JSON lines: NXLog and Winlogbeat (ECS), reduced to `WindowsEvent` and mapped to rows. */
import { z } from "zod";
import { formatDatetime, parseDatetime } from "../kql/values.js";
import type { SourceItem } from "./formats.js";
import { validatedJsonLines } from "./json-lines.js";
import { windowsEventRow, type WindowsEvent } from "./windows-events.js";

export const NxlogEvent = z
  .object({
    EventID: z.coerce.number().int(),
    "@timestamp": z.string().optional(),
    EventTime: z.string().optional(),
    TimeCreated: z.string().optional(),
    Hostname: z.string().optional(),
    Computer: z.string().optional(),
    host: z.unknown().optional(),
    Channel: z.string().default("Security"),
    SourceName: z.string().optional(),
    Task: z.coerce.number().int().optional(),
    Severity: z.string().optional(),
  })
  .loose();

/** NXLog metadata fields: everything else in an NXLog record is EventData. */
const NXLOG_METADATA = new Set([
  "@timestamp",
  "@version",
  "EventTime",
  "EventReceivedTime",
  "TimeCreated",
  "Hostname",
  "Computer",
  "host",
  "port",
  "tags",
  "Channel",
  "SourceName",
  "ProviderGuid",
  "Task",
  "Severity",
  "SeverityValue",
  "Keywords",
  "EventType",
  "Version",
  "SourceModuleName",
  "SourceModuleType",
  "RecordNumber",
  "ThreadID",
  "ExecutionProcessID",
  "Opcode",
  "OpcodeValue",
  "Category",
  "Message",
  "ActivityID",
  "ERROR_EVT_UNRESOLVED",
  "EventID",
]);

/** An EventData value as the engine stores it: scalars as they are, structures as JSON text. */
function eventDataValue(v: unknown): string | number | null {
  return v === null || v === undefined ? null : typeof v === "object" ? JSON.stringify(v) : (v as string | number);
}

export function nxlogEvent(value: z.infer<typeof NxlogEvent>): WindowsEvent | string {
  // @timestamp is UTC; NXLog's EventTime is the host's local time and only a fallback.
  const timeText = value["@timestamp"] ?? value.TimeCreated ?? value.EventTime;
  const time = timeText ? parseDatetime(timeText) : null;
  if (time === null) return `no readable event time (got ${JSON.stringify(timeText ?? null)})`;
  const data: WindowsEvent["data"] = {};
  for (const [key, v] of Object.entries(value)) {
    if (!NXLOG_METADATA.has(key)) data[key] = eventDataValue(v);
  }
  const host =
    typeof value.host === "string"
      ? value.host
      : typeof value.host === "object" && value.host
        ? String((value.host as { name?: string }).name ?? "")
        : "";
  return {
    eventId: value.EventID,
    time: formatDatetime(time), // the text keeps every tick the source wrote
    computer: value.Hostname ?? value.Computer ?? host,
    channel: value.Channel,
    provider: value.SourceName ?? "Microsoft-Windows-Security-Auditing",
    task: value.Task ?? null,
    level: value.Severity ?? "",
    data,
  };
}

export const WinlogbeatEvent = z
  .object({
    "@timestamp": z.string(),
    winlog: z
      .object({
        event_id: z.coerce.number().int().optional(),
        channel: z.string().default("Security"),
        computer_name: z.string().optional(),
        provider_name: z.string().optional(),
        event_data: z.record(z.string(), z.unknown()).optional(),
      })
      .loose(),
    event: z.object({ code: z.coerce.number().int().optional() }).loose().optional(),
    host: z.object({ name: z.string().optional() }).loose().optional(),
    log: z.object({ level: z.string().optional() }).loose().optional(),
  })
  .loose();

export function winlogbeatEvent(value: z.infer<typeof WinlogbeatEvent>): WindowsEvent | string {
  const time = parseDatetime(value["@timestamp"]);
  if (time === null) return `@timestamp: not a date (got ${JSON.stringify(value["@timestamp"])})`;
  const eventId = value.winlog.event_id ?? value.event?.code;
  if (eventId === undefined) return "winlog.event_id: missing (and no event.code)";
  const data: WindowsEvent["data"] = {};
  for (const [key, v] of Object.entries(value.winlog.event_data ?? {})) data[key] = eventDataValue(v);
  return {
    eventId,
    time: formatDatetime(time), // the text keeps every tick the source wrote
    computer: value.winlog.computer_name ?? value.host?.name ?? "",
    channel: value.winlog.channel,
    provider: value.winlog.provider_name ?? "",
    task: null,
    level: value.log?.level ?? "",
    data,
  };
}

export async function* windowsJsonLines<T extends z.ZodType>(
  path: string,
  schema: T,
  toEvent: (v: z.infer<T>) => WindowsEvent | string,
): AsyncGenerator<SourceItem> {
  for await (const item of validatedJsonLines(path, schema)) {
    if ("issue" in item) {
      yield item;
      continue;
    }
    const event = toEvent(item.value);
    if (typeof event === "string") {
      yield { issue: { source: path, at: item.at, message: event } };
      continue;
    }
    yield { ...windowsEventRow(event), at: item.at };
  }
}
