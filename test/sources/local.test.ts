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
});
