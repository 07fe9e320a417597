import { describe, expect, it } from "vitest";
import { runQuery, toJsonRecords } from "../../lib/kql/index.js";
import { FLAT_EVENTS } from "../../lib/readers/evtx.js";
import { evtxFileBatches } from "../../lib/readers/evtx-rows.js";
import type { SourceItem } from "../../lib/readers/formats.js";
import { loadLogs, logFilesUnder } from "../../lib/readers/index.js";
import { dataset } from "../fixtures.js";
import { referenceEvents } from "./evtx-references.js";

const FIXTURES = new URL("../fixtures/evtx/evtx-attack-samples/", import.meta.url).pathname;
/** A cell as text: the columns checked here are strings. */
const text = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));
const query = async (path: string, kql: string) => {
  const { tables, issues } = await loadLogs([path]);
  expect(issues).toEqual([]);
  return toJsonRecords(runQuery(kql, { tables }).table);
};

describe("EVTX rows carry the whole payload, in Sentinel's shape", () => {
  it("Security 1102 (UserData): who cleared the log is in Account and in the EventData XML", async () => {
    const rows = await query(
      dataset("evtx-attack-samples/kerberos_pwd_spray_4771.evtx"),
      "SecurityEvent | where EventID == 1102 | project Account, SubjectUserName, SubjectLogonId, EventData",
    );
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row.Account).toMatch(/\\/);
    expect(row.SubjectLogonId).toMatch(/^0x[1-9a-f][0-9a-f]*$/); // unpadded, as Windows and Sentinel write it
    expect(text(row.EventData)).toMatch(
      /^<UserData xmlns="http:\/\/schemas.microsoft.com\/win\/2004\/08\/events\/event"><LogFileCleared [^>]*><SubjectUserSid>S-1-5-21-[\d-]+<\/SubjectUserSid><SubjectUserName>[^<]+<\/SubjectUserName>/,
    );
  });

  it("a Security field SecurityEvent has no column for (4624's ImpersonationLevel) keeps the EventData XML", async () => {
    const rows = await query(
      dataset("evtx-attack-samples/CA_4624_4625_LogonType2_LogonProc_chrome.evtx"),
      "SecurityEvent | where EventID == 4624 | take 1 | project EventData, TargetLogonId",
    );
    expect(rows[0].EventData).toMatch(/<Data Name="ImpersonationLevel">/);
    expect(rows[0].EventData).toMatch(/<Data Name="LogonGuid">\{[0-9A-F-]{36}\}<\/Data>/);
    expect(rows[0].TargetLogonId).toMatch(/^0x[0-9a-f]+$/);
  });

  it("RDP 1149 (UserData) keeps the user, domain and source address in Event's EventData", async () => {
    const rows = await query(
      `${FIXTURES}DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx`,
      "Event | where EventID == 1149 | project EventData | take 1",
    );
    expect(text(rows[0].EventData)).toMatch(
      /^<DataItem type="System.XmlData" time="[\d-]+T[\d:]+\.\d{7}Z"><UserData xmlns="[^"]+"><EventXML [^>]*xmlns="Event_NS"><Param1>[^<]+<\/Param1><Param2>[^<]*<\/Param2><Param3>[\d.:a-f]+<\/Param3><\/EventXML><\/UserData><\/DataItem>$/,
    );
  });

  it("System 104 (UserData): who cleared the log", async () => {
    const rows = await query(`${FIXTURES}DE_104_system_log_cleared.evtx`, "Event | where EventID == 104 | project EventData");
    expect(text(rows[0].EventData)).toMatch(
      /<SubjectUserName>[^<]+<\/SubjectUserName><SubjectDomainName>[^<]+<\/SubjectDomainName><Channel>[^<]+<\/Channel>/,
    );
  });

  it("PowerShell 800 (unnamed Data): HostApplication and the command line are in EventData and RenderedDescription", async () => {
    const rows = await query(
      `${FIXTURES}emotet_exec_emotet_ps_800_new-object.evtx`,
      "Event | where EventID == 800 | project EventData, RenderedDescription",
    );
    expect(text(rows[0].EventData)).toMatch(/<EventData xmlns="[^"]+"><Data>[^<]*<\/Data><Data>[^<]*HostApplication=[^<]+<\/Data>/);
    expect(text(rows[0].RenderedDescription)).toMatch(/HostApplication=.*powershell/i);
  });

  it("ProcessingErrorData (what Windows writes when it could not render an event's data) is kept in EventData", async () => {
    const rows = await query(
      new URL("../fixtures/evtx/dfir-artifact-museum/Microsoft-Windows-WinRM-Operational.evtx", import.meta.url).pathname,
      "Event | where EventData has 'ProcessingErrorData' | project EventID, EventData",
    );
    expect(rows.map((r) => r.EventID)).toEqual([91, 91]);
    expect(text(rows[0].EventData)).toMatch(
      /<ProcessingErrorData xmlns="http:\/\/schemas.microsoft.com\/win\/2004\/08\/events\/event"><ErrorCode>15005<\/ErrorCode><DataItemName>shellId<\/DataItemName><EventPayload>68007400740070003A002F002F00[0-9A-F]+<\/EventPayload><\/ProcessingErrorData>/,
    );
  });

  it("NetLogon 5805 keeps its Binary as hex", async () => {
    const rows = await query(
      `${FIXTURES}Zerologon_CVE-2020-1472_DFIR_System_NetLogon_Error_EventID_5805.evtx`,
      "Event | where EventID == 5805 | project EventData",
    );
    expect(text(rows[0].EventData)).toMatch(/<Binary>[0-9A-F]+<\/Binary><\/EventData><\/DataItem>$/);
  });
});

