/**
 * High-volume SecurityEvent rows for benchmarks: a realistic mix of logon-related events
 * (4624/4625/4672/4768/4769/4776) from a few thousand sources, with a handful of brute-forcing
 * IPs. Rows are built directly in table form so generating a million stays cheap.
 */
import type { Column, Row, Table } from "../kql/types.js";
import { datetimeFromMs } from "../kql/values.js";
import { SeededRandom } from "./random.js";

export const BENCH_SECURITY_COLUMNS: Column[] = [
  { name: "TimeGenerated", type: "datetime" },
  { name: "Computer", type: "string" },
  { name: "EventID", type: "int" },
  { name: "Account", type: "string" },
  { name: "TargetUserName", type: "string" },
  { name: "TargetDomainName", type: "string" },
  { name: "IpAddress", type: "string" },
  { name: "IpPort", type: "string" },
  { name: "LogonType", type: "int" },
  { name: "Status", type: "string" },
  { name: "SubStatus", type: "string" },
  { name: "AuthenticationPackageName", type: "string" },
  { name: "LogonProcessName", type: "string" },
  { name: "WorkstationName", type: "string" },
];

export interface VolumeOptions {
  seed: number;
  rows: number;
  start: number;
  spanMs: number;
}

export function generateSecurityVolume({ seed, rows, start, spanMs }: VolumeOptions): Table {
  const random = new SeededRandom(seed);
  const users = Array.from({ length: 2_000 }, (_, i) => `user${i}`);
  const hosts = Array.from({ length: 500 }, (_, i) => `WS${String(i).padStart(4, "0")}.contoso.local`);
  const internalIps = Array.from({ length: 5_000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${((i * 7) % 250) + 1}`);
  const attackers = ["66.90.100.200", "185.220.101.7", "45.155.205.99"];
  const eventMix: [number, number][] = [
    [4624, 50],
    [4625, 10],
    [4672, 15],
    [4768, 10],
    [4769, 10],
    [4776, 5],
  ];
  const out = new Array<Row>(rows);
  for (let i = 0; i < rows; i++) {
    const time = datetimeFromMs(start + Math.floor((spanMs * i) / rows));
    const attack = random.chance(0.002);
    const eventId = attack ? 4625 : random.weighted(eventMix);
    const user = attack ? random.pick(["administrator", "admin", "backup", "test", `user${random.int(0, 3000)}`]) : random.pick(users);
    const host = random.pick(hosts);
    const ip = attack ? random.pick(attackers) : eventId === 4672 ? "" : random.pick(internalIps);
    const logonType =
      eventId === 4624 || eventId === 4625
        ? attack
          ? 3
          : random.weighted([
              [3, 60],
              [2, 15],
              [10, 5],
              [5, 15],
              [4, 5],
            ] as const)
        : null;
    const failed = eventId === 4625;
    out[i] = [
      time,
      host,
      eventId,
      `CONTOSO\\${user}`,
      user,
      "CONTOSO",
      ip,
      ip ? String(random.int(1024, 65535)) : "",
      logonType,
      failed ? "0xc000006d" : "0x0",
      failed ? random.pick(["0xc000006a", "0xc0000064", "0xc000015b"]) : "0x0",
      random.pick(["NTLM", "Kerberos", "Negotiate"]),
      random.pick(["NtLmSsp ", "Kerberos", "User32 "]),
      random.pick(hosts).split(".")[0],
    ];
  }
  return { columns: BENCH_SECURITY_COLUMNS, rows: out };
}
