/**
 * Features a third sample of Azure-Sentinel queries outside the vendored corpus needed: each checked
 * against Microsoft's documentation (dataexplorer-docs, the Azure Monitor table reference) or the
 * official parser's own reading of the query.
 */
import { describe, expect, it } from "vitest";
import { tableFromRecords, validateQuery } from "../../lib/kql/index.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { columnsOf, q } from "./helpers.js";

const errorsOf = (text: string) => validateQuery(text, TABLE_SCHEMAS).filter((d) => d.severity === "error");

/** Application Gateway WAF rows as Azure Diagnostics mode writes them: columns named after the log's fields. */
const wafRows = tableFromRecords(
  [
    { name: "TimeGenerated", type: "datetime" },
    { name: "Category", type: "string" },
    { name: "action_s", type: "string" },
    { name: "transactionId_g", type: "string" },
    { name: "clientIp_s", type: "string" },
  ],
  [
    {
      TimeGenerated: "2024-10-18T10:00:00Z",
      Category: "ApplicationGatewayFirewallLog",
      action_s: "Matched",
      transactionId_g: "t1",
      clientIp_s: "203.0.113.7",
    },
    {
      TimeGenerated: "2024-10-18T10:00:01Z",
      Category: "ApplicationGatewayFirewallLog",
      action_s: "Blocked",
      transactionId_g: "t1",
      clientIp_s: "203.0.113.7",
    },
    {
      TimeGenerated: "2024-10-18T10:00:02Z",
      Category: "ApplicationGatewayFirewallLog",
      action_s: "Matched",
      transactionId_g: "t2",
      clientIp_s: "198.51.100.1",
    },
  ],
);

describe("AzureDiagnostics takes the columns each service's resource log adds", () => {
  it("accepts a column its reference page does not list (SQL audit, Application Gateway, AKS), and still rejects one on a fixed table", () => {
    expect(
      errorsOf(`AzureDiagnostics | where Category == 'SQLSecurityAuditEvents' | project server_principal_name_s, host_name_s, ResourceId`),
    ).toEqual([]);
    expect(errorsOf(`AzureDiagnostics | where Category == "kube-audit" | where parse_json(log_s).verb == "create"`)).toEqual([]);
    expect(errorsOf(`SigninLogs | project server_principal_name_s`).map((d) => d.code)).toEqual(["KS142"]);
    // A published column keeps its published type.
    expect(columnsOf(`AzureDiagnostics | project TimeGenerated, duration_milliseconds_d | take 0`)).toEqual([
      "TimeGenerated:datetime",
      "duration_milliseconds_d:real",
    ]);
  });

  it("joins on such a column when the data has it, and reads it as empty when the data lacks it", () => {
    const scanner = `AzureDiagnostics | where action_s == "Matched" | project transactionId_g, clientIp_s, hostname_s
      | join kind=inner (AzureDiagnostics | where action_s == "Blocked") on transactionId_g
      | summarize Total = dcount(transactionId_g) by clientIp_s, hostname_s`;
    expect(q(scanner, { AzureDiagnostics: wafRows })).toEqual([{ clientIp_s: "203.0.113.7", hostname_s: null, Total: 1 }]);
  });
});

describe("a column the parser accepts that the data lacks", () => {
  it("is empty in project-reorder and project-keep too, as everywhere else (an ASIM or open table's column)", () => {
    expect(
      q(`AzureDiagnostics | project-reorder hostname_s, clientIp_s | project-keep hostname_s, clientIp_s`, { AzureDiagnostics: wafRows }),
    ).toEqual([
      { hostname_s: null, clientIp_s: "203.0.113.7" },
      { hostname_s: null, clientIp_s: "203.0.113.7" },
      { hostname_s: null, clientIp_s: "198.51.100.1" },
    ]);
    expect(columnsOf(`imFileEvent | where EventType =~ "FileAccessed" | project-reorder TimeGenerated, EventType`)).toContain(
      "EventType:dynamic",
    );
  });
});

describe("<>", () => {
  it("is not-equals, as the documentation's numerical operators list it, and the parser reads it for strings too", () => {
    expect(
      q(`datatable(a:string, b:string, n:long) ["x", "x", 1, "x", "y", 2] | extend s = a <> b, n2 = n <> 2, same = (a <> b) == (a != b)`),
    ).toEqual([
      { a: "x", b: "x", n: 1, s: false, n2: true, same: true },
      { a: "x", b: "y", n: 2, s: true, n2: false, same: true },
    ]);
  });
});

