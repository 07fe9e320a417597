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
