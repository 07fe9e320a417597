import { describe, expect, it } from "vitest";
import { tableFromRecords } from "../../lib/kql/build.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";

describe("local source", () => {
  it("spans the first to the last TimeGenerated over every table, skipping rows without one", () => {
    const source = new LocalSource({
      SecurityEvent: tableFromRecords(TABLE_SCHEMAS.SecurityEvent, [
        { TimeGenerated: "2024-10-20T05:00:00Z", EventID: 4625 },
        { TimeGenerated: null, EventID: 4625 },
        { TimeGenerated: "2024-10-19T23:59:59Z", EventID: 4624 },
      ]),
      SigninLogs: tableFromRecords(TABLE_SCHEMAS.SigninLogs, [{ TimeGenerated: "2024-10-21T00:00:00Z", ResultType: "50126" }]),
      Other: { columns: [{ name: "x", type: "long" }], rows: [[1]] },
    });
    expect(source.timeRange()).toEqual({ start: Date.parse("2024-10-19T23:59:59Z"), end: Date.parse("2024-10-21T00:00:00Z") });
    expect(new LocalSource({ Other: { columns: [{ name: "x", type: "long" }], rows: [[1]] } }).timeRange()).toBeUndefined();
  });

  it("restricts every table to the query's timespan, as Log Analytics does, so a rule without a time filter reads its period only", async () => {
    const hour = 3_600_000;
    const end = Date.parse("2024-10-20T12:00:00Z");
    const source = new LocalSource({
      SecurityEvent: tableFromRecords(TABLE_SCHEMAS.SecurityEvent, [
        { TimeGenerated: new Date(end - 30 * 60_000).toISOString(), EventID: 4625 },
        { TimeGenerated: new Date(end - 5 * hour).toISOString(), EventID: 4625 },
        { TimeGenerated: new Date(end).toISOString(), EventID: 4625 },
      ]),
    });
    const count = async (start: number) =>
      (await source.query({ query: "SecurityEvent | count", timespan: { start, end }, queryId: "t" })).table.rows[0][0];
    expect(await count(end - hour)).toBe(1); // the end is exclusive
    expect(await count(end - 14 * 24 * hour)).toBe(2);
  });

  it("a known table the data lacks reads as empty, with its published columns", async () => {
    const source = new LocalSource({});
    const { table } = await source.query({
      query: "IdentityInfo | project AccountUPN, AssignedRoles",
      timespan: { start: 0, end: 1 },
      queryId: "t",
    });
    expect(table).toEqual({
      columns: [
        { name: "AccountUPN", type: "string" },
        { name: "AssignedRoles", type: "dynamic" },
      ],
      rows: [],
    });
  });
});
