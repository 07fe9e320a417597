import { describe, expect, it } from "vitest";
import { findHunt } from "../../lib/hunts/catalog.js";
import { tableFromRecords } from "../../lib/kql/build.js";
import { toJsonRecords } from "../../lib/kql/index.js";

const HOUR = 3_600_000;

describe("logon-changepoint's analyzer", () => {
  it("sets each account's busiest hour in the window against its busiest hour in the context before it", () => {
    const hunt = findHunt("logon-changepoint")!;
    const windowEnd = Date.UTC(2024, 9, 21);
    const windowStart = windowEnd - 24 * HOUR;
    const contextStart = windowEnd - 7 * 24 * HOUR;
    const counts: { Account: string; Hour: string; Count: number }[] = [];
    const at = (Account: string, ms: number, Count: number) => counts.push({ Account, Hour: new Date(ms).toISOString(), Count });
    // A quiet account: two logons at nine on each past day, six once; then thirty in one hour of the window.
    for (let day = 6; day >= 1; day--) at("quiet", windowStart - day * 24 * HOUR + 9 * HOUR, day === 3 ? 6 : 2);
    at("quiet", windowStart + 1 * HOUR, 30);
    // A busy account: forty an hour every day, forty-five in the window. A new one: nothing before the window.
    for (let day = 6; day >= 1; day--) at("busy", windowStart - day * 24 * HOUR + 10 * HOUR, 40);
    at("busy", windowStart + 10 * HOUR, 45);
    at("new", windowStart + 3 * HOUR, 12);
    const table = tableFromRecords(
      [
        { name: "Account", type: "string" },
        { name: "Hour", type: "datetime" },
        { name: "Count", type: "long" },
      ],
      counts,
    );
    const rows = toJsonRecords(hunt.analyze!(table, { windowStart, windowEnd, contextStart }));
    const of = (account: string) => rows.find((r) => r.Account === account)!;
    expect([of("quiet").BusiestHour, of("quiet").PastBusiestHour, of("quiet").BurstFactor]).toEqual([30, 6, 5]);
    expect([of("busy").BusiestHour, of("busy").PastBusiestHour, of("busy").BurstFactor]).toEqual([45, 40, 1.13]);
    // No logon before the window counts as one: the factor is the burst itself.
    expect([of("new").PastBusiestHour, of("new").BurstFactor]).toEqual([0, 12]);
  });
});