describe("union isfuzzy=true", () => {
  it("skips a leg calling a function the workspace lacks (an ASIM parser), as the parser's KS205 warning says it may", () => {
    const text = `union isfuzzy=true (print a = 1), (_Im_Dns(domain_has_any=dynamic(["example.com"])) | extend DNSName = DnsQuery)`;
    expect(validateQuery(text, TABLE_SCHEMAS).map((d) => d.code)).toEqual(["KS205"]);
    expect(q(text).map((r) => r.a)).toEqual([1]);
  });

  it("does not skip it without isfuzzy", () => {
    expect(() => q(`union (print a = 1), (_Im_Dns(domain_has_any=dynamic(["example.com"])))`)).toThrow(/_Im_Dns/);
  });
});

describe("evaluate sequence_detect", () => {
  // The events behind the documentation's StormEvents example (its output rows), with distractors:
  // a wildfire before a heat wave, one in another state, one more than 5 days later.
  const storms = `datatable(State:string, EventType:string, StartTime:datetime) [
    "CALIFORNIA", "Excessive Heat", datetime(2007-05-08 00:00), "CALIFORNIA", "Wildfire", datetime(2007-05-08 16:02),
    "CALIFORNIA", "Wildfire", datetime(2007-05-10 11:30), "CALIFORNIA", "Wildfire", datetime(2007-05-14 00:01),
    "CALIFORNIA", "Excessive Heat", datetime(2007-07-04 09:00), "CALIFORNIA", "Wildfire", datetime(2007-07-05 23:01),
    "SOUTH DAKOTA", "Excessive Heat", datetime(2007-07-23 12:00), "SOUTH DAKOTA", "Wildfire", datetime(2007-07-27 09:00),
    "TEXAS", "Excessive Heat", datetime(2007-08-10 08:00), "TEXAS", "Wildfire", datetime(2007-08-11 13:56), "OKLAHOMA", "Wildfire", datetime(2007-08-11 13:00),
    "CALIFORNIA", "Excessive Heat", datetime(2007-08-31 08:00), "CALIFORNIA", "Wildfire", datetime(2007-09-01 11:28),
    "CALIFORNIA", "Excessive Heat", datetime(2007-09-02 12:00), "CALIFORNIA", "Wildfire", datetime(2007-09-02 13:30)]`;

  it("gives the documented example's rows: every heat wave followed within 5 days by a wildfire in the same state", () => {
    const rows = q(
      `${storms} | evaluate sequence_detect(StartTime, 5d, 5d, heat=(EventType == "Excessive Heat"), wildfire=(EventType == 'Wildfire'), State)`,
    );
    expect(rows.map((r) => [r.State, r.heat_StartTime, r.wildfire_StartTime, r.Duration])).toEqual([
      ["CALIFORNIA", "2007-05-08T00:00:00.0000000Z", "2007-05-08T16:02:00.0000000Z", "16:02:00"],
      ["CALIFORNIA", "2007-05-08T00:00:00.0000000Z", "2007-05-10T11:30:00.0000000Z", "2.11:30:00"],
      ["CALIFORNIA", "2007-07-04T09:00:00.0000000Z", "2007-07-05T23:01:00.0000000Z", "1.14:01:00"],
      ["SOUTH DAKOTA", "2007-07-23T12:00:00.0000000Z", "2007-07-27T09:00:00.0000000Z", "3.21:00:00"],
      ["TEXAS", "2007-08-10T08:00:00.0000000Z", "2007-08-11T13:56:00.0000000Z", "1.05:56:00"],
      ["CALIFORNIA", "2007-08-31T08:00:00.0000000Z", "2007-09-01T11:28:00.0000000Z", "1.03:28:00"],
      ["CALIFORNIA", "2007-08-31T08:00:00.0000000Z", "2007-09-02T13:30:00.0000000Z", "2.05:30:00"],
      ["CALIFORNIA", "2007-09-02T12:00:00.0000000Z", "2007-09-02T13:30:00.0000000Z", "01:30:00"],
    ]);
  });

  it("holds each step within the step window of the one before, and the whole within the span", () => {
    const steps = `datatable(U:string, E:string, T:datetime) ["u", "a", datetime(2024-01-01 00:00), "u", "b", datetime(2024-01-01 00:20),
      "u", "c", datetime(2024-01-01 00:45), "u", "c", datetime(2024-01-01 00:30)]`;
    const run = (step: string, span: string) =>
      q(`${steps} | evaluate sequence_detect(T, ${step}, ${span}, x=(E == "a"), y=(E == "b"), z=(E == "c"), U)`).map((r) => r.Duration);
    expect(run("30m", "1h")).toEqual(["00:30:00", "00:45:00"]);
    expect(run("20m", "1h")).toEqual(["00:30:00"]);
    expect(run("30m", "40m")).toEqual(["00:30:00"]);
  });

  it("takes steps named or not, and the dimensions after them", () => {
    const steps = `datatable(U:string, E:string, T:datetime) ["u", "a", datetime(2024-01-01 00:00), "u", "b", datetime(2024-01-01 00:20)]`;
    const [row] = q(`${steps} | evaluate sequence_detect(T, 1h, 1d, x=(E == "a"), E == "b", U)`);
    expect(row.U).toBe("u");
    expect(Object.values(row).filter((v) => typeof v === "string" && v.startsWith("2024-01-01T00:"))).toHaveLength(2);
    expect(row.Duration).toBe("00:20:00");
  });

  it("refuses to list more occurrences than a query returns, saying how to narrow them", () => {
    // Every a before every b in one group: 1,000 x 1,000 ordered pairs.
    const many = `range i from 1 to 2000 step 1 | extend T = datetime(2024-01-01) + i * 1s, E = iff(i <= 1000, "a", "b"), U = "u"`;
    expect(() => q(`${many} | evaluate sequence_detect(T, 1d, 1d, x=(E == "a"), y=(E == "b"), U)`)).toThrow(
      /sequence_detect: more than 500000 occurrences; narrow the steps/,
    );
  });
});

