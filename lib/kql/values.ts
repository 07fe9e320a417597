/**
 * Conversions, formatting and comparison of engine values, following Kusto's rules.
 * See types.ts for how each Kusto type is represented.
 */
import type { KqlType, Value } from "./types.js";

import {
  TICKS_PER_DAY,
  TICKS_PER_HOUR,
  TICKS_PER_MINUTE,
  TICKS_PER_MS,
  TICKS_PER_SECOND,
  fractionToTicks,
  parseTimespanTicks,
} from "../time.js";

export { TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MINUTE, TICKS_PER_MS, TICKS_PER_SECOND } from "../time.js";

// ---------- how datetime and timespan are held ----------

/**
 * Kusto's datetime and timespan are 64-bit integer counts of 100 ns ticks. The engine holds both
 * as ticks in a plain JS number (a double), which is exact for every integer up to 2^53:
 *
 * - a timespan is its ticks: exact for any span shorter than 2^53 ticks (about 28.5 years);
 * - a datetime is its ticks since 2020-01-01T00:00:00Z (DATETIME_EPOCH_MS): exact to the tick
 *   from 1991-06-17T00:01:14.5259008Z to 2048-07-16T23:58:45.4740992Z (the epoch ± 2^53 ticks).
 *   Beyond that a value rounds to the nearest 2, 4, ... ticks: the step is at most 512 ticks
 *   (51.2 µs) over Kusto's whole range, years 1 to 9999, and nothing overflows.
 *
 * Ticks since 1970 would pass 2^53 in 1998, and milliseconds since 1970 (what the engine held
 * before) resolve only about 244 ns near 2026, so a FILETIME tick read from a log came back
 * different. A (ms, tick) pair or a BigInt would allocate per value and slow every comparison,
 * sort and group; a double of ticks keeps those plain number operations, and datetime ± timespan,
 * datetime - datetime and bin() stay exact integer arithmetic.
 *
 * Outside the engine (JS Dates, run windows, watermarks, row times read by hunts in code) times
 * are JS epoch milliseconds: a number given for a datetime at the edge (coerceToType, runQuery's
 * `now`, tablesWithin's range) is read as milliseconds, and datetimeToMs gives one back.
 */
export const DATETIME_EPOCH_MS = Date.UTC(2020, 0, 1);
/** Kusto counts datetimes in ticks from 0001-01-01 (what tolong(datetime) returns); this is that epoch in engine ticks. */
export const KUSTO_EPOCH_DATETIME = (-62_135_596_800_000 - DATETIME_EPOCH_MS) * TICKS_PER_MS;

/** JS epoch milliseconds (fractions allowed) as an engine datetime, to the nearest tick. */
export function datetimeFromMs(ms: number): number {
  return Math.round((ms - DATETIME_EPOCH_MS) * TICKS_PER_MS);
}

/** An engine datetime as JS epoch milliseconds, fractional below the millisecond. */
export function datetimeToMs(value: number): number {
  return datetimeWholeMs(value) + subMsTicks(value) / TICKS_PER_MS;
}

/** The JS epoch millisecond a datetime falls in (floored, so its Date has the right calendar fields). */
export function datetimeWholeMs(value: number): number {
  return wholeMsOf(value) + DATETIME_EPOCH_MS;
}

/** The ticks of a datetime past its whole millisecond, 0..9999. */
export function subMsTicks(value: number): number {
  return value - wholeMsOf(value) * TICKS_PER_MS;
}

/**
 * A datetime's whole milliseconds from the engine's epoch. Past 2^53 ticks from it a datetime is a
 * double that steps by more than a tick, and the division can round to the next millisecond or the
 * subtraction land a few ticks outside this one: the result is moved so the ticks past it are 0..9999.
 */
function wholeMsOf(value: number): number {
  const ms = Math.floor(value / TICKS_PER_MS);
  const past = value - ms * TICKS_PER_MS;
  return past < 0 ? ms - 1 : past >= TICKS_PER_MS ? ms + 1 : ms;
}

/** A calendar date to the millisecond (Date.UTC's result) plus sub-millisecond ticks, as an engine datetime. */
function datetimeOf(utcMs: number, ticks: number): number {
  return (utcMs - DATETIME_EPOCH_MS) * TICKS_PER_MS + ticks;
}

// ---------- datetime ----------

/**
 * Kusto's datetime text: ISO 8601 with seven fractional digits, e.g. 2024-10-18T09:29:21.1250000Z.
 * Every datetime of a result is written out so (Log Analytics' JSON form), and a Date and its ISO
 * text per value cost about 0.7 µs: the time of day is written from integers, and the date part,
 * which few values of a result differ in, is kept per day.
 */
export function formatDatetime(value: number): string {
  const ticks = Math.round(value);
  const ms = datetimeWholeMs(ticks);
  const sub = subMsTicks(ticks);
  const day = Math.floor(ms / MS_PER_DAY);
  const date = dateText(day);
  let rest = ms - day * MS_PER_DAY;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const fraction = (rest - seconds * 1000) * TICKS_PER_MS + sub;
  return `${date}T${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${String(fraction).padStart(7, "0")}Z`;
}

const MS_PER_DAY = 86_400_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
/** The date part of days formatDatetime wrote lately, by day since 1970 (cleared when full). */
const DATE_TEXTS = new Map<number, string>();
const MAX_DATE_TEXTS = 4096;

