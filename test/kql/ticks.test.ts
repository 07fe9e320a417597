/**
 * Datetimes exact to Kusto's 100 ns tick: what a log writes with seven fractional digits (a
 * Windows FILETIME, a Sentinel export) comes back out of the engine the same, through every
 * datetime operation.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runQuery, tableFromRecords, toJsonRecords, type Table } from "../../lib/kql/index.js";
import { loadLogs } from "../../lib/readers/index.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { datetimeFromMs, datetimeToMs, datetimeWholeMs, formatDatetime, subMsTicks } from "../../lib/kql/values.js";
import { NOW, q } from "./helpers.js";

function value(expr: string): unknown {
  return q(`print r = ${expr}`)[0].r;
}

/** 1000 times within one minute of 2026, each with a different seven-digit fraction. */
const TICK_TEXTS = Array.from({ length: 1000 }, (_, k) => {
  const second = String(k % 60).padStart(2, "0");
  const fraction = String((k * 7_919_993 + 13) % 10_000_000).padStart(7, "0");
  return `2026-05-17T08:15:${second}.${fraction}Z`;
});

/** The same text through milliseconds since 1970 in a double (what the engine held before). */
function throughMilliseconds(text: string): string {
  const whole = Date.parse(`${text.slice(0, 19)}Z`);
  const ms = whole + Number(text.slice(20, 27)) / 10_000;
  const back = Math.round((ms - whole) * 10_000);
  return `${text.slice(0, 20)}${String(back).padStart(7, "0")}Z`;
}

function securityEvents(times: readonly string[]): Record<string, Table> {
  return {
    SecurityEvent: tableFromRecords(
      TABLE_SCHEMAS.SecurityEvent,
      times.map((TimeGenerated, i) => ({ TimeGenerated, EventID: 4624, Computer: `host${i % 7}` })),
    ),
  };
}