describe("evaluate basket", () => {
  // Shaped like the documentation's StormEvents example: a Damage of NO always comes with DamageCrops 0.
  const storms = `datatable(State:string, EventType:string, Damage:string, DamageCrops:long) [
    "TEXAS", "Hail", "NO", 0, "TEXAS", "Hail", "NO", 0, "TEXAS", "Hail", "NO", 0, "TEXAS", "Hail", "NO", 0,
    "KANSAS", "Hail", "YES", 0, "KANSAS", "Hail", "YES", 0, "KANSAS", "Hail", "YES", 5,
    "TEXAS", "Thunderstorm Wind", "YES", 10, "TEXAS", "Thunderstorm Wind", "YES", 10, "OKLAHOMA", "Tornado", "NO", 0]`;
  const patterns = (text: string) => q(text).map((r) => [r.Count, r.Percent, r.State, r.EventType, r.Damage, r.DamageCrops]);

  it("returns every pattern of at least the threshold's share of rows, the most specific of those matching the same rows (counted by hand)", () => {
    expect(patterns(`${storms} | evaluate basket(0.2)`)).toEqual([
      [7, 70, "", "Hail", "", null],
      [7, 70, "", "", "", 0],
      [6, 60, "", "Hail", "", 0],
      [6, 60, "TEXAS", "", "", null],
      // As in the documentation: Damage=NO with DamageCrops=0, never Damage=NO alone (the same 5 rows).
      [5, 50, "", "", "NO", 0],
      [5, 50, "", "", "YES", null],
      [4, 40, "TEXAS", "Hail", "NO", 0],
      [3, 30, "KANSAS", "Hail", "YES", null],
      [2, 20, "TEXAS", "Thunderstorm Wind", "YES", 10],
      [2, 20, "KANSAS", "Hail", "YES", 0],
    ]);
    expect(columnsOf(`${storms} | evaluate basket(0.2)`).slice(0, 3)).toEqual(["SegmentId:long", "Count:long", "Percent:real"]);
  });

  it("a column the parser cannot check (a table the workspace lacks) and the input lacks is refused, naming the plugin and the column", () => {
    expect(() => q("NotInWorkspace | evaluate basket(0.2, Weight)")).toThrow("basket: 'Weight' is not a column of the input (at 1:39)");
    expect(() => q("NotInWorkspace | evaluate bag_unpack(Props)")).toThrow("bag_unpack: 'Props' is not a column of the input (at 1:38)");
  });

  it("takes custom wildcards per type and MaxDimensions, as the documentation's second example writes them", () => {
    expect(patterns(`${storms} | evaluate basket(0.2, '~', '~', '*', long(-1))`).slice(0, 2)).toEqual([
      [7, 70, "*", "Hail", "*", -1],
      [7, 70, "*", "*", "*", 0],
    ]);
    expect(patterns(`${storms} | evaluate basket(0.5, '~', 1)`)).toEqual([
      [7, 70, "", "Hail", "", null],
      [7, 70, "", "", "", 0],
      [6, 60, "TEXAS", "", "", null],
      [5, 50, "", "", "NO", null],
      [5, 50, "", "", "YES", null],
    ]);
  });

  it("keeps to the documented threshold range and gives up on a search too large, saying how to narrow it", () => {
    expect(() => q(`${storms} | evaluate basket(0.01)`)).toThrow(/basket: Threshold must be between 0.015 and 1/);
    // 2,000 rows of 40 independent two-valued columns: frequent patterns by the hundred thousand at 0.015.
    const wide = `range i from 1 to 2000 step 1 | extend ${Array.from({ length: 40 }, (_, c) => `c${c} = hash(i * ${c + 7}) % 2`).join(", ")} | project-away i`;
    expect(() => q(`${wide} | evaluate basket(0.015)`)).toThrow(/basket: (more than 20000 frequent patterns|the search passed)/);
  });
});

