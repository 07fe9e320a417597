import { describe, expect, it } from "vitest";
import { eventDataXml, securityEventRecord, type WindowsEvent } from "../../lib/readers/windows-events.js";

const NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event";

function event(data: WindowsEvent["data"], extra: Partial<WindowsEvent> = {}): WindowsEvent {
  return {
    eventId: 4688,
    time: "2026-11-25T10:00:00.0000000Z",
    computer: "host",
    channel: "Security",
    provider: "p",
    task: 1,
    level: "0",
    data,
    ...extra,
  };
}

describe("Windows events as Sentinel rows", () => {
  it("escapes & < > and quotes in EventData's XML, wherever they stand and however long the value", () => {
    const values = ['"', "a&b", "<x>", 'C:\\Program Files\\a.exe -c "x > y & z"', `${"a".repeat(70)}&${"b".repeat(5)}"`, "plain", "é<é"];
    for (const value of values) {
      const expected = value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
      expect(eventDataXml(event({ CommandLine: value }))).toBe(
        `<EventData xmlns="${NAMESPACE}"><Data Name="CommandLine">${expected}</Data></EventData>`,
      );
    }
  });

  it("SecurityEvent rows: named values are columns (empty ones empty text); EventData only when a value has no column", () => {
    const known = securityEventRecord(event({ SubjectUserName: "alice", TargetLogonId: null }));
    expect(known).toMatchObject({ SubjectUserName: "alice", TargetLogonId: "" });
    expect(known).not.toHaveProperty("EventData");
    const unknown = securityEventRecord(event({ SubjectUserName: "alice", NoSuchColumn: "x" }));
    expect(unknown.EventData).toBe(
      `<EventData xmlns="${NAMESPACE}"><Data Name="SubjectUserName">alice</Data><Data Name="NoSuchColumn">x</Data></EventData>`,
    );
    expect(securityEventRecord(event({ SubjectUserName: "alice" }, { unnamed: ["u"] })).EventData).toContain("<Data>u</Data>");
  });
});
