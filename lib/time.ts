/**
 * Durations as Kusto and Sentinel write them, shared by the KQL engine and the hunt loaders.
 * All results are milliseconds.
 */
export const MS_PER_SECOND = 1000;
export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;

/** Up to 7 fractional digits (100 ns ticks) as fractional milliseconds. */
export function fractionToMs(fraction: string | undefined): number {
  if (!fraction) return 0;
  const digits = fraction.slice(0, 7).padEnd(7, "0");
  return Number(digits) / 10_000;
}

const TIMESPAN_UNITS: Record<string, number> = {
  d: MS_PER_DAY,
  day: MS_PER_DAY,
  days: MS_PER_DAY,
  h: MS_PER_HOUR,
  hr: MS_PER_HOUR,
  hrs: MS_PER_HOUR,
  hour: MS_PER_HOUR,
  hours: MS_PER_HOUR,
  m: MS_PER_MINUTE,
  min: MS_PER_MINUTE,
  minute: MS_PER_MINUTE,
  minutes: MS_PER_MINUTE,
  s: MS_PER_SECOND,
  sec: MS_PER_SECOND,
  second: MS_PER_SECOND,
  seconds: MS_PER_SECOND,
  ms: 1,
  milli: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  microsecond: 0.001,
  microseconds: 0.001,
  tick: 0.0001,
  ticks: 0.0001,
};

const CLOCK_FORM = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;
const UNIT_FORM = /^(-)?(\d+(?:\.\d+)?)\s*([a-z]+)$/i;

/** Parses `[-][d.]hh:mm[:ss[.fffffff]]` or a literal like `5m`, `1.5h`, `100ms`. */
export function parseTimespan(text: string): number | null {
  const s = text.trim();
  let m = CLOCK_FORM.exec(s);
  if (m) {
    const ms =
      Number(m[2] ?? 0) * MS_PER_DAY +
      Number(m[3]) * MS_PER_HOUR +
      Number(m[4]) * MS_PER_MINUTE +
      Number(m[5] ?? 0) * MS_PER_SECOND +
      fractionToMs(m[6]);
    return m[1] ? -ms : ms;
  }
  m = UNIT_FORM.exec(s);
  if (m) {
    const unit = TIMESPAN_UNITS[m[3].toLowerCase()];
    if (unit === undefined) return null;
    const ms = Number(m[2]) * unit;
    return m[1] ? -ms : ms;
  }
  return null;
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