describe("evaluate autocluster", () => {
  // Callers and the addresses they list storage keys from (Anomalous_Listing_Of_Storage_Keys' use).
  const calls = `datatable(Caller:string, ExpectedIpAddress:string) ["alice", "1.1.1.1", "alice", "1.1.1.1", "alice", "1.1.1.1", "alice", "1.1.1.1",
    "alice", "1.1.1.1", "alice", "2.2.2.2", "bob", "3.3.3.3", "bob", "3.3.3.3", "bob", "3.3.3.3", "carol", "4.4.4.4"]`;

  it("returns the seeds' best patterns by the documented score, a weighted geometric mean of coverage and specificity (computed by hand)", () => {
    // Scores at SizeWeight 0.5: alice|1.1.1.1 sqrt(0.5 * 1) = 0.71; alice|* sqrt(0.6 * 0.5) = 0.55 (where the alice|2.2.2.2
    // seed climbs); bob|3.3.3.3 sqrt(0.3 * 1) = 0.55. carol's single row is no pattern.
    expect(q(`${calls} | evaluate autocluster()`)).toEqual([
      { SegmentId: 0, Count: 5, Percent: 50, Caller: "alice", ExpectedIpAddress: "1.1.1.1" },
      { SegmentId: 1, Count: 6, Percent: 60, Caller: "alice", ExpectedIpAddress: "" },
      { SegmentId: 2, Count: 3, Percent: 30, Caller: "bob", ExpectedIpAddress: "3.3.3.3" },
    ]);
    // A SizeWeight of 1 values coverage alone: alice's narrower patterns climb to alice|* (0.6); bob|3.3.3.3 (0.3)
    // stays, as freeing either column covers no more rows.
    expect(q(`${calls} | evaluate autocluster(1.0)`).map((r) => [r.Count, r.Caller, r.ExpectedIpAddress])).toEqual([
      [6, "alice", ""],
      [3, "bob", "3.3.3.3"],
    ]);
  });

  it("counts a row by its weight column, so rows already summarized give the patterns of the rows they stand for", () => {
    expect(
      q(`${calls} | summarize n = count() by Caller, ExpectedIpAddress | evaluate autocluster(0.5, n)`).map((r) => [r.Count, r.Caller]),
    ).toEqual([
      [5, "alice"],
      [6, "alice"],
      [3, "bob"],
    ]);
    expect(
      q(`${calls} | summarize n = count() by Caller, ExpectedIpAddress | evaluate basket(0.25, n)`).map((r) => [
        r.Count,
        r.Caller,
        r.ExpectedIpAddress,
      ]),
    ).toEqual([
      [6, "alice", ""],
      [5, "alice", "1.1.1.1"],
      [3, "bob", "3.3.3.3"],
    ]);
  });

  it("writes a custom wildcard where a pattern leaves a column free, as the documentation's second example does", () => {
    expect(q(`${calls} | evaluate autocluster(0.5, '~', '~', '*')`).map((r) => r.ExpectedIpAddress)).toEqual(["1.1.1.1", "*", "3.3.3.3"]);
  });
});
