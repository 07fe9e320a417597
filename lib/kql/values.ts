/**
 * Conversions, formatting and comparison of engine values, following Kusto's rules.
 * See types.ts for how each Kusto type is represented.
 */
import type { KqlType, Value } from "./types.js";

import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND, fractionToMs, parseTimespan } from "../time.js";

export { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND, parseTimespan } from "../time.js";
/** Kusto counts time in 100 ns ticks from 0001-01-01; this is that epoch in our milliseconds. */
export const KUSTO_EPOCH_MS = -62_135_596_800_000;

// ---------- datetime ----------

/** Kusto's datetime text: ISO 8601 with seven fractional digits, e.g. 2024-10-18T09:29:21.1250000Z. */
export function formatDatetime(ms: number): string {
  const whole = Math.floor(ms);
  const subMsTicks = Math.round((ms - whole) * 10_000);
  const iso = new Date(whole).toISOString(); // yyyy-mm-ddThh:mm:ss.mmmZ
  return `${iso.slice(0, 23)}${String(subMsTicks).padStart(4, "0")}Z`;
}

const ISO_LIKE = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2}|UTC|GMT)?$/;
const US_EXPORT = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(AM|PM)?$/i;

function offsetMs(zone: string | undefined): number {
  if (!zone || /^(z|utc|gmt)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!m) return 0;
  const sign = m[1] === "-" ? -1 : 1;
  return sign * (Number(m[2]) * MS_PER_HOUR + Number(m[3]) * MS_PER_MINUTE);
}

/**
 * Parses datetime text as Kusto's todatetime() does for the forms logs carry: ISO 8601 (a missing
 * zone means UTC), `yyyy-mm-dd hh:mm:ss[.fffffff]`, and the Log Analytics export form
 * `10/18/2024, 9:29:21.125 AM`. Returns null for anything else.
 */
export function parseDatetime(text: string, options: { strict?: boolean } = {}): number | null {
  const s = text.trim();
  if (s === "") return null;
  let m = ISO_LIKE.exec(s);
  if (m) {
    const [year, month, day, hour, minute, second] = [+m[1], +m[2], +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)];
    // Kusto rejects dates that do not exist (2024-02-30); Date.UTC would roll them over into March.
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return null;
    return Date.UTC(year, month - 1, day, hour, minute, second) + fractionToMs(m[7]) - offsetMs(m[8]);
  }
  m = US_EXPORT.exec(s);
  if (m) {
    let hour = +m[4];
    const meridiem = m[8]?.toUpperCase();
    if (meridiem === "PM" && hour < 12) hour += 12;
    if (meridiem === "AM" && hour === 12) hour = 0;
    return Date.UTC(+m[3], +m[1] - 1, +m[2], hour, +m[5], +(m[6] ?? 0)) + fractionToMs(m[7]);
  }
  if (options.strict) return null;
  const fallback = Date.parse(s);
  return Number.isNaN(fallback) ? null : fallback;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// ---------- timespan ----------

/** Kusto's timespan text: [-][d.]hh:mm:ss[.fffffff]. */
export function formatTimespan(ms: number): string {
  const negative = ms < 0;
  let ticks = Math.round(Math.abs(ms) * 10_000);
  const days = Math.floor(ticks / (MS_PER_DAY * 10_000));
  ticks -= days * MS_PER_DAY * 10_000;
  const hours = Math.floor(ticks / (MS_PER_HOUR * 10_000));
  ticks -= hours * MS_PER_HOUR * 10_000;
  const minutes = Math.floor(ticks / (MS_PER_MINUTE * 10_000));
  ticks -= minutes * MS_PER_MINUTE * 10_000;
  const seconds = Math.floor(ticks / (MS_PER_SECOND * 10_000));
  ticks -= seconds * MS_PER_SECOND * 10_000;
  const pad = (n: number) => String(n).padStart(2, "0");
  const fraction = ticks > 0 ? `.${String(ticks).padStart(7, "0")}` : "";
  return `${negative ? "-" : ""}${days > 0 ? `${days}.` : ""}${pad(hours)}:${pad(minutes)}:${pad(seconds)}${fraction}`;
}

// ---------- text ----------

/**
 * JavaScript's own `String(value)`, named for the places that convert whatever a value is (a
 * dynamic array joins with commas, a bag reads `[object Object]`, a number reads as JS prints it),
 * so that choice is explicit at the call site. Kusto's typed conversion is toKqlString.
 */
export function plainText(value: unknown): string {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return String(value);
    case "symbol":
      return value.toString();
    default:
      return value === null ? "null" : (value as { toString(): string }).toString();
  }
}

