/**
 * A behaviour's habit among peers, end to end through the scheduled path: browsers reaching sites no
 * other device visits, every day, are the browsers' habit (digest); a device's first RDP client is
 * not explained by the admins' consoles that reach new servers every day; a beacon through a browser
 * stands out among the browsers' new sites.
 */
import { describe, expect, it } from "vitest";
import { findHunt } from "../../lib/hunts/catalog.js";
import { tableFromRecords } from "../../lib/kql/build.js";
import { backtest } from "../../lib/runs/backtest.js";
import { servicesFor } from "../../lib/runs/runner.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const hunt = findHunt("rare-device-connections")!;
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 4);
const DAYS = 8;
const LAST = DAYS - 1;

function connection(day: number, minute: number, device: string, process: string, ip: string, port: number) {
  const time = new Date(T0 + day * DAY + minute * 60_000).toISOString();
  return {
    TimeGenerated: time,
    Timestamp: time,
    DeviceName: device,
    ActionType: "ConnectionSuccess",
    RemoteIP: ip,
    RemotePort: port,
    InitiatingProcessFileName: process,
    InitiatingProcessAccountName: "user",
  };
}

/** 40 workstations browse 5 popular sites daily, and each day 12 of them reach a site nobody else has; 6 admin consoles RDP to new servers daily; 80 other devices. */
function history() {
  const records: ReturnType<typeof connection>[] = [];
  let site = 0;
  let server = 0;
  for (let day = 0; day < DAYS; day++) {
    for (let d = 1; d <= 40; d++) {
      for (let k = 0; k < 5; k++) records.push(connection(day, 9 * 60 + d + k, `ws-${d}`, "msedge.exe", `52.0.0.${k + 1}`, 443));
      // Not the last day's subjects below: their visits are set by hand.
      if ((d + day) % 3 === 0 && d !== 7 && d !== 9)
        records.push(connection(day, 11 * 60 + d, `ws-${d}`, "msedge.exe", `198.18.${++site >> 8}.${site & 255}`, 443));
    }
    // Other devices, as many again and more: a browser is common, not universal.
    for (let d = 1; d <= 80; d++) records.push(connection(day, 7 * 60 + d, `srv-${d}`, "svchost.exe", "10.0.0.53", 53));
    // Every day all of them but one reach a new update address: a fleet-wide change, never a habit of one device's new values.
    for (let d = 1; d <= 80; d++) if (d !== 5) records.push(connection(day, 6 * 60 + d, `srv-${d}`, "svchost.exe", `100.64.${day}.1`, 443));
    // That one reaches the same address on the same port every day: it runs the behaviour, with nothing new.
    records.push(connection(day, 6 * 60, "srv-5", "svchost.exe", "100.64.200.5", 443));
    for (let a = 1; a <= 6; a++) {
      records.push(connection(day, 8 * 60 + a, `paw-${a}`, "mstsc.exe", "10.1.0.1", 3389));
      records.push(connection(day, 10 * 60 + a, `paw-${a}`, "mstsc.exe", `10.2.${++server >> 8}.${server & 255}`, 3389));
    }
  }
  return records;
}

describe("new values that are a behaviour's habit among peers", () => {
  it("digest a browser's new site, alert on a device's first RDP client and on a beacon through a browser", async () => {
    const records = [
      ...history(),
      connection(LAST, 14 * 60, "ws-7", "msedge.exe", "203.0.113.70", 443),
      connection(LAST, 15 * 60, "ws-30", "mstsc.exe", "10.9.9.9", 3389),
      connection(LAST, 16 * 60, "srv-5", "svchost.exe", "203.0.113.55", 443),
      ...Array.from({ length: 96 }, (_, i) => connection(LAST, 9 * 60 + i * 5, "ws-9", "msedge.exe", "203.0.113.90", 443)),
    ];
    const source = new LocalSource({ DeviceNetworkEvents: tableFromRecords(TABLE_SCHEMAS.DeviceNetworkEvents, records) });
    const services = servicesFor(await freshStorage(azurite()), source);
    const report = await backtest([hunt], services, { start: T0, end: T0 + DAYS * DAY });
    expect(report.failures).toEqual([]);
    const last = new Date(T0 + LAST * DAY).toISOString();
    const on = (key: string) =>
      report.findings.find(
        (f) => f.window.start === last && [f.entity.key, ...((f as { members?: string[] }).members ?? [])].includes(key),
      );

    // The browsers' new sites alerted on the first days scored, before their habit was known; on the last day they are
    // explained (each counts a quarter) and fall below the findings kept.
    const browsingAlerts = (day: number) =>
      report.findings.filter(
        (f) => f.window.start === new Date(T0 + day * DAY).toISOString() && f.alert && f.entity.key.includes("|msedge.exe|198.18."),
      );
    expect(browsingAlerts(hunt.learningWindows).length).toBeGreaterThan(5);
    expect(browsingAlerts(LAST)).toEqual([]);
    expect(on("ws-7|msedge.exe|203.0.113.70|443")).toBeUndefined();

    const firstRdp = on("ws-30|mstsc.exe|10.9.9.9|3389")!;
    expect(firstRdp.alert).toBe(true);
    expect(firstRdp.reasons.join("; ")).not.toMatch(/usual among peers/);

    // The daily rollouts are the fleet's, not a habit: one server's own new address is not explained by them.
    const lone = on("srv-5|svchost.exe|203.0.113.55|443")!;
    expect(lone.reasons.join("; ")).not.toMatch(/usual among peers/);

    const beacon = on("ws-9|msedge.exe|203.0.113.90|443")!;
    expect(beacon.alert).toBe(true);
    // Its eight hours stand out among the browsers' new sites, visited for minutes.
    expect(beacon.reasons.join("; ")).toMatch(
      /active minutes 475 is more than 10 times the 1 that 9 in 10 new values of InitiatingProcessFileName\/RemotePort msedge\.exe\|443 among peers stay within: not explained by a habit/,
    );
  });
});
