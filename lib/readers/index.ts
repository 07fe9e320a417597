/**
 * Log readers: turn files responders and Sentinel users have into rows of the Sentinel tables.
 *
 * Formats: EVTX, Log Analytics exports (CSV "all columns", JSON array or lines), NXLog and
 * Winlogbeat (ECS) JSON lines of Windows events, and plain NDJSON already in table shape. The
 * format is detected from content and can be forced. Every reader streams: a file is never read
 * whole, so memory stays bounded on large files.
 */
import { createReadStream } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { createInterface } from "node:readline";
import { parse as parseCsv } from "csv-parse";
import streamArray from "stream-json/streamers/stream-array.js";
import { z } from "zod";
import type { Table } from "../kql/types.js";
import { parseDatetime } from "../kql/values.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import { FILE_SIGNATURE, flattenEvent, readEvtxRecords } from "./evtx.js";
import { TableBuilder, type ReadIssue } from "./table-builder.js";
import { windowsEventRow, type WindowsEvent } from "./windows-events.js";

export const LOG_FORMATS = ["evtx", "sentinel-csv", "sentinel-json", "nxlog", "winlogbeat", "ndjson"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LogFormatSchema = z.enum(LOG_FORMATS);

export type { ReadIssue } from "./table-builder.js";

export type SourceItem = { table: string; record: Record<string, unknown>; at: number } | { issue: ReadIssue };

export interface ReadOptions {
  /** Skip detection and read as this format. */
  format?: LogFormat;
  /** For table-shaped files whose rows carry no `Type`: the table they belong to. */
  table?: string;
}

// ---------- detection ----------

async function head(path: string, bytes = 65536): Promise<Buffer> {
  const file = await open(path, "r");
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await file.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** The start of a text file as text: UTF-8, without a byte-order mark or leading blank space. */
function leadingText(start: Buffer): string {
  return start
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .trimStart();
}

function classifyJsonObject(value: Record<string, unknown>): LogFormat {
  if (typeof value.winlog === "object" || (typeof value.event === "object" && value.event !== null && "code" in (value.event as object))) {
    return "winlogbeat";
  }
  if ("EventID" in value && ("EventTime" in value || "SourceModuleType" in value || "Hostname" in value || "TimeCreated" in value)) {
    return "nxlog";
  }
  return "ndjson";
}

export async function detectFormat(path: string): Promise<LogFormat> {
  const start = await head(path);
  if (start.toString("latin1", 0, 8) === FILE_SIGNATURE) return "evtx";
  const trimmed = leadingText(start);
  if (trimmed.startsWith("[")) return "sentinel-json";
  if (trimmed.startsWith("{")) {
    const firstLine = trimmed.split(/\r?\n/, 1)[0];
    try {
      return classifyJsonObject(JSON.parse(firstLine));
    } catch {
      return "ndjson";
    }
  }
  const header = trimmed.split(/\r?\n/, 1)[0];
  if (/(^|,)"?TimeGenerated( \[UTC\])?"?(,|$)/.test(header) || extname(path).toLowerCase() === ".csv") return "sentinel-csv";
  throw new Error(`${path}: cannot tell the log format from its content; pass one of ${LOG_FORMATS.join(", ")}`);
}

// ---------- table-shaped records (exports and NDJSON) ----------

/** Which Sentinel table a table-shaped record belongs to. */
export function tableOf(record: Record<string, unknown>, fallback?: string): string {
  const declaredValue = record.$table ?? record.Type;
  const declared = typeof declaredValue === "string" && declaredValue ? declaredValue : undefined;
  // Some exports reuse `Type` for other things (AuditLogs rows typed "Application"); trust it for known tables only.
  if (declared && TABLE_SCHEMAS[declared]) return declared;
  if (fallback) return fallback;
  const inferred = inferTable(record);
  return inferred === "Unknown" && declared ? declared : inferred;
}

function inferTable(record: Record<string, unknown>): string {
  if ("EventID" in record && ("Account" in record || "Channel" in record)) return "SecurityEvent";
  if ("UserPrincipalName" in record && "ResultType" in record && "AppDisplayName" in record) return "SigninLogs";
  if ("TargetResources" in record && "InitiatedBy" in record) return "AuditLogs";
  if ("ActionType" in record && "DeviceName" in record) {
    const action = String(record.ActionType);
    if (/^Logon/.test(action)) return "DeviceLogonEvents";
    if (/Connection|Inbound|Listening/.test(action) || "RemotePort" in record) return "DeviceNetworkEvents";
    return "DeviceEvents";
  }
  return "Unknown";
}

/** Export quirks: `TimeGenerated [UTC]` headers, `X_dynamic` copies of dynamic columns. */
function normalizeExportRecord(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    let name = key.replace(/ \[UTC\]$/, "");
    if (name.endsWith("_dynamic") && !(name.slice(0, -8) in record)) name = name.slice(0, -8);
    if (name === "$table") continue;
    out[name] = value;
  }
  return out;
}

const RecordObject = z.record(z.string(), z.unknown());

function describeZodIssue(error: z.ZodError, value: unknown): { field?: string; message: string } {
  const issue = error.issues[0];
  const field = issue.path.join(".");
  let received: unknown = value;
  for (const key of issue.path)
    received = received && typeof received === "object" ? (received as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined;
  const shown = received === undefined ? "missing" : JSON.stringify(received)?.slice(0, 80);
  return { field: field || undefined, message: `${field || "record"}: ${issue.message} (got ${shown})` };
}

async function* jsonLines(path: string): AsyncGenerator<{ value: unknown; at: number } | { issue: ReadIssue }> {
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let at = 0;
  for await (const rawLine of lines) {
    at++;
    const line = at === 1 ? rawLine.replace(/^\uFEFF/, "") : rawLine;
    if (!line.trim()) continue;
    try {
      yield { value: JSON.parse(line), at };
    } catch (error) {
      yield { issue: { source: path, at, message: `not valid JSON: ${(error as Error).message}` } };
    }
  }
}

/** JSON lines checked against a zod schema: each line's value, or an issue naming the line and field. */
async function* validatedJsonLines<T extends z.ZodType>(
  path: string,
  schema: T,
): AsyncGenerator<{ value: z.infer<T>; at: number } | { issue: ReadIssue }> {
  for await (const item of jsonLines(path)) {
    if ("issue" in item) {
      yield item;
      continue;
    }
    const parsed = schema.safeParse(item.value);
    if (parsed.success) yield { value: parsed.data, at: item.at };
    else yield { issue: { source: path, at: item.at, ...describeZodIssue(parsed.error, item.value) } };
  }
}

async function* tableShapedJsonLines(path: string, options: ReadOptions): AsyncGenerator<SourceItem> {
  for await (const item of validatedJsonLines(path, RecordObject)) {
    if ("issue" in item) yield item;
    else yield { table: tableOf(item.value, options.table), record: normalizeExportRecord(item.value), at: item.at };
  }
}

async function* sentinelJsonArray(path: string, options: ReadOptions): AsyncGenerator<SourceItem> {
  const stream = createReadStream(path).pipe(streamArray.withParserAsStream());
  for await (const item of stream as AsyncIterable<{ key: number; value: unknown }>) {
    const at = item.key + 1;
    const parsed = RecordObject.safeParse(item.value);
    if (!parsed.success) {
      yield { issue: { source: path, at, ...describeZodIssue(parsed.error, item.value) } };
      continue;
    }
    yield { table: tableOf(parsed.data, options.table), record: normalizeExportRecord(parsed.data), at };
  }
}

async function* sentinelCsv(path: string, options: ReadOptions): AsyncGenerator<SourceItem> {
  const parser = createReadStream(path).pipe(
    parseCsv({ columns: true, bom: true, relax_column_count: true, skip_empty_lines: true, info: true }),
  );
  let expectedColumns = 0;
  let invalidSoFar = 0; // csv-parse counts rows of the wrong length cumulatively
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number; columns: { name: string }[] | boolean; invalid_field_length: number };
  }>) {
    if (!expectedColumns && Array.isArray(info.columns)) expectedColumns = info.columns.length;
    const fields = Object.keys(record).length;
    const wrongLength = info.invalid_field_length > invalidSoFar;
    invalidSoFar = info.invalid_field_length;
    if (wrongLength || (expectedColumns && fields !== expectedColumns)) {
      yield {
        issue: { source: path, at: info.lines, message: `row has a different number of fields than the header (${expectedColumns})` },
      };
      continue;
    }
    const normalized = normalizeExportRecord(record);
    yield { table: tableOf(normalized, options.table), record: normalized, at: info.lines };
  }
}

