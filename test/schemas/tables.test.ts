/**
 * The vendored table schemas (lib/schemas/sentinel-tables.json) and the generator that makes them:
 * each source format is read as Microsoft publishes it, the merge is deterministic, and the columns
 * real hunting queries name carry their published types.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runQuery, validateQuery } from "../../lib/kql/index.js";
import { generate } from "../../lib/schemas/generate.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import published from "../../lib/schemas/sentinel-tables.json" with { type: "json" };
import { expandColumns, mergeSchemas, parseCustomTableText, parseDefenderPage, parseReferencePage } from "../../lib/schemas/sources.js";

const typeOf = (table: string, column: string) => TABLE_SCHEMAS[table]?.find((c) => c.name === column)?.type;

describe("source formats", () => {
  it("an Azure Monitor reference include: name from ms.custom, one column per row, aliases normalised", () => {
    const include = [
      "---",
      "ms.service: azure-monitor",
      "ms.custom: SigninLogs",
      "---",
      "",
      "| Column | Type | Description |",
      "|---|---|---|",
      "| AppDisplayName | string | The application name. |",
      "| DeviceDetail | dynamic |   |",
      "| IsInteractive | bool | Whether the sign-in is interactive. |",
      "| TimeGenerated | datetime | When the record was created. |",
      "",
      "Text after the table.",
    ].join("\n");
    expect(parseReferencePage(include, "signinlogs-include.md")).toEqual({
      name: "SigninLogs",
      columns: [
        { name: "AppDisplayName", type: "string" },
        { name: "DeviceDetail", type: "dynamic" },
        { name: "IsInteractive", type: "bool" },
        { name: "TimeGenerated", type: "datetime" },
      ],
    });
  });

  it("a table's own reference page: the name from its title (AzureDiagnostics lists its columns there)", () => {
    const page =
      "# AzureDiagnostics\n\nStores resource logs.\n\n## Columns\n\n|Column|Type|Description|\n|---|---|---|\n|ResultType|string|Result|\n";
    expect(parseReferencePage(page, "azurediagnostics.md")).toEqual({ name: "AzureDiagnostics", columns: expandColumns("ResultType") });
  });

  it("a reference include that lists tables by service is not a table", () => {
    const overview = "---\nms.custom: Basic tables by service\n---\n| Service | Table |\n|:---|:---|\n| API Management | [X](/x) |\n";
    expect(parseReferencePage(overview, "basic-tables-include.md")).toBeUndefined();
  });

  it("a Defender XDR page: title word as the name; quoted names with footnote marks; object, enum, integer and array types", () => {
    const page = [
      "# IdentityInfo (Preview)",
      "",
      "| Column name | Data type | Description |",
      "|-------------|-----------|-------------|",
      "| `Timestamp` [*](#mdi-only) | `datetime` | When the line was written |",
      "| `DistinguishedName` [*](#mdi-only) | string | The user's distinguished name |",
      "| ` InitiatingProcessVersionInfoInternalFileName` | `string` | A name quoted with a space |",
      "| `LatestDeliveryLocation`* | `string` | Not in the streaming API |",
      "| `OperationNamesList` | `object` | A list |",
      "| `ActionCategory` | `enum` | A category |",
      "| `RiskScore` | `integer` | A score |",
      "| `DataSources` | `array` | Products |",
      "",
      "## Related topics",
    ].join("\n");
    expect(parseDefenderPage(page, "advanced-hunting-identityinfo-table.md")?.columns).toEqual([
      { name: "Timestamp", type: "datetime" },
      { name: "DistinguishedName", type: "string" },
      { name: "InitiatingProcessVersionInfoInternalFileName", type: "string" },
      { name: "LatestDeliveryLocation", type: "string" },
      { name: "OperationNamesList", type: "dynamic" },
      { name: "ActionCategory", type: "string" },
      { name: "RiskScore", type: "int" },
      { name: "DataSources", type: "dynamic" },
    ]);
    expect(parseDefenderPage(page, "x.md")?.name).toBe("IdentityInfo");
    expect(parseDefenderPage("# Advanced hunting overview\n\nNo table here.", "advanced-hunting-overview.md")).toBeUndefined();
  });

  it("a CustomTables document: both property spellings, a byte-order mark, a repeated column keeps its first type", () => {
    const text =
      '\uFEFF{ "Name": "Okta_CL", "Properties": [ { "Name": "TimeGenerated", "Type": "DateTime" }, ' +
      '{ "name": "outcome_result_s", "type": "string" }, { "Name": "TimeGenerated", "Type": "string" }, ] }';
    expect(parseCustomTableText(text, "Okta_CL.json")).toEqual({
      name: "Okta_CL",
      columns: [
        { name: "TimeGenerated", type: "datetime" },
        { name: "outcome_result_s", type: "string" },
      ],
    });
  });

  it("a malformed file is an error naming the file and what is wrong", () => {
    expect(() => parseCustomTableText("{ not json", "Broken.json")).toThrow(/Broken\.json: not JSON/);
    expect(() => parseCustomTableText('{"Name": "T", "Properties": [{"Name": "c", "Type": "varchar"}]}', "T.json")).toThrow(
      "T.json: column 'c' has unknown type 'varchar'",
    );
    expect(() => parseCustomTableText('{"Properties": []}', "NoName.json")).toThrow(/NoName\.json: not a CustomTables schema \(Name:/);
  });
});

describe("merge and generation", () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it("the first definition keeps its columns and types; later ones add only what it lacks; output sorted by name", () => {
    const merged = mergeSchemas([
      { name: "T", columns: expandColumns("a b:long") },
      { name: "A", columns: expandColumns("x") },
      { name: "T", columns: expandColumns("b c:datetime") },
    ]);
    expect(merged.map((t) => t.name)).toEqual(["A", "T"]);
    expect(merged[1].columns).toEqual(expandColumns("a b:long c:datetime"));
  });

  it("generate reads each folder, skips (and reports) a bad file, and prefers the reference over Defender over CustomTables", async () => {
    const root = await mkdtemp(join(tmpdir(), "schemas-"));
    dirs.push(root);
    for (const folder of ["reference/includes", "defender", "custom"]) await mkdir(join(root, folder), { recursive: true });
    await writeFile(join(root, "reference", "devicetvminfo.md"), "# DeviceTvmInfo\n\n[!INCLUDE [x](./includes/x.md)]\n");
    await writeFile(
      join(root, "reference", "includes", "deviceinfo-include.md"),
      "ms.custom: DeviceInfo\n| Column | Type | Description |\n|---|---|---|\n| TimeGenerated | datetime | |\n| AdditionalFields | dynamic | |\n",
    );
    await writeFile(
      join(root, "defender", "advanced-hunting-deviceinfo-table.md"),
      "# DeviceInfo\n| Column name | Data type | Description |\n|---|---|---|\n| `Timestamp` | `datetime` | |\n| `AdditionalFields` | `string` | |\n",
    );
    await writeFile(
      join(root, "custom", "DeviceInfo.json"),
      JSON.stringify({ Name: "DeviceInfo", Properties: [{ Name: "Extra", Type: "int" }] }),
    );
    await writeFile(join(root, "custom", "Broken.json"), "{");
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    try {
      const tables = await generate({
        reference: [join(root, "reference")],
        defender: [join(root, "defender")],
        custom: [join(root, "custom")],
      });
      expect(tables).toEqual({ DeviceInfo: "TimeGenerated:datetime AdditionalFields:dynamic Timestamp:datetime Extra:int" });
    } finally {
      console.error = original;
    }
    expect(errors).toEqual([expect.stringMatching(/^Broken\.json: not JSON/)]);
  });
});

describe("the vendored schemas", () => {
  const tables = published.tables as Record<string, string>;

  it("cover the Azure Monitor reference's 697 tables and the Defender-only ones: 700+ tables", () => {
    expect(Object.keys(tables).length).toBeGreaterThanOrEqual(700);
    const wanted = `SecurityEvent SigninLogs AADNonInteractiveUserSignInLogs AuditLogs AzureActivity OfficeActivity Syslog CommonSecurityLog
      IdentityInfo BehaviorAnalytics AzureDiagnostics DeviceProcessEvents DeviceNetworkEvents DeviceFileEvents DeviceRegistryEvents
      DeviceLogonEvents DeviceImageLoadEvents DeviceEvents DeviceInfo DeviceNetworkInfo EmailEvents EmailUrlInfo EmailAttachmentInfo
      EmailPostDeliveryEvents IdentityLogonEvents IdentityQueryEvents IdentityDirectoryEvents CloudAppEvents AlertInfo AlertEvidence
      SecurityAlert SecurityIncident ThreatIntelligenceIndicator W3CIISLog DnsEvents WindowsEvent Event Heartbeat
      AADServicePrincipalSignInLogs AADManagedIdentitySignInLogs MicrosoftGraphActivityLogs StorageBlobLogs AZFWNetworkRule
      AZFWApplicationRule Anomalies UrlClickEvents WindowsFirewall VMConnection NetworkSessions ASimNetworkSessionLogs
      AADSignInEventsBeta AADSpnSignInEventsBeta ExposureGraphNodes ExposureGraphEdges OAuthAppInfo IdentityAccountInfo`.split(/\s+/);
    expect(wanted.filter((name) => !tables[name])).toEqual([]);
  });

  it("columns carry their published types (Azure Monitor reference for tables it has)", () => {
    expect(typeOf("SecurityEvent", "EventID")).toBe("int");
    expect(typeOf("SecurityEvent", "AuthenticationLevel")).toBe("int");
    expect(typeOf("SigninLogs", "Status")).toBe("dynamic");
    expect(typeOf("SigninLogs", "AutonomousSystemNumber")).toBe("string");
    expect(typeOf("OfficeActivity", "ExternalAccess")).toBe("string");
    expect(typeOf("WindowsEvent", "EventData")).toBe("dynamic");
    expect(typeOf("DeviceProcessEvents", "ProcessId")).toBe("long");
    expect(typeOf("DeviceProcessEvents", "AdditionalFields")).toBe("dynamic");
    expect(typeOf("BehaviorAnalytics", "ActivityInsights")).toBe("dynamic");
  });

  it("Defender XDR tables have both TimeGenerated (Log Analytics) and Timestamp (Defender XDR)", () => {
    for (const table of [
      "DeviceProcessEvents",
      "DeviceNetworkEvents",
      "EmailEvents",
      "IdentityLogonEvents",
      "CloudAppEvents",
      "AlertEvidence",
    ]) {
      expect([table, typeOf(table, "TimeGenerated"), typeOf(table, "Timestamp")]).toEqual([table, "datetime", "datetime"]);
    }
    expect(typeOf("GraphApiAuditEvents", "Timestamp")).toBe("datetime");
  });

  it("every table has Log Analytics' standard columns", () => {
    for (const columns of Object.values(TABLE_SCHEMAS)) {
      expect(columns.filter((c) => ["_ResourceId", "TenantId", "Type"].includes(c.name)).length).toBe(3);
    }
  });

  it("a published table the data lacks reads as empty, with its columns, and no warning; an unknown one warns", () => {
    const known = runQuery("DeviceFileEvents | where Timestamp > ago(1d) | project DeviceName, SHA256", {
      tables: {},
      schemas: TABLE_SCHEMAS,
    });
    expect(known.table).toEqual({ columns: expandColumns("DeviceName SHA256"), rows: [] });
    expect(known.warnings).toEqual([]);
    const unknown = runQuery("Contoso_CL | where TimeGenerated > ago(1d) | count", { tables: {}, schemas: TABLE_SCHEMAS });
    expect(unknown.table.rows).toEqual([[0]]);
    expect(unknown.warnings).toEqual(["Table 'Contoso_CL' is neither in the data nor in a published schema: it reads as empty"]);
  });

  it("a column a table does not have is still a validation error", () => {
    const diagnostics = validateQuery("EmailEvents | where SenderAddress == 'x'", TABLE_SCHEMAS).filter((d) => d.severity === "error");
    expect(diagnostics.map((d) => d.message)).toEqual([expect.stringContaining("SenderAddress")]);
  });
});
