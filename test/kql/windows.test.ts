import { describe, expect, it } from "vitest";
import { windowLets } from "../../lib/kql/build.js";
import { KqlError, runQuery } from "../../lib/kql/index.js";
import type { Table } from "../../lib/kql/types.js";
import { datetimeFromMs, datetimeToMs } from "../../lib/kql/values.js";

const HOUR = 3_600_000;
const day = (d: number, h = 0) => Date.UTC(2024, 0, d, h);

const events: Table = {
  columns: [
    { name: "TimeGenerated", type: "datetime" },
    { name: "Account", type: "string" },
  ],
  rows: [
    [datetimeFromMs(day(1, 5)), "alice"],
    [datetimeFromMs(day(2, 5)), "bob"],
    [datetimeFromMs(day(3, 5)), "carol"],
  ],
};

/** Rows with their datetimes as JS epoch ms. */
const inMs = (rows: unknown[][]) => rows.map((row) => row.map((v, i) => (i > 0 && typeof v === "number" ? datetimeToMs(v) : v)));

/** The same hunt text bound to a window, as the scheduled path binds it. */
function hunt(window: { start: number; end: number }, body: string): string {
  return `${windowLets(window, window.start - 24 * HOUR, { Limit: 5 })}\n${body}`;
}

describe("one hunt text, many windows", () => {
  const body = "T | where TimeGenerated between (HuntStart .. HuntEnd) | project Account, HuntStart, ContextStart";

  it("binds each window's own datetimes, run after run", () => {
    for (const d of [1, 2, 3, 2, 1]) {
      const window = { start: day(d), end: day(d + 1) };
      const { table } = runQuery(hunt(window, body), { tables: { T: events }, now: window.end });
      expect(inMs(table.rows)).toEqual([[["alice", "bob", "carol"][d - 1], window.start, window.start - 24 * HOUR]]);
    }
  });

  it("keeps sub-second window bounds and literals in the body", () => {
    const window = { start: day(2) + 123, end: day(2, 6) + 456 };
    const { table } = runQuery(hunt(window, `${body} | extend Fixed = datetime(2024-01-02T05:00:00.5Z)`), {
      tables: { T: events },
      now: window.end,
    });
    expect(inMs(table.rows)).toEqual([["bob", window.start, window.start - 24 * HOUR, day(2, 5) + 500]]);
  });

  it("names the real position of an error in a later window's text", () => {
    const bad = "T | where TimeGenerated between (HuntStart .. HuntEnd)\n| summarize by NoSuchColumn";
    for (const d of [1, 2]) {
      const text = hunt({ start: day(d), end: day(d + 1) }, bad);
      const line = text.split("\n").findIndex((l) => l.includes("NoSuchColumn")) + 1;
      let error: unknown;
      try {
        runQuery(text, { tables: { T: events }, now: day(d + 1) });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(KqlError);
      expect((error as KqlError).message).toMatch(new RegExp(`${line}:\\d+.*NoSuchColumn|NoSuchColumn.*${line}:\\d+`, "s"));
    }
  });
});