// ---------- Windows events as JSON (NXLog, Winlogbeat) ----------

const NxlogEvent = z
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

function nxlogEvent(value: z.infer<typeof NxlogEvent>): WindowsEvent | string {
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
    time,
    computer: value.Hostname ?? value.Computer ?? host,
    channel: value.Channel,
    provider: value.SourceName ?? "Microsoft-Windows-Security-Auditing",
    task: value.Task ?? null,
    level: value.Severity ?? "",
    data,
  };
}

const WinlogbeatEvent = z
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

function winlogbeatEvent(value: z.infer<typeof WinlogbeatEvent>): WindowsEvent | string {
  const time = parseDatetime(value["@timestamp"]);
  if (time === null) return `@timestamp: not a date (got ${JSON.stringify(value["@timestamp"])})`;
  const eventId = value.winlog.event_id ?? value.event?.code;
  if (eventId === undefined) return "winlog.event_id: missing (and no event.code)";
  const data: WindowsEvent["data"] = {};
  for (const [key, v] of Object.entries(value.winlog.event_data ?? {})) data[key] = eventDataValue(v);
  return {
    eventId,
    time,
    computer: value.winlog.computer_name ?? value.host?.name ?? "",
    channel: value.winlog.channel,
    provider: value.winlog.provider_name ?? "",
    task: null,
    level: value.log?.level ?? "",
    data,
  };
}

