import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { datetimeToMs, parseDatetime } from "../../lib/kql/values.js";
import { flattenEvent, readEvtxRecords } from "../../lib/readers/evtx.js";
import { loadLogs } from "../../lib/readers/index.js";
import { writeEvtx, type EvtxEventInput } from "../../lib/synth/evtx-writer.js";

const NAMES = ["TargetUserName", "TargetDomainName", "LogonType", "IpAddress", "WorkstationName"];

describe("EVTX writer (for benchmarks and tests) round-trips through the reader", () => {
  it("writes several chunks of templated records that read back exactly", async () => {
    const events: EvtxEventInput[] = Array.from({ length: 2500 }, (_, i) => ({
      eventId: i % 3 === 0 ? 4625 : 4624,
      time: Date.UTC(2024, 0, 1) + i * 1000 + 0.1234,
      computer: `WS-${i % 7}.contoso.local`,
      channel: "Security",
      provider: "Microsoft-Windows-Security-Auditing",
      data: [`user${i % 50}`, "CONTOSO", "3", `10.0.0.${i % 200}`, i % 5 === 0 ? "" : "KALI"],
    }));
    const dir = mkdtempSync(join(tmpdir(), "evtxw-"));
    const path = join(dir, "big.evtx");
    const chunks = await writeEvtx(path, NAMES, events);
    expect(chunks).toBeGreaterThan(3);
    const read = [];
    for await (const record of readEvtxRecords(path, {
      onWarning: (w) => {
        throw new Error(w.message);
      },
    }))
      read.push(flattenEvent(record));
    expect(read.length).toBe(events.length);
    read.forEach((event, i) => {
      expect(event.EventID).toBe(events[i].eventId);
      expect(datetimeToMs(parseDatetime(event.TimeCreated)!)).toBeCloseTo(events[i].time, 4);
      expect(event.Computer).toBe(events[i].computer);
      expect(event.EventRecordID).toBe(i + 1);
      expect(Object.values(event.data)).toEqual(events[i].data.map((v) => (v === "" ? null : v)));
    });
    const { tables } = await loadLogs([path]);
    expect(tables.SecurityEvent.rows.length).toBe(2500);
    rmSync(dir, { recursive: true, force: true });
  });
});
