/**
 * Rows from Log Analytics and Defender (typed JSON from the services, Date and parsed dynamic
 * values from the SDK) into engine tables, and engine tables back into the services' JSON shape
 * (for the local endpoint). Column types use Kusto's names on both sides.
 */
import type { Column, Table, Value } from "../kql/types.js";
import { normalizeTypeName } from "../kql/types.js";
import { coerceToType, formatDatetime, formatTimespan } from "../kql/values.js";

export interface ServiceColumn {
  name: string;
  type: string;
}

/** Defender's schema names .NET types; Log Analytics names Kusto types. */
const DOTNET_TYPES: Record<string, string> = {
  String: "string",
  DateTime: "datetime",
  Int32: "int",
  Int64: "long",
  Double: "real",
  Boolean: "bool",
  Object: "dynamic",
  Guid: "guid",
  TimeSpan: "timespan",
  SByte: "bool",
  Decimal: "decimal",
};

export function columnsFrom(descriptors: readonly ServiceColumn[]): Column[] {
  return descriptors.map((d) => ({ name: d.name, type: normalizeTypeName(DOTNET_TYPES[d.type] ?? d.type) ?? "dynamic" }));
}

export function tableFromServiceRows(descriptors: readonly ServiceColumn[], rows: readonly (readonly unknown[])[]): Table {
  const columns = columnsFrom(descriptors);
  return { columns, rows: rows.map((row) => columns.map((c, i) => coerceToType(row[i], c.type))) };
}

/** One cell as the Log Analytics REST API writes it. */
export function serviceValue(value: Value, type: Column["type"]): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "datetime":
      return formatDatetime(value as number);
    case "timespan":
      return formatTimespan(value as number);
    case "dynamic":
      return typeof value === "string" ? value : JSON.stringify(value);
    default:
      return value;
  }
}