/** Kusto's tostring(): how a value of a static type reads as text. Null becomes ''. */
export function toKqlString(value: Value, type: KqlType): string {
  if (value === null || value === undefined) return "";
  switch (type) {
    case "string":
    case "guid":
      return plainText(value);
    case "datetime":
      return typeof value === "number" ? formatDatetime(value) : plainText(value);
    case "timespan":
      return typeof value === "number" ? formatTimespan(value) : plainText(value);
    case "bool":
      return value ? "true" : "false";
    case "dynamic":
      return typeof value === "string" ? value : JSON.stringify(value);
    default:
      return plainText(value);
  }
}

/** Converts a value of a static type to its dynamic (JSON) form, as packing it into a bag does. */
export function toDynamic(value: Value, type: KqlType): Value {
  if (value === null || value === undefined) return null;
  if (type === "datetime" && typeof value === "number") return formatDatetime(value);
  if (type === "timespan" && typeof value === "number") return formatTimespan(value);
  return value;
}

// ---------- numbers ----------

export function toNumber(value: Value): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return Number.isNaN(value) ? null : value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") {
    const s = value.trim();
    if (s === "") return null;
    const n = /^[+-]?0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : Number(s);
    return Number.isNaN(n) ? null : n;
  }
  return null;
}

export function toBool(value: Value): boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string") {
    const s = value.trim().toLowerCase();
    if (s === "true" || s === "1") return true;
    if (s === "false" || s === "0") return false;
  }
  return null;
}

/** Converts a raw value (from JSON, CSV or an SDK) into the engine's representation of `type`. */
export function coerceToType(value: unknown, type: KqlType): Value {
  if (value === undefined) value = null;
  switch (type) {
    case "string":
      if (value === null) return "";
      return typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : plainText(value);
    case "int":
    case "long": {
      const n = toNumber(value as Value);
      return n === null ? null : Math.trunc(n);
    }
    case "real":
    case "decimal":
      return toNumber(value as Value);
    case "bool":
      return toBool(value as Value);
    case "datetime":
      if (value === null) return null;
      if (typeof value === "number") return value;
      if (value instanceof Date) return value.getTime();
      return parseDatetime(plainText(value));
    case "timespan":
      if (value === null) return null;
      if (typeof value === "number") return value;
      return parseTimespan(plainText(value));
    case "guid":
      return value === null || value === "" ? null : plainText(value);
    case "dynamic":
      if (typeof value === "string") {
        const s = value.trim();
        if (s.startsWith("{") || s.startsWith("[")) {
          try {
            return JSON.parse(s) as Value;
          } catch {
            return value;
          }
        }
      }
      return value as Value;
  }
}

// ---------- comparison ----------

/**
 * Kusto `==` over two values of compatible types: null on either side gives null when both are
 * null, false otherwise (per the Kusto docs on null values).
 */
export function kqlEquals(a: Value, b: Value): boolean | null {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull && bNull ? null : false;
  if (typeof a === typeof b && typeof a !== "object") return a === b;
  if (typeof a === "object" || typeof b === "object") return JSON.stringify(a) === JSON.stringify(b);
  // Dynamic values compared with typed ones: compare numbers numerically, else as text.
  if (typeof a === "number" || typeof b === "number") {
    const na = toNumber(a);
    const nb = toNumber(b);
    return na !== null && nb !== null ? na === nb : false;
  }
  return String(a) === String(b);
}

/** Ordinal comparison used by sort, top, min and max. Nulls are handled by callers. */
export function compareValues(a: Value, b: Value): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return a === b ? 0 : a ? 1 : -1;
  const sa = typeof a === "object" ? JSON.stringify(a) : String(a);
  const sb = typeof b === "object" ? JSON.stringify(b) : String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** The value of a cell with nothing in it: strings are never null in Kusto, other types are. */
export function emptyValue(type: KqlType): Value {
  return type === "string" ? "" : null;
}

export function isNullValue(value: Value, type: KqlType): boolean {
  if (value === null || value === undefined) return true;
  // Strings are never null in Kusto; guid and dynamic can be.
  return type !== "string" && typeof value === "number" && Number.isNaN(value);
}

/**
 * A Map or Set key for a value: primitives are their own key (so 1 and "1" differ without
 * building strings on the hot path), objects and arrays their JSON.
 */
export function valueIdentity(value: Value): unknown {
  return value !== null && typeof value === "object" ? `\u0002${JSON.stringify(value)}` : value;
}

/** A key that identifies a value for grouping, distinct and join (type-tagged so 1 and "1" differ). */
export function groupKey(value: Value): string {
  if (value === null || value === undefined) return "\u0000";
  switch (typeof value) {
    case "string":
      return `s${value}`;
    case "number":
      return `n${value}`;
    case "boolean":
      return value ? "bt" : "bf";
    default:
      return `j${JSON.stringify(value)}`;
  }
}
