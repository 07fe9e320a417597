/**
 * Scalar functions of the local engine. Each entry receives its compiled arguments and returns
 * a compiled expression; the parser has already checked names, arity and argument types.
 */
import { allConstant, rowwise, unary, type CallSite, type ScalarFunction } from "./call.js";
import { constant, type Compiled, type Evaluator } from "./context.js";
import { randomUUID } from "node:crypto";
import { DYNAMIC_FUNCTIONS } from "./dynamic-functions.js";
import { GEO_FUNCTIONS } from "./geo-functions.js";
import { IP_FUNCTIONS } from "./ip-functions.js";
import { TEXT_FUNCTIONS } from "./text-functions.js";
import { SERIES_FUNCTIONS } from "./series-functions.js";
import { errorAt, nodeText, type SyntaxNode } from "./kusto.js";
import { compileRegex, hasTerm, isPlainPattern } from "./text.js";
import { NUMERIC_TYPES, type KqlType, type Row, type Value } from "./types.js";
import { MS_PER_DAY } from "../time.js";
import {
  KUSTO_EPOCH_DATETIME,
  TICKS_PER_DAY,
  TICKS_PER_HOUR,
  TICKS_PER_MINUTE,
  TICKS_PER_MS,
  TICKS_PER_SECOND,
  DATETIME_EPOCH_MS,
  datetimeFromMs,
  datetimeWholeMs,
  subMsTicks,
  coerceToType,
  compareValues,
  emptyValue,
  plainText,
  valueIdentity,
  toBool,
  toDynamic,
  toKqlString,
  toNumber,
  utcMs,
} from "./values.js";

const str = (value: Value, type: KqlType): string => (typeof value === "string" ? value : toKqlString(value, type));
const argText = (call: CallSite, values: Value[], i: number): string => str(values[i], call.args[i]?.type ?? "string");
const num = (value: Value): number | null => toNumber(value);

// ---------- datetime helpers (values in engine ticks, see values.ts) ----------

/** The engine's epoch is a midnight, so days (and hours, minutes, ...) are counted from it directly. */
function startOfDay(value: number): number {
  return Math.floor(value / TICKS_PER_DAY) * TICKS_PER_DAY;
}

/** A datetime's calendar fields, to the millisecond. */
function dateOf(value: number): Date {
  return new Date(datetimeWholeMs(value));
}

/** The ticks of a datetime past its whole second, 0..9999999. */
function subSecondTicks(value: number): number {
  return value - Math.floor(value / TICKS_PER_SECOND) * TICKS_PER_SECOND;
}

/**
 * Steps of `size` ticks laid from a far origin (Kusto's 0001-01-01, 1970): where one of them
 * falls next to the engine's epoch, i.e. `origin mod size`. The origin is too far from the epoch
 * to subtract from a datetime exactly in a double, so the remainder is taken in BigInt, once per
 * size (the last one is kept, as a query bins by one size row after row).
 */
function gridFrom(origin: number): (size: number) => number {
  const exact = BigInt(origin);
  let lastSize = NaN;
  let lastShift = 0;
  return (size) => {
    if (size !== lastSize) {
      lastSize = size;
      if (Number.isSafeInteger(size)) {
        const step = BigInt(size);
        lastShift = Number(((exact % step) + step) % step);
      } else lastShift = origin - Math.floor(origin / size) * size;
    }
    return lastShift;
  };
}

/** Kusto bins datetimes from 0001-01-01 (a Monday, so 7d bins start on Mondays). */
const kustoGrid = gridFrom(KUSTO_EPOCH_DATETIME);
/** datetime_diff counts the Sundays crossed (its documented example: 2017-09-30 to 2017-10-29 is 5 weeks); 2017-01-01 was a Sunday. */
const sundayGrid = gridFrom(datetimeFromMs(Date.UTC(2017, 0, 1)));

/** bin(value, size), or bin_at with an origin. */
export function binValue(value: number, size: number, type: KqlType, origin?: number): number {
  if (size <= 0) return value;
  const base = origin ?? (type === "datetime" ? kustoGrid(size) : 0);
  return Math.floor((value - base) / size) * size + base;
}

const DATE_PARTS: Record<string, number> = {
  day: TICKS_PER_DAY,
  hour: TICKS_PER_HOUR,
  minute: TICKS_PER_MINUTE,
  second: TICKS_PER_SECOND,
  millisecond: TICKS_PER_MS,
  microsecond: 10,
  nanosecond: 0.01,
  week: 7 * TICKS_PER_DAY,
};

/** UTF-8 text of base64 bytes; empty when the bytes are not UTF-8 (the documented answer), not text with replacement characters. */
function base64Utf8(text: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(text, "base64"));
  } catch {
    return "";
  }
}

function addMonths(value: number, months: number): number {
  const d = dateOf(value);
  d.setUTCMonth(d.getUTCMonth() + months);
  return datetimeFromMs(d.getTime()) + subMsTicks(value);
}

// ---------- conversion ----------

function convert(type: KqlType): ScalarFunction {
  return (call) => {
    const [arg] = call.args;
    const f = arg.fn;
    const from = arg.type;
    let fn: Evaluator;
    if (type === "string") fn = (row) => toKqlString(f(row), from);
    else if (from === type) fn = f;
    else if (from === "datetime" && NUMERIC_TYPES.has(type)) {
      // Kusto: a datetime as a number is its ticks since 0001-01-01 (beyond 2^53, so exact to 128 ticks).
      fn = (row) => {
        const v = f(row);
        return typeof v === "number" ? Math.round(v) - KUSTO_EPOCH_DATETIME : null;
      };
    } else if (type === "int" || type === "long") {
      fn = (row) => {
        const v = f(row);
        const n = typeof v === "number" ? v : num(v);
        return n === null ? null : Math.trunc(n);
      };
    } else if (type === "real" || type === "decimal") fn = (row) => num(f(row));
    else if (type === "bool") fn = (row) => toBool(f(row));
    else if (type === "dynamic") {
      fn = (row) => {
        const v = f(row);
        if (typeof v !== "string") return toDynamic(v, from);
        try {
          return JSON.parse(v) as Value;
        } catch {
          return v;
        }
      };
    } else fn = (row) => coerceToType(f(row), type);
    return { fn, type, constant: arg.constant };
  };
}

// ---------- window functions (need serialized rows) ----------