describe("EVTX SecurityEvent rows carry Sentinel's System columns", () => {
  it("EventRecordId, Keywords, SystemProcessId, SystemThreadId and SystemUserId match the references, record by record", async () => {
    const path = new URL("../fixtures/evtx/rust-evtx/Security_short_selected.evtx", import.meta.url).pathname;
    const rows = await query(path, "SecurityEvent | project EventRecordId, Keywords, SystemProcessId, SystemThreadId, SystemUserId");
    const references = referenceEvents(path).filter((r) => r.source === "libevtx");
    expect(rows.length).toBeGreaterThan(0);
    expect(references.length).toBe(rows.length);
    for (const reference of references) {
      const row = rows.find((r) => r.EventRecordId === String(reference.eventRecordId));
      expect(row, `record ${reference.eventRecordId}`).toBeDefined();
      expect(row!.SystemProcessId).toBe(Number(reference.processId));
      expect(row!.SystemThreadId).toBe(Number(reference.threadId));
      // As Sentinel writes it: N/A for an event logged under no user.
      expect(row!.SystemUserId).toBe(reference.userId || "N/A");
      // Windows' hex, as Sentinel's export shows it (0x8010000000000000 for an audit failure).
      expect(row!.Keywords).toMatch(/^0x[1-9a-f][0-9a-f]*$/);
    }
  });
});

describe("EVTX rows read without the named values no row needs", () => {
  it("rows, and the issues between them, are the same as when every event is read whole", async () => {
    const folders = ["../fixtures/evtx/rust-evtx/", "../fixtures/evtx/evtx-attack-samples/", "../fixtures/evtx/plaso/"].map(
      (dir) => new URL(dir, import.meta.url).pathname,
    );
    const files = logFilesUnder(folders).files.filter((path) => path.endsWith(".evtx"));
    const tables = new Set<string>();
    for (const path of files) {
      const rows: SourceItem[] = [];
      const whole: SourceItem[] = [];
      for await (const batch of evtxFileBatches(path)) rows.push(...batch);
      for await (const batch of evtxFileBatches(path, FLAT_EVENTS)) whole.push(...batch);
      expect(rows, path).toEqual(whole);
      for (const item of rows) if ("table" in item) tables.add(item.table);
    }
    // Both kinds of row: SecurityEvent's columns come from the named values, Event's XML from the payload.
    expect([...tables].sort()).toEqual(["Event", "SecurityEvent"]);
  });
});