async function* windowsJsonLines<T extends z.ZodType>(
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

async function* evtxFile(path: string): AsyncGenerator<SourceItem> {
  const warnings: ReadIssue[] = [];
  let at = 0;
  for await (const record of readEvtxRecords(path, {
    onWarning: (w) => warnings.push({ source: path, at: w.chunk, message: `chunk ${w.chunk} (byte ${w.offset}) skipped: ${w.message}` }),
  })) {
    while (warnings.length) yield { issue: warnings.shift()! };
    at++;
    const flat = flattenEvent(record);
    yield {
      ...windowsEventRow({
        eventId: flat.EventID,
        time: flat.TimeCreated,
        computer: flat.Computer,
        channel: flat.Channel,
        provider: flat.Provider,
        task: flat.Task,
        level: flat.Level,
        data: flat.data,
      }),
      at,
    };
  }
  while (warnings.length) yield { issue: warnings.shift()! };
}

/** Streams the rows of one log file. */
export async function* readLogFile(path: string, options: ReadOptions = {}): AsyncGenerator<SourceItem> {
  const format = options.format ?? (await detectFormat(path));
  switch (format) {
    case "evtx":
      yield* evtxFile(path);
      return;
    case "sentinel-csv":
      yield* sentinelCsv(path, options);
      return;
    case "sentinel-json":
      if (leadingText(await head(path, 4096)).startsWith("[")) yield* sentinelJsonArray(path, options);
      else yield* tableShapedJsonLines(path, options);
      return;
    case "ndjson":
      yield* tableShapedJsonLines(path, options);
      return;
    case "nxlog":
      yield* windowsJsonLines(path, NxlogEvent, nxlogEvent);
      return;
    case "winlogbeat":
      yield* windowsJsonLines(path, WinlogbeatEvent, winlogbeatEvent);
      return;
  }
}

const LOG_EXTENSIONS = new Set([".evtx", ".json", ".jsonl", ".ndjson", ".csv"]);

/** Files under the given paths (directories are walked) that look like logs. */
export async function logFilesUnder(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    const info = await stat(path);
    if (info.isDirectory()) {
      const entries = (await readdir(path)).sort();
      out.push(...(await logFilesUnder(entries.map((e) => join(path, e)).filter((p) => !basename(p).startsWith(".")))));
    } else if (LOG_EXTENSIONS.has(extname(path).toLowerCase()) || paths.length === 1) out.push(path);
  }
  return out;
}

export interface LoadedLogs {
  tables: Record<string, Table>;
  issues: ReadIssue[];
  files: { path: string; format: LogFormat; rows: number }[];
}

/** The first `limit` read problems, one line each, for a console or a log. */
export function reportReadIssues(issues: readonly ReadIssue[], log: (line: string) => void, limit = 20): void {
  for (const issue of issues.slice(0, limit)) log(`warning: ${issue.source}:${issue.at}: ${issue.message}`);
}

/** Reads files and folders into typed tables, keeping every good row and reporting the rest. */
export async function loadLogs(paths: string[], options: ReadOptions = {}): Promise<LoadedLogs> {
  const builder = new TableBuilder();
  const files: LoadedLogs["files"] = [];
  for (const path of await logFilesUnder(paths)) {
    let format: LogFormat;
    try {
      format = options.format ?? (await detectFormat(path));
    } catch (error) {
      builder.issue({ source: path, at: 0, message: (error as Error).message });
      continue;
    }
    let rows = 0;
    for await (const item of readLogFile(path, { ...options, format })) {
      if ("issue" in item) builder.issue(item.issue);
      else if (builder.add(item.table, item.record, path, item.at)) rows++;
    }
    files.push({ path, format, rows });
  }
  return { tables: builder.build(), issues: builder.issues, files };
}