function needCursor(call: CallSite, name: string) {
  const cursor = call.ctx.cursor;
  if (!cursor) {
    throw errorAt(call.ctx.query, call.node, `${name}() needs serialized input (use it in serialize, or after order by / sort / top)`);
  }
  return cursor;
}

function neighbour(direction: -1 | 1): ScalarFunction {
  return (call) => {
    const cursor = needCursor(call, direction < 0 ? "prev" : "next");
    const [column, offsetArg, fallback] = call.args;
    const offset = offsetArg ? Number(offsetArg.fn([])) : 1;
    const col = column.fn;
    const def = fallback?.fn;
    return {
      fn: (row) => {
        const target = cursor.rows[cursor.index + direction * offset];
        if (!target) return def ? def(row) : emptyValue(column.type);
        return col(target);
      },
      type: column.type,
      constant: false,
    };
  };
}

function rowNumber(call: CallSite): Compiled {
  const cursor = needCursor(call, "row_number");
  const [startArg, restartArg] = call.args;
  const start = startArg ? Number(startArg.fn([])) : 1;
  const restart = restartArg?.fn;
  let current = start - 1;
  let lastIndex = -1;
  return {
    fn: (row) => {
      if (cursor.index <= lastIndex) current = start - 1; // a new pass over the rows
      lastIndex = cursor.index;
      if (restart && cursor.index > 0 && restart(row) === true) current = start - 1;
      current += 1;
      return current;
    },
    type: "long",
    constant: false,
  };
}

/**
 * A window function's pass over serialized rows: `restarts(row)` says whether this row begins a
 * new partition, on the first row of each pass (the operator may loop over the rows again) and
 * wherever the optional restart argument is true.
 */
function windowPass(call: CallSite, name: string, restartArg: Compiled | undefined): (row: Row) => boolean {
  const cursor = needCursor(call, name);
  const restart = restartArg?.fn;
  let lastIndex = -1;
  return (row) => {
    const newPass = cursor.index <= lastIndex || lastIndex < 0;
    lastIndex = cursor.index;
    return newPass || (restart !== undefined && cursor.index > 0 && restart(row) === true);
  };
}

/** row_cumsum(term [, restart]): the running sum of term over serialized rows (a null term adds nothing). */
function rowCumsum(call: CallSite): Compiled {
  const [termArg, restartArg] = call.args;
  const restarts = windowPass(call, "row_cumsum", restartArg);
  const term = termArg.fn;
  let sum = 0;
  return {
    fn: (row) => {
      if (restarts(row)) sum = 0;
      const v = num(term(row));
      if (v !== null) sum += v;
      return sum;
    },
    type: termArg.type === "int" ? "long" : termArg.type,
    constant: false,
  };
}

/**
 * row_rank_dense(term [, restart]) and row_rank_min(term [, restart]) over serialized rows: the
 * dense rank goes up by one whenever term differs from the previous row's; the min rank is the
 * row number (from 1 in each partition) of the first row of the current run of equal terms.
 */
function rowRank(name: string, mode: "dense" | "min"): ScalarFunction {
  return (call) => {
    const [termArg, restartArg] = call.args;
    const restarts = windowPass(call, name, restartArg);
    const term = termArg.fn;
    let rank = 0;
    let position = 0;
    let previous: unknown = undefined;
    return {
      fn: (row) => {
        const identity = valueIdentity(term(row));
        if (restarts(row)) {
          rank = 0;
          position = 0;
          previous = undefined;
        }
        position += 1;
        if (position === 1 || identity !== previous) rank = mode === "dense" ? rank + 1 : position;
        previous = identity;
        return rank;
      },
      type: "long",
      constant: false,
    };
  };
}

// ---------- the table ----------

