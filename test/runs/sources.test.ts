/**
 * A source (a device's process) across windows, through the scheduled path on Azurite: one that
 * reaches new endpoints every day (a scanner) makes its next targets usual, and a sweep of many
 * new endpoints in one window is one finding that lists them, not one alert per target.
 */
import { describe, expect, it } from "vitest";
import { findHunt } from "../../lib/hunts/catalog.js";
import { tableFromRecords } from "../../lib/kql/build.js";
import { runScheduledWindow, servicesFor } from "../../lib/runs/runner.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 9, 1);
const hunt = findHunt("rare-device-connections")!;
const DAYS = 12;

function connection(day: number, hour: number, device: string, process: string, ip: string, port: number) {
  return {
    TimeGenerated: new Date(T0 + day * DAY + hour * HOUR).toISOString(),
    DeviceName: device,
    InitiatingProcessFileName: process,
    InitiatingProcessAccountName: "system",
    RemoteIP: ip,
    RemotePort: port,
    RemoteUrl: "",
    ActionType: "ConnectionSuccess",
  };
}

const records: Record<string, unknown>[] = [];
for (let day = 0; day < DAYS; day++) {
  // Forty workstations browse the same site every day: the population.
  for (let d = 1; d <= 40; d++) records.push(connection(day, 9, `ws-${d}`, "chrome.exe", "198.51.100.1", 443));
  // The scanner reaches six targets it never reached before, every night.
  for (let k = 0; k < 6; k++) records.push(connection(day, 2, "scan-host", "scan.exe", `10.9.${day}.${k + 1}`, 445));
}
const last = DAYS - 1;
// On the last day: a workstation's tool sweeps twelve hosts on 445 for the first time, and PowerShell on another holds a session to an odd port.
for (let k = 0; k < 12; k++) records.push(connection(last, 14, "ws-7", "tool.exe", `10.1.0.${k + 10}`, 445));
records.push(connection(last, 15, "ws-3", "powershell.exe", "203.0.113.5", 8443));

describe("sources: a device's process across windows (Azurite)", () => {
  it("a scanner's next targets are its habit and stay quiet; a first sweep is one alert listing its targets", async () => {
    const storage = await freshStorage(azurite());
    const services = servicesFor(
      storage,
      new LocalSource({ DeviceNetworkEvents: tableFromRecords(TABLE_SCHEMAS.DeviceNetworkEvents, records) }),
    );
    const runs = [];
    for (let day = 0; day < DAYS; day++) {
      const result = await runScheduledWindow(
        hunt,
        { start: T0 + day * DAY, end: T0 + (day + 1) * DAY },
        services,
        T0 + (day + 1) * DAY + 60_000,
      );
      if ("busy" in result) throw new Error("window unexpectedly held");
      runs.push(result);
    }
    const lastRun = runs[runs.length - 1];
    const findings = lastRun.findings;
    const byKey = new Map(findings.map((f) => [f.entity.key, f]));

    // The scanner: six new targets, each explained as its habit (rarity and novelty count a quarter: 21), below the
    // 25 a finding needs to be kept. Without its history (a first night) the same six would be one folded alert.
    expect(findings.filter((f) => f.entity.key.startsWith("scan-host|"))).toEqual([]);
    expect(lastRun.run.entities).toBe(40 + 6 + 12 + 1);

    // The first sweep: one alert naming the twelve targets, the device as a shared entity.
    const sweep = byKey.get("ws-7|tool.exe|10.1.0.10|445")!;
    expect(sweep.entity.type).toBe("device-connection");
    expect(sweep.alert).toBe(true);
    expect(sweep.members).toHaveLength(12);
    expect(sweep.members![0]).toBe("ws-7|tool.exe|10.1.0.10|445");
    expect(sweep.members).toContain("ws-7|tool.exe|10.1.0.21|445");
    expect(sweep.reasons[0]).toBe(
      "DeviceName/InitiatingProcessFileName ws-7|tool.exe reached 12 RemoteIP/RemotePort for the first time in this window: one finding instead of 12",
    );
    expect(sweep.details.NewValues).toBe(12);
    expect(sweep.entities).toContainEqual({ type: "host", value: "ws-7" });
    expect(findings.filter((f) => f.entity.key.startsWith("ws-7|tool.exe|"))).toEqual([sweep]);

    // One new endpoint is not a sweep: PowerShell's odd session alerts on its own, above the sweep's quiet neighbour.
    const session = byKey.get("ws-3|powershell.exe|203.0.113.5|8443")!;
    expect(session.alert).toBe(true);
    expect(
      findings
        .filter((f) => f.alert)
        .map((f) => f.entity.key)
        .sort(),
    ).toEqual(["ws-3|powershell.exe|203.0.113.5|8443", "ws-7|tool.exe|10.1.0.10|445"]);
  }, 120_000);
});
