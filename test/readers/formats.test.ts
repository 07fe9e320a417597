import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runQuery, toJsonRecords } from "../../lib/kql/index.js";
import { detectFormat, loadLogs, readLogFile } from "../../lib/readers/index.js";
import { LOGON_TYPE_NAMES } from "../../lib/readers/windows-events.js";
import { dataset } from "../fixtures.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";

const CSV = dataset("azure-sentinel/Microsoft_Security_Events_Authentication_IngestedLogs.small.csv");
const GOLDEN = dataset("security-datasets/goldensaml-sentinel-export/");
const PURPLESHARP = dataset("security-datasets/purplesharp_ad_playbook_I_2020-10-22042947.logon.jsonl");
const WINLOGBEAT = new URL("../fixtures/winlogbeat-4625.ndjson", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "readers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function write(name: string, content: string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

describe("format detection", () => {
  it("tells every shared format from content", async () => {
    expect(await detectFormat(dataset("evtx-attack-samples/DE_RDP_Tunneling_4624.evtx"))).toBe("evtx");
    expect(await detectFormat(CSV)).toBe("sentinel-csv");
    expect(await detectFormat(PURPLESHARP)).toBe("nxlog");
    expect(await detectFormat(GOLDEN + "WindowsEvents.json")).toBe("ndjson");
    expect(await detectFormat(WINLOGBEAT)).toBe("winlogbeat");
    expect(
      await detectFormat(write("array.json", '[{"TimeGenerated":"2024-01-01T00:00:00Z","Type":"SecurityEvent","EventID":4625}]')),
    ).toBe("sentinel-json");
  });

  it("can be overridden", async () => {
    const path = write("custom.log", '{"TimeGenerated":"2024-01-01T00:00:00Z","EventID":4625,"Computer":"x"}\n');
    const items = [];
    for await (const item of readLogFile(path, { format: "ndjson", table: "SecurityEvent" })) items.push(item);
    expect(items).toMatchObject([{ table: "SecurityEvent", record: { EventID: 4625 } }]);
  });
});

describe("Log Analytics CSV export", () => {
  it("reads `TimeGenerated [UTC]`, US dates, and #NAME? as null", async () => {
    const { tables, issues } = await loadLogs([CSV]);
    expect(issues).toEqual([]);
    const rows = toJsonRecords(
      runQuery("SecurityEvent | project TimeGenerated, Account, EventID, IpAddress, LogonType | take 1", { tables, schemas: TABLE_SCHEMAS })
        .table,
    );
    expect(rows).toEqual([
      { TimeGenerated: "2024-10-18T09:29:21.1250000Z", Account: "", EventID: 4625, IpAddress: "66.90.100.200", LogonType: 3 },
    ]);
  });

  it("holds the network brute force the dataset README describes: 19 failed network logons, 14 from 66.90.100.200", async () => {
    const { tables } = await loadLogs([CSV]);
    const rows = toJsonRecords(
      runQuery(
        "SecurityEvent | where EventID == 4625 and LogonType == 3 | summarize Failed = count() by IpAddress | order by Failed desc",
        { tables },
      ).table,
    );
    expect(rows.reduce((n, r) => n + Number(r.Failed), 0)).toBe(19);
    expect(rows[0]).toEqual({ IpAddress: "66.90.100.200", Failed: 14 });
  });
});

describe("Log Analytics JSON export", () => {
  it("reads SecurityEvent rows and `_dynamic` columns from lines", async () => {
    const { tables, issues } = await loadLogs([GOLDEN + "WindowsEvents.json"]);
    expect(issues).toEqual([]);
    // 38 rows: 35 typed SecurityEvent, 2 Event, 1 untyped.
    expect(tables.SecurityEvent.rows.length).toBe(35);
    expect(Object.values(tables).reduce((n, t) => n + t.rows.length, 0)).toBe(38);
    const first = toJsonRecords(
      runQuery("SecurityEvent | take 1 | project EventID, Computer, EventData", { tables, schemas: TABLE_SCHEMAS }).table,
    )[0];
    expect(first.EventID).toBe(412);
    expect(first.EventData).toEqual(expect.stringContaining("SecureConversation"));
  });

  it("reads AuditLogs with dynamic TargetResources and InitiatedBy", async () => {
    const { tables } = await loadLogs([GOLDEN + "AADAuditEvents.json"]);
    const rows = toJsonRecords(
      runQuery(
        "AuditLogs | extend Actor = tostring(InitiatedBy.user.userPrincipalName), Target = tostring(TargetResources[0].displayName) | project Actor, Target | take 1",
        { tables },
      ).table,
    );
    expect(rows).toEqual([{ Actor: "pgustavo@simulandlabs.com", Target: "SimuLandApp" }]);
  });

  it("reads a JSON array export as a stream", async () => {
    const path = write(
      "export.json",
      JSON.stringify([
        {
          "TimeGenerated [UTC]": "2024-10-18T09:00:00Z",
          Type: "SigninLogs",
          UserPrincipalName: "a@contoso.com",
          ResultType: "50126",
          AppDisplayName: "Azure Portal",
          LocationDetails_dynamic: '{"city":"Paris"}',
        },
        {
          TimeGenerated: "2024-10-18T09:01:00Z",
          Type: "SigninLogs",
          UserPrincipalName: "a@contoso.com",
          ResultType: "0",
          AppDisplayName: "Azure Portal",
        },
      ]),
    );
    const { tables } = await loadLogs([path]);
    const rows = toJsonRecords(
      runQuery("SigninLogs | project UserPrincipalName, ResultType, City = tostring(LocationDetails.city)", {
        tables,
        schemas: TABLE_SCHEMAS,
      }).table,
    );
    expect(rows).toEqual([
      { UserPrincipalName: "a@contoso.com", ResultType: "50126", City: "Paris" },
      { UserPrincipalName: "a@contoso.com", ResultType: "0", City: "" },
    ]);
  });
});

describe("NXLog and Winlogbeat JSON", () => {
  it("reads the Mordor NXLog logon events, with @timestamp as the UTC time", async () => {
    const { tables, issues } = await loadLogs([PURPLESHARP]);
    expect(issues).toEqual([]);
    const counts = toJsonRecords(
      runQuery("SecurityEvent | summarize n = count() by EventID | order by EventID asc", { tables, schemas: TABLE_SCHEMAS }).table,
    );
    expect(counts).toEqual(
      expect.arrayContaining([
        { EventID: 4624, n: 49 },
        { EventID: 4625, n: 7 },
        { EventID: 4672, n: 43 },
        { EventID: 4769, n: 17 },
        { EventID: 4776, n: 7 },
      ]),
    );
    const first = toJsonRecords(
      runQuery("SecurityEvent | take 1 | project TimeGenerated, Computer", { tables, schemas: TABLE_SCHEMAS }).table,
    )[0];
    expect(first).toEqual({ TimeGenerated: "2020-10-22T08:29:53.9070000Z", Computer: "MORDORDC.theshire.local" });
  });

  it("finds the purplesharp password spray: 7 failures with SubStatus 0xc000006a across 7 accounts", async () => {
    const { tables } = await loadLogs([PURPLESHARP]);
    const rows = toJsonRecords(
      runQuery(
        "SecurityEvent | where EventID == 4625 | summarize Failures = count(), Accounts = dcount(TargetUserName) by SubStatus, LogonTypeName",
        { tables },
      ).table,
    );
    expect(rows).toEqual([{ SubStatus: "0xc000006a", LogonTypeName: "2 - Interactive", Failures: 7, Accounts: 7 }]);
  });

  it("reads Winlogbeat (ECS) events, sending non-Security channels to Event", async () => {
    const { tables, issues } = await loadLogs([WINLOGBEAT]);
    expect(issues).toEqual([]);
    const rows = toJsonRecords(
      runQuery("SecurityEvent | project EventID, Computer, Account, IpAddress, LogonType, LogonTypeName, SubStatus", {
        tables,
        schemas: TABLE_SCHEMAS,
      }).table,
    );
    expect(rows).toEqual([
      {
        EventID: 4625,
        Computer: "DC01.contoso.local",
        Account: "CONTOSO\\svc_backup",
        IpAddress: "203.0.113.45",
        LogonType: 3,
        LogonTypeName: "3 - Network",
        SubStatus: "0xc000006a",
      },
      {
        EventID: 4624,
        Computer: "DC01.contoso.local",
        Account: "CONTOSO\\svc_backup",
        IpAddress: "203.0.113.45",
        LogonType: 3,
        LogonTypeName: "3 - Network",
        SubStatus: "",
      },
    ]);
    expect(tables.Event.rows.length).toBe(1);
  });

  it("keeps only the columns the data has; columns a query names but the data lacks read as empty", async () => {
    const { tables } = await loadLogs([WINLOGBEAT]);
    expect(tables.SecurityEvent.columns.length).toBeLessThan(40);
    const rows = toJsonRecords(
      runQuery("SecurityEvent | where EventID == 4624 | project ServiceName, TicketEncryptionType, Task", {
        tables,
        schemas: TABLE_SCHEMAS,
      }).table,
    );
    expect(rows).toEqual([{ ServiceName: "", TicketEncryptionType: "", Task: null }]);
    const latest = runQuery("SecurityEvent | summarize arg_max(TimeGenerated, *) by Computer", { tables, schemas: TABLE_SCHEMAS }).table;
    expect(latest.columns.length).toBe(tables.SecurityEvent.columns.length);
  });

  it("names logon types as the 4624 documentation does", () => {
    expect(LOGON_TYPE_NAMES).toEqual({
      0: "System",
      2: "Interactive",
      3: "Network",
      4: "Batch",
      5: "Service",
      7: "Unlock",
      8: "NetworkCleartext",
      9: "NewCredentials",
      10: "RemoteInteractive",
      11: "CachedInteractive",
      12: "CachedRemoteInteractive",
      13: "CachedUnlock",
    });
  });
});

describe("bad input: clear errors, no good rows lost", () => {
  it("a malformed CSV row is reported with its line; the others load", async () => {
    const path = write(
      "bad.csv",
      [
        '"TimeGenerated [UTC]",EventID,Computer,Type',
        '"10/18/2024, 9:29:21.125 AM",4625,host1,SecurityEvent',
        '"10/18/2024, 9:30:00.000 AM",4625',
        '"10/18/2024, 9:31:00.000 AM",4624,host2,SecurityEvent',
      ].join("\n"),
    );
    const { tables, issues } = await loadLogs([path]);
    expect(tables.SecurityEvent.rows.length).toBe(2);
    expect(issues).toEqual([{ source: path, at: 3, message: "row has a different number of fields than the header (4)" }]);
  });

  it("wrong JSON types name the field and the value", async () => {
    const path = write(
      "types.ndjson",
      [
        '{"Type":"SecurityEvent","TimeGenerated":"2024-01-01T00:00:00Z","EventID":4625,"Computer":"a"}',
        '{"Type":"SecurityEvent","TimeGenerated":"2024-01-01T00:00:01Z","EventID":"not-a-number","Computer":"b"}',
        '{"Type":"SecurityEvent","TimeGenerated":"yesterday-ish","EventID":4624,"Computer":"c"}',
        "[1, 2, 3]",
        "{broken json",
        '{"Type":"SecurityEvent","TimeGenerated":"2024-01-01T00:00:02Z","EventID":4624,"LogonType":{"a":1},"Computer":"d"}',
        '{"Type":"SecurityEvent","TimeGenerated":"2024-01-01T00:00:03Z","EventID":4624,"Computer":"e"}',
      ].join("\n"),
    );
    const { tables, issues } = await loadLogs([path]);
    expect(tables.SecurityEvent.rows.map((r) => r[tables.SecurityEvent.columns.findIndex((c) => c.name === "Computer")])).toEqual([
      "a",
      "e",
    ]);
    expect(issues.map((i) => [i.at, i.field, i.message])).toEqual([
      [2, "EventID", 'EventID: expected int, got "not-a-number"'],
      [3, "TimeGenerated", 'TimeGenerated: expected datetime, got "yesterday-ish"'],
      [4, undefined, expect.stringMatching(/^record: .*\(got \[1,2,3\]\)$/)],
      [5, undefined, expect.stringMatching(/^not valid JSON/)],
      [6, "LogonType", "LogonType: expected int, got an object"],
    ]);
  });

  it("Windows JSON without an event id or time is reported per line", async () => {
    const path = write(
      "nx.jsonl",
      [
        '{"EventID":"x4624","EventTime":"2024-01-01 00:00:00","Hostname":"h"}',
        '{"EventID":4624,"EventTime":"2024-01-01 00:00:00","Hostname":"h","Channel":"Security"}',
      ].join("\n"),
    );
    const { tables, issues } = await loadLogs([path], { format: "nxlog" });
    expect(tables.SecurityEvent.rows.length).toBe(1);
    expect(issues[0]).toMatchObject({ at: 1, field: "EventID" });
    expect(issues[0].message).toMatch(/EventID: .*\(got "x4624"\)/);
  });
});