export const SCALAR_FUNCTIONS: Record<string, ScalarFunction> = {
  // time
  now: (call) => {
    const [offset] = call.args;
    const base = call.ctx.env.now;
    return constant(base + (offset ? Number(offset.fn([])) : 0), "datetime");
  },
  ago: (call) => {
    const [span] = call.args;
    const base = call.ctx.env.now;
    const f = span.fn;
    return {
      fn: (row) => {
        const v = f(row);
        return v === null ? null : base - Number(v);
      },
      type: "datetime",
      constant: span.constant,
    };
  },
  bin: rowwise(([value, size], call) => {
    if (value === null || size === null) return null;
    return binValue(Number(value), Number(size), call.args[0].type);
  }),
  floor: rowwise(([value, size], call) => {
    if (value === null || size === null) return null;
    return binValue(Number(value), Number(size), call.args[0].type);
  }),
  bin_at: rowwise(([value, size, origin], call) => {
    if (value === null || size === null || origin === null) return null;
    return binValue(Number(value), Number(size), call.args[0].type, Number(origin));
  }),
  startofday: rowwise(([value, offset]) => (value === null ? null : startOfDay(Number(value)) + Number(offset ?? 0) * TICKS_PER_DAY)),
  // The end of a period is its last tick, as in Kusto.
  endofday: rowwise(([value, offset]) =>
    value === null ? null : startOfDay(Number(value)) + (1 + Number(offset ?? 0)) * TICKS_PER_DAY - 1,
  ),
  // The optional offset moves by whole periods, as the end-of-period functions' does.
  startofweek: rowwise(([value, offset]) => {
    if (value === null) return null;
    const day = startOfDay(Number(value));
    return day - dateOf(day).getUTCDay() * TICKS_PER_DAY + 7 * Number(offset ?? 0) * TICKS_PER_DAY;
  }),
  startofmonth: rowwise(([value, offset]) => {
    if (value === null) return null;
    const d = dateOf(Number(value));
    return datetimeFromMs(utcMs(d.getUTCFullYear(), d.getUTCMonth() + Number(offset ?? 0), 1));
  }),
  startofyear: rowwise(([value, offset]) =>
    value === null ? null : datetimeFromMs(utcMs(dateOf(Number(value)).getUTCFullYear() + Number(offset ?? 0), 0, 1)),
  ),
  dayofweek: rowwise(([value]) => (value === null ? null : dateOf(Number(value)).getUTCDay() * TICKS_PER_DAY)),
  hourofday: rowwise(([value]) => (value === null ? null : dateOf(Number(value)).getUTCHours())),
  dayofmonth: rowwise(([value]) => (value === null ? null : dateOf(Number(value)).getUTCDate())),
  getyear: rowwise(([value]) => (value === null ? null : dateOf(Number(value)).getUTCFullYear())),
  getmonth: rowwise(([value]) => (value === null ? null : dateOf(Number(value)).getUTCMonth() + 1)),
  datetime_add: rowwise(([part, amount, value]) => {
    if (amount === null || value === null) return null;
    const p = plainText(part).toLowerCase();
    if (p === "month") return addMonths(Number(value), Number(amount));
    if (p === "quarter") return addMonths(Number(value), 3 * Number(amount));
    if (p === "year") return addMonths(Number(value), 12 * Number(amount));
    const unit = DATE_PARTS[p];
    // A datetime holds whole ticks: nanoseconds short of one are dropped.
    return unit === undefined ? null : Number(value) + Math.trunc(Number(amount) * unit);
  }),
  datetime_diff: rowwise(([part, a, b]) => {
    if (a === null || b === null) return null;
    const p = plainText(part).toLowerCase();
    const x = Number(a);
    const y = Number(b);
    if (p === "year") return dateOf(x).getUTCFullYear() - dateOf(y).getUTCFullYear();
    if (p === "month" || p === "quarter") {
      const dx = dateOf(x);
      const dy = dateOf(y);
      if (p === "quarter")
        return (dx.getUTCFullYear() - dy.getUTCFullYear()) * 4 + Math.floor(dx.getUTCMonth() / 3) - Math.floor(dy.getUTCMonth() / 3);
      return (dx.getUTCFullYear() - dy.getUTCFullYear()) * 12 + dx.getUTCMonth() - dy.getUTCMonth();
    }
    const unit = DATE_PARTS[p];
    if (unit === undefined) return null;
    if (unit < 1) return Math.round((x - y) / unit); // nanoseconds: every tick is 100 of them
    const shift = p === "week" ? sundayGrid(unit) : 0;
    return Math.floor((x - shift) / unit) - Math.floor((y - shift) / unit);
  }),
  unixtime_seconds_todatetime: rowwise(([v]) =>
    v === null ? null : Math.round((Number(v) - DATETIME_EPOCH_MS / 1000) * TICKS_PER_SECOND),
  ),
  unixtime_milliseconds_todatetime: rowwise(([v]) => (v === null ? null : datetimeFromMs(Number(v)))),
  unixtime_microseconds_todatetime: rowwise(([v]) => (v === null ? null : Math.round((Number(v) - DATETIME_EPOCH_MS * 1000) * 10))),
  unixtime_nanoseconds_todatetime: rowwise(([v]) => (v === null ? null : Math.round((Number(v) - DATETIME_EPOCH_MS * 1_000_000) / 100))),
  dayofyear: rowwise(([value]) => (value === null ? null : dayOfYear(datetimeWholeMs(Number(value))))),
  monthofyear: rowwise(([value]) => (value === null ? null : dateOf(Number(value)).getUTCMonth() + 1)),
  week_of_year: rowwise(([value]) => (value === null ? null : isoWeek(datetimeWholeMs(Number(value))))),
  weekofyear: rowwise(([value]) => (value === null ? null : isoWeek(datetimeWholeMs(Number(value))))),
  getday: rowwise(([value]) => (value === null ? null : dateOf(Number(value)).getUTCDate())),
  endofweek: rowwise(([value, offset]) => {
    if (value === null) return null;
    const day = startOfDay(Number(value));
    return day - dateOf(day).getUTCDay() * TICKS_PER_DAY + 7 * (1 + Number(offset ?? 0)) * TICKS_PER_DAY - 1;
  }),
  endofmonth: rowwise(([value, offset]) => {
    if (value === null) return null;
    const d = dateOf(Number(value));
    return datetimeFromMs(utcMs(d.getUTCFullYear(), d.getUTCMonth() + 1 + Number(offset ?? 0), 1)) - 1;
  }),
  endofyear: rowwise(([value, offset]) =>
    value === null ? null : datetimeFromMs(utcMs(dateOf(Number(value)).getUTCFullYear() + 1 + Number(offset ?? 0), 0, 1)) - 1,
  ),
  /** datetime_part(part, date): one calendar field as a number (Year, Quarter, Month, Week_Of_Year, Day, DayOfYear, Hour, ...). */
  datetime_part: rowwise(([part, value]) => {
    if (value === null) return null;
    const ms = datetimeWholeMs(Number(value));
    const d = new Date(ms);
    switch (plainText(part).toLowerCase()) {
      case "year":
        return d.getUTCFullYear();
      case "quarter":
        return Math.floor(d.getUTCMonth() / 3) + 1;
      case "month":
        return d.getUTCMonth() + 1;
      case "week_of_year":
      case "weekofyear":
      case "week":
        return isoWeek(ms);
      case "day":
        return d.getUTCDate();
      case "dayofyear":
        return dayOfYear(ms);
      case "hour":
        return d.getUTCHours();
      case "minute":
        return d.getUTCMinutes();
      case "second":
        return d.getUTCSeconds();
      case "millisecond":
        return d.getUTCMilliseconds();
      case "microsecond":
        return Math.floor(subSecondTicks(Number(value)) / 10);
      case "nanosecond":
        return Math.round(subSecondTicks(Number(value))) * 100;
      default:
        return null;
    }
  }),
  make_datetime: rowwise((v) => {
    const [y, mo, d, h, mi, s] = v.map((x) => (x === null || x === undefined ? 0 : Number(x)));
    if (v[0] === null || v[1] === null || v[2] === null) return null;
    const whole = Math.floor(s ?? 0);
    return datetimeFromMs(utcMs(y, mo - 1, d, h ?? 0, mi ?? 0, whole)) + Math.round(((s ?? 0) - whole) * TICKS_PER_SECOND);
  }),
  /** make_timespan(hours, minutes) or make_timespan(days, hours, minutes, seconds). */
  make_timespan: rowwise((v) => {
    const n = v.map((x) => Number(x ?? 0));
    const [days, hours, minutes, seconds] = n.length === 2 ? [0, n[0], n[1], 0] : n.length === 3 ? [0, n[0], n[1], n[2]] : n;
    return days * TICKS_PER_DAY + hours * TICKS_PER_HOUR + minutes * TICKS_PER_MINUTE + Math.round((seconds ?? 0) * TICKS_PER_SECOND);
  }),
  format_timespan: rowwise(([value, format]) => (value === null ? "" : formatTimespanAs(Number(value), plainText(format)))),
  datetime_utc_to_local: rowwise(([value, zone]) => (value === null ? null : Number(value) + zoneOffset(Number(value), plainText(zone)))),
  datetime_local_to_utc: rowwise(([value, zone]) => {
    if (value === null) return null;
    const local = Number(value);
    // The offset at the UTC instant the local time names; one correction covers a change of offset in between.
    const guess = local - zoneOffset(local, plainText(zone));
    return local - zoneOffset(guess, plainText(zone));
  }),

  // conversion
  tostring: convert("string"),
  toint: convert("int"),
  tolong: convert("long"),
  todouble: convert("real"),
  toreal: convert("real"),
  todecimal: convert("decimal"),
  tobool: convert("bool"),
  toboolean: convert("bool"),
  todatetime: convert("datetime"),
  totimespan: convert("timespan"),
  // The first 32 hex digits, hyphens aside, as a guid (the rest of the text is ignored); null when there are not 32.
  toguid: rowwise(([value]) => {
    if (value === null || value === undefined) return null;
    const digits = plainText(value).replace(/-/g, "").slice(0, 32);
    if (!/^[0-9a-fA-F]{32}$/.test(digits)) return null;
    const hex = digits.toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }),
  todynamic: convert("dynamic"),
  toobject: convert("dynamic"),
  parse_json: convert("dynamic"),

  // strings
  tolower: rowwise((v, call) => argText(call, v, 0).toLowerCase()),
  toupper: rowwise((v, call) => argText(call, v, 0).toUpperCase()),
  strlen: rowwise((v, call) => [...argText(call, v, 0)].length),
  strcat: rowwise((v, call) => v.map((x, i) => argText(call, v, i)).join("")),
  strcat_delim: rowwise((v, call) =>
    v
      .slice(1)
      .map((x, i) => argText(call, v, i + 1))
      .join(argText(call, v, 0)),
  ),
  substring: rowwise((v, call) => {
    const s = [...argText(call, v, 0)];
    let start = Number(num(v[1]) ?? 0);
    // A negative start counts from the end (documented: substring("123456", -2, 2) is "56").
    if (start < 0) start = Math.max(0, s.length + start);
    const length = v.length > 2 && v[2] !== null ? Number(v[2]) : s.length - start;
    return s.slice(start, start + Math.max(0, length)).join("");
  }),
  split: rowwise((v, call) => {
    const s = argText(call, v, 0);
    const parts = s.split(argText(call, v, 1));
    if (v.length > 2) {
      const index = Number(v[2]);
      const part = parts[index < 0 ? parts.length + index : index];
      return part === undefined ? [] : [part];
    }
    return parts;
  }),
  trim: rowwise((v, call) => trimBy(call, v, "both")),
  trim_start: rowwise((v, call) => trimBy(call, v, "start")),
  trim_end: rowwise((v, call) => trimBy(call, v, "end")),
  replace_string: rowwise((v, call) => {
    const lookup = argText(call, v, 1);
    const s = argText(call, v, 0);
    return lookup === "" ? s : s.split(lookup).join(argText(call, v, 2));
  }),
  replace_regex: rowwise((v, call) =>
    compileRegex(argText(call, v, 1), call.ctx, call.argNodes[1]).replaceAll(argText(call, v, 0), argText(call, v, 2)),
  ),
  // The deprecated replace(regex, rewrite, text) takes its arguments in another order.
  replace: rowwise((v, call) =>
    compileRegex(argText(call, v, 0), call.ctx, call.argNodes[0]).replaceAll(argText(call, v, 2), argText(call, v, 1)),
  ),
  extract: (call) => {
    const typeArg = call.argNodes[3];
    const resultType = call.resultType;
    return rowwise((v) => {
      const re = compileRegex(argText(call, v, 0), call.ctx, call.argNodes[0]);
      const m = re.exec(argText(call, v, 2));
      const group = Number(v[1] ?? 0);
      const found = m ? m[group] : undefined;
      if (found === undefined) return typeArg ? null : "";
      return typeArg ? coerceToType(found, resultType) : found;
    })(call);
  },
  /**
   * indexof(text, match[, start[, length[, occurrence]]]): a negative start counts from the end; the
   * match must lie within the `length` characters examined from the start (-1: to the end); the nth occurrence.
   */
  indexof: rowwise((v, call) => {
    const s = argText(call, v, 0);
    const match = argText(call, v, 1);
    const start = Number(v[2] ?? 0);
    const length = Number(v[3] ?? -1);
    const occurrence = Number(v[4] ?? 1);
    if (length < -1 || occurrence < 0) return null;
    const from = start < 0 ? Math.max(0, s.length + start) : start;
    // The documented answers place a match's end up to one character past `length` (indexof("abcdefgabcdefg", "cde", 1, 10, 2) is 9).
    const end = length === -1 ? s.length : Math.min(s.length, from + length + 1);
    for (let at = from, seen = 0; ; at++) {
      const found = s.indexOf(match, at);
      if (found < 0 || found + match.length > end) return -1;
      if (++seen >= Math.max(1, occurrence)) return found;
      at = found;
    }
  }),
  // Kusto counts overlapping matches of plain text ("aaaa", "aa" -> 3) and non-overlapping regex matches.
  countof: rowwise((v, call) => {
    const s = argText(call, v, 0);
    const needle = argText(call, v, 1);
    if (needle === "") return 0;
    if (v.length > 2 && plainText(v[2]).toLowerCase() === "regex") {
      return compileRegex(needle, call.ctx, call.argNodes[1]).count(s);
    }
    let count = 0;
    for (let at = s.indexOf(needle); at >= 0; at = s.indexOf(needle, at + 1)) count++;
    return count;
  }),
  strrep: rowwise((v, call) => {
    const times = Math.max(0, Math.min(1_000_000, Number(v[1] ?? 0)));
    return new Array<string>(times).fill(argText(call, v, 0)).join(v.length > 2 ? argText(call, v, 2) : "");
  }),
  reverse: rowwise((v, call) => [...argText(call, v, 0)].reverse().join("")),

  // dynamic
  pack: (call) => packFunction(call),
  bag_pack: (call) => packFunction(call),
  pack_array: (call) => {
    const fns = call.args.map((a) => dynamicOf(a));
    return { fn: (row) => fns.map((f) => f(row)), type: "dynamic", constant: allConstant(call.args) };
  },
  array_length: rowwise(([value]) => (Array.isArray(value) ? value.length : null)),
  // Kusto: start and end are inclusive; negative indexes count from the end.
  array_slice: rowwise(([array, start, end]) => {
    if (!Array.isArray(array) || start === null || end === null) return null;
    const at = (i: number) => (i < 0 ? array.length + i : i);
    return array.slice(Math.max(0, at(Number(start))), at(Number(end)) + 1);
  }),
  strcat_array: rowwise(([array, delimiter]) =>
    Array.isArray(array)
      ? array.map((x) => (typeof x === "string" ? x : x === null ? "" : JSON.stringify(x))).join(plainText(delimiter ?? ""))
      : "",
  ),
  array_concat: rowwise((v) => v.flatMap((a) => (Array.isArray(a) ? a : []))),
  set_difference: rowwise(([first, ...others]) => {
    if (!Array.isArray(first)) return null;
    const drop = new Set(others.flatMap((a) => (Array.isArray(a) ? a : [])).map(valueIdentity));
    return distinctValues(first.filter((x) => !drop.has(valueIdentity(x))));
  }),
  set_union: rowwise((v) => distinctValues(v.flatMap((a) => (Array.isArray(a) ? a : [])))),
  set_intersect: rowwise(([first, ...others]) => {
    if (!Array.isArray(first)) return null;
    const sets = others.map((a) => new Set((Array.isArray(a) ? a : []).map(valueIdentity)));
    return distinctValues(first.filter((x) => sets.every((set) => set.has(valueIdentity(x)))));
  }),
  array_sort_asc: rowwise(([array]) => (Array.isArray(array) ? [...array].sort(compareValues) : null)),
  array_sort_desc: rowwise(([array]) => (Array.isArray(array) ? [...array].sort((a, b) => compareValues(b, a)) : null)),
  bag_has_key: rowwise(([bag, key]) => (bag && typeof bag === "object" && !Array.isArray(bag) ? Object.hasOwn(bag, plainText(key)) : null)),
  parse_url: rowwise((v, call) => parseUrl(argText(call, v, 0))),
  url_decode: rowwise((v, call) => {
    try {
      return decodeURIComponent(argText(call, v, 0));
    } catch {
      return null;
    }
  }),
  // Escapes in lower case, as Kusto writes them (`https%3a%2f%2f`).
  url_encode_component: rowwise((v, call) => encodeURIComponent(argText(call, v, 0)).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())),
  base64_decode_tostring: rowwise((v, call) => base64Utf8(argText(call, v, 0))),
  base64_encode_tostring: rowwise((v, call) => Buffer.from(argText(call, v, 0), "utf8").toString("base64")),
  format_datetime: rowwise(([value, format]) => (value === null ? "" : formatDatetimeAs(Number(value), plainText(format)))),
  ingestion_time: (call) => {
    // Local logs carry no ingestion time; the event's own time is the closest (and what Log Analytics shows within seconds).
    const index = call.ctx.scope.indexOf("TimeGenerated");
    return index === undefined ? constant(null, "datetime") : { fn: (row) => row[index], type: "datetime", constant: false };
  },
  row_window_session: rowWindowSession,
  bag_keys: rowwise(([value]) => (value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : null)),
  set_has_element: rowwise(([array, value]) => (Array.isArray(array) ? array.some((x) => x === value) : null)),
  /** array_index_of(array, value[, start[, length[, occurrence]]]): a negative start counts from the end; `length` values examined (-1: all). */
  array_index_of: rowwise(([array, value, start, length, occurrence]) => {
    if (!Array.isArray(array)) return null;
    const examined = Number(length ?? -1);
    const nth = Number(occurrence ?? 1);
    if (examined < -1 || nth < 0) return null;
    const from = Number(start ?? 0) < 0 ? Math.max(0, array.length + Number(start)) : Number(start ?? 0);
    const end = examined === -1 ? array.length : Math.min(array.length, from + examined);
    for (let i = from, seen = 0; i < end; i++) if (array[i] === value && ++seen >= Math.max(1, nth)) return i;
    return -1;
  }),

  // logic
  iff: (call) => conditional(call),
  iif: (call) => conditional(call),
  case: (call) => {
    const fns = call.args.map((a) => a.fn);
    const last = fns[fns.length - 1];
    return {
      fn: (row) => {
        for (let i = 0; i + 1 < fns.length; i += 2) if (fns[i](row) === true) return fns[i + 1](row);
        return last(row);
      },
      type: call.resultType,
      constant: allConstant(call.args),
    };
  },
  coalesce: (call) => {
    const fns = call.args.map((a) => a.fn);
    return {
      fn: (row) => {
        for (const f of fns) {
          const v = f(row);
          if (v !== null && v !== "") return v;
        }
        return emptyValue(call.resultType);
      },
      type: call.resultType,
      constant: allConstant(call.args),
    };
  },
  not: unary((v) => (v === null ? null : !v), "bool"),
  isempty: unary((v) => v === null || v === "", "bool"),
  isnotempty: unary((v) => !(v === null || v === ""), "bool"),
  isnull: (call) => {
    const [arg] = call.args;
    if (arg.type === "string") return constant(false, "bool");
    const f = arg.fn;
    return { fn: (row) => f(row) === null, type: "bool", constant: arg.constant };
  },
  isnotnull: (call) => {
    const [arg] = call.args;
    if (arg.type === "string") return constant(true, "bool");
    const f = arg.fn;
    return { fn: (row) => f(row) !== null, type: "bool", constant: arg.constant };
  },
  isnan: rowwise(([v]) => typeof v === "number" && Number.isNaN(v)),

  // math
  abs: rowwise(([v]) => (v === null ? null : Math.abs(Number(v)))),
  round: rowwise(([v, digits]) => {
    if (v === null) return null;
    const factor = 10 ** Number(digits ?? 0);
    return Math.round(Number(v) * factor) / factor;
  }),
  ceiling: rowwise(([v]) => (v === null ? null : Math.ceil(Number(v)))),
  sqrt: rowwise(([v]) => (v === null ? null : Math.sqrt(Number(v)))),
  log: rowwise(([v]) => (v === null ? null : Math.log(Number(v)))),
  log10: rowwise(([v]) => (v === null ? null : Math.log10(Number(v)))),
  log2: rowwise(([v]) => (v === null ? null : Math.log2(Number(v)))),
  exp: rowwise(([v]) => (v === null ? null : Math.exp(Number(v)))),
  pow: rowwise(([a, b]) => (a === null || b === null ? null : Number(a) ** Number(b))),
  min_of: rowwise((v) => {
    const nums = v.filter((x) => x !== null) as number[];
    return nums.length ? nums.reduce((m, x) => (x < m ? x : m)) : null;
  }),
  sign: rowwise(([v]) => (v === null ? null : Math.sign(Number(v)))),
  exp2: rowwise(([v]) => (v === null ? null : 2 ** Number(v))),
  exp10: rowwise(([v]) => (v === null ? null : 10 ** Number(v))),
  pi: () => constant(Math.PI, "real"),
  sin: rowwise(([v]) => (v === null ? null : Math.sin(Number(v)))),
  cos: rowwise(([v]) => (v === null ? null : Math.cos(Number(v)))),
  tan: rowwise(([v]) => (v === null ? null : Math.tan(Number(v)))),
  cot: rowwise(([v]) => (v === null ? null : 1 / Math.tan(Number(v)))),
  asin: rowwise(([v]) => (v === null ? null : Math.asin(Number(v)))),
  acos: rowwise(([v]) => (v === null ? null : Math.acos(Number(v)))),
  atan: rowwise(([v]) => (v === null ? null : Math.atan(Number(v)))),
  atan2: rowwise(([y, x]) => (y === null || x === null ? null : Math.atan2(Number(y), Number(x)))),
  degrees: rowwise(([v]) => (v === null ? null : (Number(v) * 180) / Math.PI)),
  radians: rowwise(([v]) => (v === null ? null : (Number(v) * Math.PI) / 180)),
  isinf: rowwise(([v]) => (typeof v === "number" ? v === Infinity || v === -Infinity : false)),
  isfinite: rowwise(([v]) => typeof v === "number" && Number.isFinite(v)),
  // Bitwise functions work on 64-bit integers, beyond what a JS number's 32-bit operators cover.
  binary_and: rowwise(([a, b]) => bitwise(a, b, (x, y) => x & y)),
  binary_or: rowwise(([a, b]) => bitwise(a, b, (x, y) => x | y)),
  binary_xor: rowwise(([a, b]) => bitwise(a, b, (x, y) => x ^ y)),
  binary_not: rowwise(([a]) => bitwise(a, 0, (x) => ~x)),
  binary_shift_left: rowwise(([a, n]) => bitwise(a, n, (x, y) => x << y)),
  binary_shift_right: rowwise(([a, n]) => bitwise(a, n, (x, y) => x >> y)),
  bitset_count_ones: rowwise(([a]) => {
    if (a === null) return null;
    let x = BigInt.asUintN(64, BigInt(Math.trunc(Number(a))));
    let n = 0;
    for (; x; x >>= 1n) n += Number(x & 1n);
    return n;
  }),
  // A negative int is written in its 32 bits (tohex(toint(-256), 8) is ffffff00), a long in its 64.
  tohex: rowwise(([v, width], call) => {
    if (v === null) return null;
    const bits = call.args[0]?.type === "int" ? 32 : 64;
    const hex = BigInt.asUintN(bits, BigInt(Math.trunc(Number(v)))).toString(16);
    return width === undefined || width === null ? hex : hex.padStart(Number(width), "0");
  }),
  rand: rowwise(([n]) => (n === undefined || n === null ? Math.random() : Math.floor(Math.random() * Number(n))), { perRow: true }),
  new_guid: rowwise(() => randomUUID(), { perRow: true }),
  /** gettype: Kusto's name for a value's type (dynamic values by their JSON kind). */
  gettype: (call) => {
    const [arg] = call.args;
    const f = arg.fn;
    return {
      fn: (row) => {
        const v = f(row);
        if (arg.type !== "dynamic") return arg.type === "real" ? "real" : arg.type;
        if (v === null) return "null";
        if (Array.isArray(v)) return "array";
        if (typeof v === "object") return "dictionary";
        if (typeof v === "boolean") return "bool";
        if (typeof v === "number") return Number.isInteger(v) ? "long" : "real";
        return "string";
      },
      type: "string",
      constant: arg.constant,
    };
  },
  max_of: rowwise((v) => {
    const nums = v.filter((x) => x !== null) as number[];
    return nums.length ? nums.reduce((m, x) => (x > m ? x : m)) : null;
  }),

  ...IP_FUNCTIONS,
  ...GEO_FUNCTIONS,
  ...DYNAMIC_FUNCTIONS,
  ...TEXT_FUNCTIONS,
  ...SERIES_FUNCTIONS,

  // columns of the row as a bag
  pack_all: (call) => {
    const columns = call.ctx.scope.columns;
    const skipEmpty = call.args[0] ? call.args[0].fn([]) === true : false;
    return {
      fn: (row) => {
        const bag: Record<string, Value> = {};
        columns.forEach((c, i) => {
          const v = toDynamic(row[i] ?? null, c.type);
          if (!skipEmpty || (v !== null && v !== "")) bag[c.name] = v;
        });
        return bag;
      },
      type: "dynamic",
      constant: false,
    };
  },
  bag_pack_columns: (call) => {
    const names = call.argNodes.map((n) => nodeText(n));
    const fns = call.args.map(dynamicOf);
    return {
      fn: (row) => Object.fromEntries(fns.map((f, i) => [names[i], f(row)])),
      type: "dynamic",
      constant: allConstant(call.args),
    };
  },
  /** extract_json(path, json [, typeof(T)]): the value a JSONPath ($.a.b, $['a'], $.list[0]) selects in a JSON text. */
  extract_json: (call) => extractJson(call),
  extractjson: (call) => extractJson(call),
  dynamic_to_json: rowwise(([v]) => JSON.stringify(v ?? null)),
  replace_strings: rowwise((v, call) => {
    const lookups = Array.isArray(v[1]) ? v[1].map((x) => plainText(x)) : [];
    const rewrites = Array.isArray(v[2]) ? v[2].map((x) => plainText(x)) : [];
    const source = argText(call, v, 0);
    const active = lookups.map((l, i) => ({ l, r: rewrites[i] ?? "" })).filter((x) => x.l !== "");
    if (!active.length) return source;
    // One pass, longest lookup first at each position, so a replacement is never replaced again.
    const pattern = new RegExp(
      active
        .map((x) => x.l)
        .sort((a, b) => b.length - a.length)
        .map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("|"),
      "g",
    );
    return source.replace(pattern, (m) => active.find((x) => x.l === m)?.r ?? m);
  }),
  /** indexof_regex(text, regex[, start[, length[, occurrence]]]): the nth match that does not overlap the ones before, within `length` characters from `start`. */
  indexof_regex: rowwise((v, call) => {
    const source = argText(call, v, 0);
    const start = Number(v[2] ?? 0);
    const length = Number(v[3] ?? -1);
    const occurrence = Number(v[4] ?? 1);
    if (start < 0 || length < -1 || occurrence < 0) return null;
    const region = source.slice(start, length === -1 ? undefined : start + length);
    const regex = compileRegex(argText(call, v, 1), call.ctx, call.argNodes[1]);
    for (let from = 0, seen = 0; from <= region.length;) {
      const m = regex.exec(region.slice(from));
      if (!m) return -1;
      const text = m[0] ?? "";
      const at = region.indexOf(text, from);
      if (++seen >= Math.max(1, occurrence)) return start + at;
      from = at + Math.max(1, text.length);
    }
    return -1;
  }),
  /** has_any_index(text, terms): the index of the first term `has` finds in the text, or -1. */
  has_any_index: rowwise((v, call) => {
    const haystack = argText(call, v, 0).toLowerCase();
    const terms = Array.isArray(v[1]) ? v[1] : [];
    return terms.findIndex((t) => hasTerm(haystack, plainText(t).toLowerCase(), "whole"));
  }),

  // deprecated names real queries still use
  parsejson: convert("dynamic"),
  base64_decodestring: rowwise((v, call) => base64Utf8(argText(call, v, 0))),
  base64_encodestring: rowwise((v, call) => Buffer.from(argText(call, v, 0), "utf8").toString("base64")),
  pack_dictionary: (call) => packFunction(call),
  array_strcat: rowwise(([array, delimiter]) =>
    Array.isArray(array)
      ? array.map((x) => (typeof x === "string" ? x : x === null ? "" : JSON.stringify(x))).join(plainText(delimiter ?? ""))
      : "",
  ),
  notempty: unary((v) => !(v === null || v === ""), "bool"),
  notnull: (call) => {
    const [arg] = call.args;
    if (arg.type === "string") return constant(true, "bool");
    const f = arg.fn;
    return { fn: (row) => f(row) !== null, type: "bool", constant: arg.constant };
  },

  // window
  prev: neighbour(-1),
  next: neighbour(1),
  row_number: rowNumber,
  row_cumsum: rowCumsum,
  row_rank_dense: rowRank("row_rank_dense", "dense"),
  row_rank_min: rowRank("row_rank_min", "min"),
  // row_rank is the name row_rank_dense had before it was renamed (the parser still accepts it).
  row_rank: rowRank("row_rank", "dense"),
};

