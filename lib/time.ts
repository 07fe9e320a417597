/**
 * Durations as Kusto and Sentinel write them, shared by the KQL engine and the hunt loaders.
 * The hunt loaders and settings count milliseconds (parseTimespan, parseDuration); the engine
 * counts Kusto's 100 ns ticks (parseTimespanTicks), read exactly from the text.
 */
export const MS_PER_SECOND = 1000;
export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;

export const TICKS_PER_MS = 10_000;
export const TICKS_PER_SECOND = 10_000_000;
export const TICKS_PER_MINUTE = 600_000_000;
export const TICKS_PER_HOUR = 36_000_000_000;
export const TICKS_PER_DAY = 864_000_000_000;

/** Up to 7 fractional digits of a second as whole 100 ns ticks (digits past the seventh are cut, as Kusto does). */
export function fractionToTicks(fraction: string | undefined): number {
  if (!fraction) return 0;
  return Number(fraction.slice(0, 7).padEnd(7, "0"));
}

const TIMESPAN_UNITS: Record<string, number> = {
  d: TICKS_PER_DAY,
  day: TICKS_PER_DAY,
  days: TICKS_PER_DAY,
  h: TICKS_PER_HOUR,
  hr: TICKS_PER_HOUR,
  hrs: TICKS_PER_HOUR,
  hour: TICKS_PER_HOUR,
  hours: TICKS_PER_HOUR,
  m: TICKS_PER_MINUTE,
  min: TICKS_PER_MINUTE,
  minute: TICKS_PER_MINUTE,
  minutes: TICKS_PER_MINUTE,
  s: TICKS_PER_SECOND,
  sec: TICKS_PER_SECOND,
  second: TICKS_PER_SECOND,
  seconds: TICKS_PER_SECOND,
  ms: TICKS_PER_MS,
  milli: TICKS_PER_MS,
  millis: TICKS_PER_MS,
  millisecond: TICKS_PER_MS,
  milliseconds: TICKS_PER_MS,
  microsecond: 10,
  microseconds: 10,
  tick: 1,
  ticks: 1,
};

const CLOCK_FORM = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;
const UNIT_FORM = /^(-)?(\d+(?:\.\d+)?)\s*([a-z]+)$/i;

/**
 * Parses `[-][d.]hh:mm[:ss[.fffffff]]` or a literal like `5m`, `1.5h`, `100ms`, `1tick` into whole
 * 100 ns ticks (a fraction of a tick, as in `0.5tick`, is rounded).
 */
export function parseTimespanTicks(text: string): number | null {
  const s = text.trim();
  let m = CLOCK_FORM.exec(s);
  if (m) {
    const ticks =
      Number(m[2] ?? 0) * TICKS_PER_DAY +
      Number(m[3]) * TICKS_PER_HOUR +
      Number(m[4]) * TICKS_PER_MINUTE +
      Number(m[5] ?? 0) * TICKS_PER_SECOND +
      fractionToTicks(m[6]);
    return m[1] ? -ticks : ticks;
  }
  m = UNIT_FORM.exec(s);
  if (m) {
    const unit = TIMESPAN_UNITS[m[3].toLowerCase()];
    if (unit === undefined) return null;
    const ticks = Math.round(Number(m[2]) * unit);
    return m[1] ? -ticks : ticks;
  }
  return null;
}

/** parseTimespanTicks in milliseconds, for settings and hunt definitions. */
export function parseTimespan(text: string): number | null {
  const ticks = parseTimespanTicks(text);
  return ticks === null ? null : ticks / TICKS_PER_MS;
}

const ISO_DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/** A Kusto timespan (`5m`, `1.5h`, `01:00:00`) or an ISO 8601 duration (`PT1H`, `P1D`), as Sentinel files use both. */
export function parseDuration(text: string): number | null {
  const iso = ISO_DURATION.exec(text.trim());
  if (iso && (iso[1] || iso[2] || iso[3] || iso[4])) {
    return (
      Number(iso[1] ?? 0) * MS_PER_DAY +
      Number(iso[2] ?? 0) * MS_PER_HOUR +
      Number(iso[3] ?? 0) * MS_PER_MINUTE +
      Number(iso[4] ?? 0) * MS_PER_SECOND
    );
  }
  return parseTimespan(text);
}

/** The shortest of `14d`, `5h`, `30m` that says a duration exactly (minutes rounded). */
export function formatDuration(ms: number): string {
  if (ms % MS_PER_DAY === 0) return `${ms / MS_PER_DAY}d`;
  if (ms % MS_PER_HOUR === 0) return `${ms / MS_PER_HOUR}h`;
  return `${Math.round(ms / MS_PER_MINUTE)}m`;
}