describe("datetimes exact to the tick", () => {
  it("project gives back every seven-digit fraction it read", () => {
    // The data is worth testing: a double of milliseconds since 1970 loses many of these ticks.
    expect(TICK_TEXTS.filter((t) => throughMilliseconds(t) !== t).length).toBeGreaterThan(100);
    const rows = q("SecurityEvent | project TimeGenerated", securityEvents(TICK_TEXTS));
    expect(rows.map((r) => r.TimeGenerated)).toEqual(TICK_TEXTS);
  });

  it("arithmetic with a timespan of one tick", () => {
    expect(value("datetime(2026-05-17 08:15:42.1234567) + 1tick")).toBe("2026-05-17T08:15:42.1234568Z");
    expect(value("datetime(2026-05-17 08:15:42.9999999) + 1tick")).toBe("2026-05-17T08:15:43.0000000Z");
    expect(value("datetime(2026-05-17 08:15:42.1234567) - 1tick + 1tick")).toBe("2026-05-17T08:15:42.1234567Z");
    expect(value("datetime(2026-05-17 08:15:42.1234568) - datetime(2026-05-17 08:15:42.1234567)")).toBe("00:00:00.0000001");
    expect(value("datetime(2026-05-17 08:15:42.1234567) + 1tick == datetime(2026-05-17 08:15:42.1234568)")).toBe(true);
    expect(value("1tick")).toBe("00:00:00.0000001");
    expect(value("totimespan('1.02:03:04.1234567') + 1tick")).toBe("1.02:03:04.1234568");
    expect(value("tolong(1tick)")).toBe(1);
    expect(value("tolong(1s)")).toBe(10_000_000);
  });

  it("bin to the tick, the microsecond, the millisecond and the hour", () => {
    const dt = "datetime(2026-05-17 08:15:42.1234567)";
    expect(value(`bin(${dt}, 1tick)`)).toBe("2026-05-17T08:15:42.1234567Z");
    expect(value(`bin(${dt}, 1microsecond)`)).toBe("2026-05-17T08:15:42.1234560Z");
    expect(value(`bin(${dt}, 1ms)`)).toBe("2026-05-17T08:15:42.1230000Z");
    expect(value(`bin(${dt}, 1h)`)).toBe("2026-05-17T08:00:00.0000000Z");
    // One tick before the hour stays in the hour before; 7d bins still start on Mondays.
    expect(value("bin(datetime(2026-05-17 08:59:59.9999999), 1h)")).toBe("2026-05-17T08:00:00.0000000Z");
    expect(value("bin(datetime(2026-05-17 08:59:59.9999999), 7d)")).toBe("2026-05-11T00:00:00.0000000Z");
    expect(value("bin_at(datetime(2026-05-17 08:15:42.1234567), 1s, datetime(2026-05-17 00:00:00.0000001))")).toBe(
      "2026-05-17T08:15:42.0000001Z",
    );
  });

  it("format_datetime and datetime_part read all seven digits", () => {
    const dt = "datetime(2026-05-17 08:15:42.1234567)";
    expect(value(`format_datetime(${dt}, 'yyyy-MM-dd HH:mm:ss.fffffff')`)).toBe("2026-05-17 08:15:42.1234567");
    expect(value(`format_datetime(datetime(2026-05-17 08:15:42.1200000), 'HH:mm:ss.FFFFFFF')`)).toBe("08:15:42.12");
    expect(value(`tostring(${dt})`)).toBe("2026-05-17T08:15:42.1234567Z");
    expect(value(`datetime_part('microsecond', ${dt})`)).toBe(123_456);
    expect(value(`datetime_part('nanosecond', ${dt})`)).toBe(123_456_700);
    expect(value(`datetime_part('millisecond', ${dt})`)).toBe(123);
    expect(value(`format_timespan(1tick * 1234567, 'ss.fffffff')`)).toBe("00.1234567");
  });

  it("datetime_diff counts microsecond and nanosecond boundaries", () => {
    expect(value("datetime_diff('microsecond', datetime(2026-05-17 08:15:42.1234567), datetime(2026-05-17 08:15:42.1234500))")).toBe(6);
    expect(value("datetime_diff('microsecond', datetime(2026-05-17 08:15:42.0000010), datetime(2026-05-17 08:15:42.0000009))")).toBe(1);
    expect(value("datetime_diff('nanosecond', datetime(2026-05-17 08:15:42.1234567), datetime(2026-05-17 08:15:42.1234500))")).toBe(6700);
    expect(value("datetime_diff('millisecond', datetime(2026-05-17 08:15:42.1240000), datetime(2026-05-17 08:15:42.1239999))")).toBe(1);
    expect(value("datetime_diff('day', datetime(2026-05-18), datetime(2026-05-17 23:59:59.9999999))")).toBe(1);
  });

  it("sort, comparison, summarize by and where tell apart datetimes one tick apart", () => {
    const times = ["2026-05-17T08:15:42.1234569Z", "2026-05-17T08:15:42.1234567Z", "2026-05-17T08:15:42.1234568Z"];
    const tables = securityEvents(times);
    expect(q("SecurityEvent | sort by TimeGenerated asc | project TimeGenerated", tables).map((r) => r.TimeGenerated)).toEqual([
      times[1],
      times[2],
      times[0],
    ]);
    expect(q("SecurityEvent | summarize n = count() by TimeGenerated", tables)).toHaveLength(3);
    expect(q("SecurityEvent | where TimeGenerated > datetime(2026-05-17 08:15:42.1234567) | count", tables)[0].Count).toBe(2);
    expect(q("SecurityEvent | where TimeGenerated == datetime(2026-05-17 08:15:42.1234568) | project TimeGenerated", tables)).toEqual([
      { TimeGenerated: times[2] },
    ]);
    expect(q("SecurityEvent | where TimeGenerated between (datetime(2026-05-17 08:15:42.1234567) .. 1tick) | count", tables)[0].Count).toBe(
      2,
    );
    expect(q("SecurityEvent | summarize First = min(TimeGenerated), Last = max(TimeGenerated)", tables)).toEqual([
      { First: times[1], Last: times[0] },
    ]);
  });

  it("make-series steps of one tick", () => {
    const times = ["2026-05-17T08:15:42.1234567Z", "2026-05-17T08:15:42.1234569Z", "2026-05-17T08:15:42.1234569Z"];
    const [series] = q(
      "SecurityEvent | make-series n = count() on TimeGenerated from datetime(2026-05-17 08:15:42.1234567) to datetime(2026-05-17 08:15:42.1234570) step 1tick",
      securityEvents(times),
    );
    expect(series.n).toEqual([1, 0, 2]);
    expect(series.TimeGenerated).toEqual(["2026-05-17T08:15:42.1234567Z", "2026-05-17T08:15:42.1234568Z", "2026-05-17T08:15:42.1234569Z"]);
  });

  it("conversions: unixtime_*, tolong(datetime) as Kusto's ticks since 0001, ago/now on the query clock", () => {
    expect(value("unixtime_seconds_todatetime(1546300800)")).toBe("2019-01-01T00:00:00.0000000Z");
    expect(value("unixtime_milliseconds_todatetime(1546300800123)")).toBe("2019-01-01T00:00:00.1230000Z");
    expect(value("unixtime_microseconds_todatetime(1546300800123456)")).toBe("2019-01-01T00:00:00.1234560Z");
    // Nanoseconds since 1970 pass 2^53, and a long is a double here (one every 256 ns in 2019): this one is held exactly.
    expect(value("unixtime_nanoseconds_todatetime(1546300800123456000)")).toBe("2019-01-01T00:00:00.1234560Z");
    // 2020-01-01 is 737,424 days after 0001-01-01.
    expect(value("tolong(datetime(2020-01-01))")).toBe(737_424 * 864_000_000_000);
    expect(value("todatetime('2026-05-17T08:15:42.1234567+02:00')")).toBe("2026-05-17T06:15:42.1234567Z");
    expect(value("ago(1tick)")).toBe(`${new Date(NOW - 1).toISOString().slice(0, 23)}9999Z`);
    // Far from the engine's epoch whole seconds stay exact: the FILETIME zero and the Unix zero.
    expect(value("datetime(1601-01-01)")).toBe("1601-01-01T00:00:00.0000000Z");
    expect(value("datetime(1970-01-01 00:00:01)")).toBe("1970-01-01T00:00:01.0000000Z");
  });

  it("the documented exact range: 2020-01-01 ± 2^53 ticks", () => {
    expect(value("datetime(1991-06-17 00:01:14.5259008) + 1tick")).toBe("1991-06-17T00:01:14.5259009Z");
    expect(value("datetime(2048-07-16 23:58:45.4740991) + 1tick")).toBe("2048-07-16T23:58:45.4740992Z");
    expect(value("datetime(2048-07-16 23:58:45.4740992) - datetime(1991-06-17 00:01:14.5259008)")).toBe("20849.23:57:30.9481984");
  });

  it("years 1 to 99 are those years, not 1901 to 1999", () => {
    expect(value(`tostring(datetime(0048-02-29 10:00:00))`)).toBe("0048-02-29T10:00:00.0000000Z");
    expect(value(`todatetime("0050-02-29")`)).toBeNull(); // not a leap year
    expect(value(`tostring(startofmonth(datetime(0005-03-17)))`)).toBe("0005-03-01T00:00:00.0000000Z");
    expect(value(`tostring(make_datetime(12, 1, 31, 23, 0, 0))`)).toBe("0012-01-31T23:00:00.0000000Z");
    expect(value(`datetime_diff("year", datetime(2000-01-01), datetime(0001-01-01))`)).toBe(1999);
  });

  it("results as JSON keep the tick; times given in JS milliseconds are read as such", () => {
    const table = runQuery("print t = datetime(2026-05-17 08:15:42.1234567), s = 1tick, n = now()", { tables: {}, now: NOW }).table;
    expect(JSON.parse(JSON.stringify(toJsonRecords(table)))).toEqual([
      { t: "2026-05-17T08:15:42.1234567Z", s: "00:00:00.0000001", n: new Date(NOW).toISOString().replace("Z", "0000Z") },
    ]);
    const fromMs = tableFromRecords([{ name: "TimeGenerated", type: "datetime" }], [{ TimeGenerated: NOW + 0.5 }]);
    expect(toJsonRecords(fromMs)[0].TimeGenerated).toBe(new Date(NOW).toISOString().replace("Z", "5000Z"));
  });
});