/** Older names Kusto still accepts for functions that have since been renamed, with the same arguments. */
const FORMER_NAMES: Record<string, string> = {
  arraylength: "array_length",
  parseurl: "parse_url",
  datepart: "datetime_part",
  extractall: "extract_all",
  totime: "totimespan",
};
for (const [former, current] of Object.entries(FORMER_NAMES)) SCALAR_FUNCTIONS[former] = SCALAR_FUNCTIONS[current];

function bitwise(a: Value, b: Value, op: (x: bigint, y: bigint) => bigint): Value {
  if (a === null || b === null) return null;
  const result = op(BigInt(Math.trunc(Number(a))), BigInt(Math.trunc(Number(b))));
  return Number(BigInt.asIntN(64, result));
}

function distinctValues(values: Value[]): Value[] {
  const seen = new Set<unknown>();
  return values.filter((x) => {
    const key = valueIdentity(x);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** parse_url: Kusto's bag of Scheme, Host, Port, Path, Username, Password, Query Parameters, Fragment; null when not a URL. */
function parseUrl(text: string): Value {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  const query: Record<string, Value> = {};
  url.searchParams.forEach((value, key) => (query[key] = value));
  return {
    Scheme: url.protocol.replace(/:$/, ""),
    Host: url.hostname,
    Port: url.port,
    Path: url.pathname,
    Username: decodeURIComponent(url.username),
    Password: decodeURIComponent(url.password),
    "Query Parameters": query,
    Fragment: url.hash.replace(/^#/, ""),
  };
}

function dayOfYear(ms: number): number {
  const d = new Date(ms);
  return Math.floor((utcMs(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - utcMs(d.getUTCFullYear(), 0, 1)) / MS_PER_DAY) + 1;
}

/** ISO 8601 week number (weeks start on Monday; week 1 holds the year's first Thursday), as Kusto's week_of_year. */
function isoWeek(ms: number): number {
  const d = new Date(Math.floor(ms / MS_PER_DAY) * MS_PER_DAY);
  const weekday = (d.getUTCDay() + 6) % 7;
  const thursday = d.getTime() + (3 - weekday) * MS_PER_DAY;
  const yearStart = utcMs(new Date(thursday).getUTCFullYear(), 0, 1);
  return Math.floor((thursday - yearStart) / (7 * MS_PER_DAY)) + 1;
}

/** A time zone's offset from UTC at an instant (a datetime), as a timespan (0 for a zone the platform does not know). */
function zoneOffset(value: number, zone: string): number {
  const ms = datetimeWholeMs(value);
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    }).formatToParts(new Date(ms));
  } catch {
    return 0;
  }
  const field = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = utcMs(field("year"), field("month") - 1, field("day"), field("hour"), field("minute"), field("second"));
  return (local - Math.floor(ms / 1000) * 1000) * TICKS_PER_MS;
}

/** format_timespan's specifiers (d..dddddddd, h, hh, H, HH, m, mm, s, ss, f..fffffff, F..FFFFFFF), other characters kept. */
function formatTimespanAs(value: number, format: string): string {
  const sign = value < 0 ? "-" : "";
  const total = Math.round(Math.abs(value));
  const days = Math.floor(total / TICKS_PER_DAY);
  const hours = Math.floor((total % TICKS_PER_DAY) / TICKS_PER_HOUR);
  const minutes = Math.floor((total % TICKS_PER_HOUR) / TICKS_PER_MINUTE);
  const seconds = Math.floor((total % TICKS_PER_MINUTE) / TICKS_PER_SECOND);
  const ticks = total % TICKS_PER_SECOND;
  const out = format.replace(/d{1,8}|hh|HH|h|H|mm|m|ss|s|f{1,7}|F{1,7}/g, (token) => {
    switch (token[0]) {
      case "d":
        return String(days).padStart(token.length, "0");
      case "h":
      case "H":
        return String(hours).padStart(token.length, "0");
      case "m":
        return String(minutes).padStart(token.length, "0");
      case "s":
        return String(seconds).padStart(token.length, "0");
      default: {
        const digits = String(ticks).padStart(7, "0").slice(0, token.length);
        return token.startsWith("F") ? digits.replace(/0+$/, "") : digits;
      }
    }
  });
  return sign + out;
}

/** format_datetime's format specifiers (yyyy, MM, dd, HH, hh, mm, ss, f..fffffff, tt), other characters kept. */
function formatDatetimeAs(value: number, format: string): string {
  const whole = Math.round(value);
  const d = dateOf(whole);
  const ticks = subSecondTicks(whole);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return format.replace(/yyyy|yy|MM|M|dd|d|HH|H|hh|h|mm|m|ss|s|f{1,7}|F{1,7}|tt/g, (token) => {
    switch (token) {
      case "yyyy":
        return String(d.getUTCFullYear());
      case "yy":
        return pad(d.getUTCFullYear() % 100);
      case "MM":
        return pad(d.getUTCMonth() + 1);
      case "M":
        return String(d.getUTCMonth() + 1);
      case "dd":
        return pad(d.getUTCDate());
      case "d":
        return String(d.getUTCDate());
      case "HH":
        return pad(d.getUTCHours());
      case "H":
        return String(d.getUTCHours());
      case "hh":
        return pad(d.getUTCHours() % 12 || 12);
      case "h":
        return String(d.getUTCHours() % 12 || 12);
      case "mm":
        return pad(d.getUTCMinutes());
      case "m":
        return String(d.getUTCMinutes());
      case "ss":
        return pad(d.getUTCSeconds());
      case "s":
        return String(d.getUTCSeconds());
      case "tt":
        return d.getUTCHours() < 12 ? "AM" : "PM";
      default: {
        const digits = String(ticks).padStart(7, "0").slice(0, token.length);
        return token.startsWith("F") ? digits.replace(/0+$/, "") : digits;
      }
    }
  });
}

/**
 * row_window_session(value, maxFromFirst, maxBetweenNeighbours [, restart]): on serialized rows,
 * the first value of the session each row belongs to. A session ends when the next value is more
 * than maxBetweenNeighbours after the previous one, or more than maxFromFirst after the session's first.
 */
function rowWindowSession(call: CallSite): Compiled {
  const cursor = needCursor(call, "row_window_session");
  const [valueArg, fromFirstArg, betweenArg, restartArg] = call.args;
  const maxFromFirst = Number(fromFirstArg.fn([]));
  const maxBetween = Number(betweenArg.fn([]));
  const value = valueArg.fn;
  const restart = restartArg?.fn;
  let sessionStart: number | null = null;
  let previous: number | null = null;
  let lastIndex = -1;
  return {
    fn: (row) => {
      if (cursor.index <= lastIndex) sessionStart = previous = null; // a new pass over the rows
      lastIndex = cursor.index;
      const v = value(row);
      if (typeof v !== "number") return null;
      const startsNew =
        sessionStart === null ||
        previous === null ||
        v - previous > maxBetween ||
        v - sessionStart > maxFromFirst ||
        (restart !== undefined && restart(row) === true);
      if (startsNew) sessionStart = v;
      previous = v;
      return sessionStart;
    },
    type: valueArg.type,
    constant: false,
  };
}

function dynamicOf(compiled: Compiled): Evaluator {
  const f = compiled.fn;
  const type = compiled.type;
  return type === "datetime" || type === "timespan" ? (row) => toDynamic(f(row), type) : f;
}

/** The property names a JSONPath walks: `$.a.b`, `$['a b']`, `$.list[0]`. */
function jsonPathSteps(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  const re = /\.([^.[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*(\d+)\s*\]/g;
  for (const m of path.replace(/^\$/, "").matchAll(re)) steps.push(m[4] !== undefined ? Number(m[4]) : (m[1] ?? m[2] ?? m[3]));
  return steps;
}

function extractJson(call: CallSite): Compiled {
  const typed = call.args.length > 2;
  return rowwise((v) => {
    let value: Value;
    try {
      value = typeof v[1] === "string" ? (JSON.parse(v[1]) as Value) : (v[1] ?? null);
    } catch {
      return typed ? null : "";
    }
    for (const step of jsonPathSteps(plainText(v[0]))) {
      if (value === null || typeof value !== "object") return typed ? null : "";
      value = (Array.isArray(value) ? value[step as number] : (value as Record<string, Value>)[step]) ?? null;
    }
    if (typed) return coerceToType(value, call.resultType);
    return value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);
  })(call);
}

function packFunction(call: CallSite): Compiled {
  const keys = call.args.filter((_, i) => i % 2 === 0).map((a) => a.fn);
  const values = call.args.filter((_, i) => i % 2 === 1).map(dynamicOf);
  return {
    fn: (row: Row) => {
      const bag: Record<string, Value> = {};
      keys.forEach((k, i) => {
        bag[plainText(k(row))] = values[i](row);
      });
      return bag;
    },
    type: "dynamic",
    constant: allConstant(call.args),
  };
}

function conditional(call: CallSite): Compiled {
  const [cond, whenTrue, whenFalse] = call.args.map((a) => a.fn);
  return {
    fn: (row) => (cond(row) === true ? whenTrue(row) : whenFalse(row)),
    type: call.resultType,
    constant: allConstant(call.args),
  };
}

function trimBy(call: CallSite, values: Value[], side: "both" | "start" | "end"): string {
  const pattern = argText(call, values, 0);
  const s = argText(call, values, 1);
  if (pattern !== "" && isPlainPattern(pattern)) {
    // Plain text (`trim_start(@"::ffff:", IpAddress)`, per row in the logon hunts): the same repeats cut without a regex.
    let start = 0;
    let end = s.length;
    if (side !== "end") while (s.startsWith(pattern, start)) start += pattern.length;
    if (side !== "start") while (end - pattern.length >= start && s.endsWith(pattern, end)) end -= pattern.length;
    return s.slice(start, end);
  }
  let out = s;
  if (side !== "end") out = compileRegex(`^(?:${pattern})+`, call.ctx, call.argNodes[0]).replaceAll(out, "");
  if (side !== "start") out = compileRegex(`(?:${pattern})+$`, call.ctx, call.argNodes[0]).replaceAll(out, "");
  return out;
}

export function describeCall(node: SyntaxNode): string {
  return nodeText(node);
}