/** A day's `yyyy-mm-dd` (`+yyyyyy-mm-dd` past year 9999, as toISOString writes it); throws for a day that is no date. */
function dateText(day: number): string {
  let text = DATE_TEXTS.get(day);
  if (text === undefined) {
    const iso = new Date(day * MS_PER_DAY).toISOString();
    text = iso.slice(0, iso.indexOf("T"));
    if (DATE_TEXTS.size >= MAX_DATE_TEXTS) DATE_TEXTS.clear();
    DATE_TEXTS.set(day, text);
  }
  return text;
}

/** Datetime text as formatDatetime writes it (and an EVTX FILETIME renders): "d" stands for a digit. */
const DATETIME_TICK_TEXT = "dddd-dd-ddTdd:dd:dd.dddddddZ";

/** Whether the text is datetime text to the tick, as formatDatetime writes it; checked without a regular expression (readers ask per value). */
export function isDatetimeTickText(text: string): boolean {
  if (text.length !== DATETIME_TICK_TEXT.length) return false;
  for (let i = 0; i < DATETIME_TICK_TEXT.length; i++) {
    const code = text.charCodeAt(i);
    const expected = DATETIME_TICK_TEXT.charCodeAt(i);
    if (expected === 100 ? code < 48 || code > 57 : code !== expected) return false;
  }
  return true;
}

const ISO_LIKE = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2}|UTC|GMT)?$/;
const US_EXPORT = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(AM|PM)?$/i;

function offsetMs(zone: string | undefined): number {
  if (!zone || /^(z|utc|gmt)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!m) return 0;
  const sign = m[1] === "-" ? -1 : 1;
  return sign * (Number(m[2]) * 3_600_000 + Number(m[3]) * 60_000);
}

/**
 * Parses datetime text as Kusto's todatetime() does for the forms logs carry: ISO 8601 (a missing
 * zone means UTC), `yyyy-mm-dd hh:mm:ss[.fffffff]`, and the Log Analytics export form
 * `10/18/2024, 9:29:21.125 AM`, into an engine datetime exact to the tick. Returns null for anything else.
 */
export function parseDatetime(text: string, options: { strict?: boolean } = {}): number | null {
  const s = text.trim();
  if (s === "") return null;
  let m = ISO_LIKE.exec(s);
  if (m) {
    const [year, month, day, hour, minute, second] = [+m[1], +m[2], +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)];
    // Kusto rejects dates that do not exist (2024-02-30); Date.UTC would roll them over into March.
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return null;
    return datetimeOf(utcMs(year, month - 1, day, hour, minute, second) - offsetMs(m[8]), fractionToTicks(m[7]));
  }
  m = US_EXPORT.exec(s);
  if (m) {
    let hour = +m[4];
    const meridiem = m[8]?.toUpperCase();
    if (meridiem === "PM" && hour < 12) hour += 12;
    if (meridiem === "AM" && hour === 12) hour = 0;
    return datetimeOf(utcMs(+m[3], +m[1] - 1, +m[2], hour, +m[5], +(m[6] ?? 0)), fractionToTicks(m[7]));
  }
  if (options.strict) return null;
  const fallback = Date.parse(s);
  return Number.isNaN(fallback) ? null : datetimeFromMs(fallback);
}

/** Milliseconds in the Gregorian calendar's 400-year cycle (146,097 days): the calendar repeats after it. */
const GREGORIAN_CYCLE_MS = 146_097 * 86_400_000;

/**
 * Date.UTC for any year: Date.UTC reads years 0-99 as 1900-1999, and Kusto's datetimes start at
 * year 1. Those years are computed 400 years later, where the calendar is the same, and moved back.
 */
export function utcMs(year: number, monthIndex: number, day: number, hour = 0, minute = 0, second = 0): number {
  return year >= 0 && year < 100
    ? Date.UTC(year + 400, monthIndex, day, hour, minute, second) - GREGORIAN_CYCLE_MS
    : Date.UTC(year, monthIndex, day, hour, minute, second);
}

function daysInMonth(year: number, month: number): number {
  return new Date(utcMs(year, month, 0)).getUTCDate();
}

// ---------- timespan ----------

/** Timespan text (`[-][d.]hh:mm:ss[.fffffff]`, `5m`, `1tick`) as an engine timespan (ticks); null when it is not one. */
export const parseTimespan = parseTimespanTicks;

/** JS milliseconds as an engine timespan, to the nearest tick. */
export function timespanFromMs(ms: number): number {
  return Math.round(ms * TICKS_PER_MS);
}

/** Kusto's timespan text: [-][d.]hh:mm:ss[.fffffff]. */
export function formatTimespan(value: number): string {
  const negative = value < 0;
  let ticks = Math.round(Math.abs(value));
  const days = Math.floor(ticks / TICKS_PER_DAY);
  ticks -= days * TICKS_PER_DAY;
  const hours = Math.floor(ticks / TICKS_PER_HOUR);
  ticks -= hours * TICKS_PER_HOUR;
  const minutes = Math.floor(ticks / TICKS_PER_MINUTE);
  ticks -= minutes * TICKS_PER_MINUTE;
  const seconds = Math.floor(ticks / TICKS_PER_SECOND);
  ticks -= seconds * TICKS_PER_SECOND;
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

/**
 * Converts a raw value (from JSON, CSV or an SDK) into the engine's representation of `type`; a
 * number given for a datetime or timespan means JS milliseconds.
 */
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
      // A number or Date from outside the engine is JS epoch milliseconds (see DATETIME_EPOCH_MS).
      if (value === null) return null;
      if (typeof value === "number") return datetimeFromMs(value);
      if (value instanceof Date) return datetimeFromMs(value.getTime());
      return parseDatetime(plainText(value));
    case "timespan":
      if (value === null) return null;
      if (typeof value === "number") return timespanFromMs(value);
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