describe("datetime text", () => {
  /** The same text through a Date's ISO form, as it was written before the time of day was written from integers. */
  const throughDate = (ticks: number) => {
    const iso = new Date(datetimeWholeMs(ticks)).toISOString();
    return `${iso.slice(0, -1)}${String(subMsTicks(ticks)).padStart(4, "0")}Z`;
  };

  it("writes every tick near 2020 as a Date would, days' first and last ticks, leap days and before 1970 included", () => {
    const at = (iso: string) => datetimeFromMs(Date.parse(iso));
    const edges = ["1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.000Z", "2024-02-29T12:34:56.789Z", "2020-01-01T00:00:00.000Z"].flatMap(
      (iso) => [at(iso) - 1, at(iso), at(iso) + 1, at(iso) + 9_999],
    );
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    // 2020 ± 2^53 ticks: where every tick is exact.
    const near = Array.from({ length: 20_000 }, () => Math.round((random() - 0.5) * 2 ** 53));
    for (const ticks of [...edges, ...near]) expect(formatDatetime(ticks), String(ticks)).toBe(throughDate(ticks));
    expect(formatDatetime(at("2024-02-29T12:34:56.789Z") + 1234)).toBe("2024-02-29T12:34:56.7891234Z");
    expect(() => formatDatetime(Number.NaN)).toThrow(RangeError);
  });

  it("writes years 1 to 9999 well formed and to the millisecond, where a datetime's double steps by more than a tick", () => {
    const first = datetimeFromMs(Date.parse("0001-01-01T00:00:00Z"));
    const last = datetimeFromMs(Date.parse("9999-12-31T23:59:59.999Z"));
    let seed = 11;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    for (const ticks of [first, last, ...Array.from({ length: 20_000 }, () => first + random() * (last - first))]) {
      const text = formatDatetime(ticks);
      expect(text, String(ticks)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      expect(Math.abs(Date.parse(`${text.slice(0, 23)}Z`) - datetimeToMs(ticks)), text).toBeLessThanOrEqual(1);
    }
  });
});

describe("EVTX times through the engine", () => {
  const FIXTURES = join(import.meta.dirname, "..", "fixtures", "evtx");
  /** Every file whose records both the reader and libevtx read in full. */
  const FILES = [
    "rust-evtx/Security_short_selected",
    "rust-evtx/new-user-security",
    "rust-evtx/Application_no_crc32",
    "evtx-attack-samples/DE_104_system_log_cleared",
    "evtx-attack-samples/DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149",
    "evtx-attack-samples/emotet_exec_emotet_ps_800_new-object",
    "evtx-attack-samples/Zerologon_CVE-2020-1472_DFIR_System_NetLogon_Error_EventID_5805",
  ];

  /** libevtx writes SystemTime with nine digits (the FILETIME's ticks, then "00"). */
  function libevtxTimes(name: string): string[] {
    const xml = readFileSync(join(FIXTURES, `${name}.libevtx.xml`), "utf8");
    return [...xml.matchAll(/SystemTime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{7})00Z"/g)].map((m) => `${m[1]}.${m[2]}Z`);
  }

  /** python-evtx goes through floating-point seconds and prints microseconds: within 2 µs of the tick. */
  function pythonEvtxTimes(name: string): number[] {
    return readFileSync(join(FIXTURES, `${name}.python-evtx.jsonl`), "utf8")
      .split("\n")
      .filter((line) => line.includes('"xml"'))
      .map((line) => /SystemTime=\\"([^\\]+)\\"/.exec(line)![1])
      .map((text) => Date.parse(`${text.replace(" ", "T")}Z`) + (Number(text.slice(-3)) % 1000) / 1000);
  }

  it.each(FILES)("%s: TimeGenerated printed by the engine is the reference's tick", async (name) => {
    const { tables } = await loadLogs([join(FIXTURES, `${name}.evtx`)]);
    const query = `union ${Object.keys(tables).join(", ")} | project TimeGenerated | sort by TimeGenerated asc`;
    const printed = q(query, tables).map((r) => r.TimeGenerated as string);
    const expected = libevtxTimes(name).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(printed).toEqual(expected);
    const python = pythonEvtxTimes(name).sort((a, b) => a - b);
    expect(python).toHaveLength(printed.length);
    printed.forEach((text, i) => {
      const exact = Date.parse(`${text.slice(0, 19)}Z`) + Number(text.slice(20, 27)) / 10_000;
      expect(Math.abs(exact - python[i])).toBeLessThan(0.003);
    });
  });
});
