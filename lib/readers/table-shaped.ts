/**
 * Table-shaped logs: Log Analytics exports (CSV "all columns", JSON array or lines) and NDJSON
 * already in table shape. Each record goes to the table its `Type` names, or one inferred from its columns.
 */
import { createReadStream } from "node:fs";
import { parse as parseCsv } from "csv-parse";
import streamArray from "stream-json/streamers/stream-array.js";
import { z } from "zod";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { ReadOptions, SourceItem } from "./formats.js";
import { describeZodIssue, validatedJsonLines } from "./json-lines.js";

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

export async function* tableShapedJsonLines(path: string, options: ReadOptions): AsyncGenerator<SourceItem> {
  for await (const item of validatedJsonLines(path, RecordObject)) {
    if ("issue" in item) yield item;
    else yield { table: tableOf(item.value, options.table), record: normalizeExportRecord(item.value), at: item.at };
  }
}

export async function* sentinelJsonArray(path: string, options: ReadOptions): AsyncGenerator<SourceItem> {
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

export async function* sentinelCsv(path: string, options: ReadOptions): AsyncGenerator<SourceItem> {
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
