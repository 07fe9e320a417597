/**
 * A seeded generator of logs for a fictional organisation (Contoso): users with office hours and
 * quiet weekends, workstations, servers, domain controllers, service accounts and admins, across
 * SecurityEvent, SigninLogs, AuditLogs and DeviceNetworkEvents, with labelled attack scenarios
 * injected on the last day. Two profiles: `small` (40 people, the demo and the tests) and
 * `realistic` (1,500 users, 400 workstations, the benign phenomena of lib/synth/phenomena.ts that
 * trip naive baselines, and more attacks). The same options give the same logs, byte for byte.
 */
import { tableFromRecords } from "../kql/build.js";
import type { Table } from "../kql/types.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import { injectRealisticScenario, REALISTIC_SCENARIOS } from "./attacks.js";
import { applyPhenomena, type PhenomenaOptions, type PhenomenonLabel } from "./phenomena.js";
import { SeededRandom } from "./random.js";
import {
  audit,
  connection,
  DAY,
  DOMAIN,
  HOUR,
  isoAt,
  logon,
  MINUTE,
  OFFICE_EGRESS,
  securityEvent,
  serviceTicket,
  signin,
  UPN_SUFFIX,
  type Host,
  type TableRecords,
} from "./records.js";

export type { TableRecords } from "./records.js";

/** The scenarios of the small profile (and the demo). */
export const SCENARIOS = [
  "network-brute-force",
  "password-spray",
  "entra-failed-signins-then-change",
  "rare-device-connection",
  "lateral-movement-burst",
] as const;
export const ALL_SCENARIOS = [...SCENARIOS, ...REALISTIC_SCENARIOS] as const;
export type ScenarioName = (typeof ALL_SCENARIOS)[number];

/** Ground truth for one injected attack. */
export interface ScenarioLabel {
  scenario: ScenarioName;
  /** The hunt expected to surface it. */
  hunt: string;
  entityType: "ip" | "account" | "device-connection" | "host";
  /** The entity as the hunt keys it (an IP, a UPN or account, `device|process|remote ip|port`, `host process`). */
  entity: string;
  start: string;
  end: string;
  description: string;
  /** Other entities the attack touched (targeted accounts, hosts): not benign, but not what the hunt keys on. */
  related?: string[];
}

export const PROFILES = ["small", "realistic"] as const;
export type ProfileName = (typeof PROFILES)[number];

export interface GenerateOptions {
  seed: number;
  /** Days of logs, ending at `end`. */
  days: number;
  /** The end of the generated period (exclusive); defaults to a fixed date so output is stable. */
  end?: Date;
  /** `small` (default): 40 people, no benign phenomena. `realistic`: 1,500 users, 400 workstations, every phenomenon. */
  profile?: ProfileName;
  users?: number;
  /** Office workers each have one; in the realistic profile the other users work remotely (cloud and VPN). */
  workstations?: number;
  /** Scenarios to inject on the last day; defaults to the profile's. */
  scenarios?: readonly ScenarioName[];
  /** Benign phenomena: parameter overrides, or false to leave one out; defaults to the profile's. */
  phenomena?: PhenomenaOptions;
}

export interface GeneratedLogs {
  tables: TableRecords;
  labels: ScenarioLabel[];
  /** The benign phenomena present, their parameters and the entities they may make a hunt report. */
  phenomena: PhenomenonLabel[];
  start: number;
  end: number;
}

/**
 * Generated records as typed tables of the Sentinel schemas, ready for the local engine, holding
 * only the columns the records have, as tables read from files do (a SecurityEvent row would
 * otherwise carry all 233 published columns; the engine shows an absent column a query names as empty).
 */
export function generatedTables(logs: Pick<GeneratedLogs, "tables">): Record<string, Table> {
  return Object.fromEntries(
    Object.entries(logs.tables).map(([name, records]) => {
      const present = new Set<string>();
      for (const record of records) for (const column in record) if (record[column] !== undefined) present.add(column);
      return [
        name,
        tableFromRecords(
          TABLE_SCHEMAS[name].filter((c) => present.has(c.name)),
          records,
        ),
      ];
    }),
  );
}

export interface Person {
  sam: string;
  upn: string;
  /** The person's workstation; a remote worker's is their own laptop, which logs nothing here. */
  workstation: Host;
  admin: boolean;
  city: string;
  /** Works remotely: signs in to the cloud from home and reaches the file server over VPN. */
  remote: boolean;
  /** Home address for a remote worker's sign-ins. */
  homeIp?: string;
}

const FIRST = [
  "alice",
  "bob",
  "carol",
  "dave",
  "erin",
  "frank",
  "grace",
  "heidi",
  "ivan",
  "judy",
  "mallory",
  "niaj",
  "olivia",
  "peggy",
  "rupert",
  "sybil",
  "trent",
  "victor",
  "walter",
  "yusuf",
  "zara",
  "liam",
  "mia",
  "noah",
  "emma",
  "lucas",
  "sofia",
  "omar",
  "hana",
  "kenji",
];
const LAST = [
  "smith",
  "jones",
  "garcia",
  "martin",
  "lee",
  "brown",
  "davis",
  "lopez",
  "wilson",
  "clark",
  "lewis",
  "young",
  "king",
  "wright",
  "hill",
];
const CITIES = ["Seattle", "Redmond", "London", "Dublin"];
const SAAS = [
  { url: "outlook.office365.com", ip: "52.96.0.10", port: 443, process: "outlook.exe" },
  { url: "teams.microsoft.com", ip: "52.113.194.132", port: 443, process: "ms-teams.exe" },
  { url: "www.bing.com", ip: "204.79.197.200", port: 443, process: "msedge.exe" },
  { url: "github.com", ip: "140.82.112.3", port: 443, process: "msedge.exe" },
  { url: "login.microsoftonline.com", ip: "20.190.151.7", port: 443, process: "msedge.exe" },
  { url: "", ip: "10.0.0.53", port: 53, process: "svchost.exe" },
];
const APPS = ["Office 365 Exchange Online", "Microsoft Teams", "Azure Portal", "Office 365 SharePoint Online", "My Apps"];

function pad(n: number, width = 3): string {
  return String(n).padStart(width, "0");
}

/** More names for large organisations (the small profile keeps the lists above, so its logs stay as they were). */
const MORE_FIRST = [
  "aaron",
  "abigail",
  "adam",
  "aisha",
  "amir",
  "ana",
  "anders",
  "anya",
  "ben",
  "bianca",
  "chen",
  "chloe",
  "daniel",
  "diego",
  "elena",
  "ethan",
  "fatima",
  "felix",
  "gabriel",
  "hannah",
  "isaac",
  "ines",
  "jack",
  "jamal",
  "julia",
  "kai",
  "karin",
  "leo",
  "lina",
  "marco",
  "maya",
  "nadia",
  "nina",
  "oscar",
  "paula",
  "priya",
  "rafael",
  "rosa",
  "sam",
  "sara",
  "tariq",
  "theo",
  "uma",
  "vera",
  "wei",
  "xavier",
  "yara",
  "yuki",
  "zoe",
  "ravi",
];
const MORE_LAST = [
  "adams",
  "baker",
  "campbell",
  "carter",
  "chen",
  "collins",
  "cook",
  "diaz",
  "evans",
  "fischer",
  "green",
  "hall",
  "harris",
  "jackson",
  "johnson",
  "kelly",
  "kim",
  "mueller",
  "murphy",
  "nguyen",
  "novak",
  "patel",
  "perez",
  "roberts",
  "rossi",
  "sanchez",
  "schmidt",
  "scott",
  "silva",
  "taylor",
  "thomas",
  "turner",
  "walker",
  "white",
  "ward",
];
const SMALL_SERVERS = ["SRV-FILE01", "SRV-SQL01", "SRV-WEB01", "SRV-APP01", "SRV-APP02"];
const REALISTIC_SERVERS = [...SMALL_SERVERS, "SRV-FILE02", "SRV-SQL02", "SRV-EXCH01", "SRV-PRINT01", "SRV-BACKUP01"];

/** Offices egress through these; remote workers reach the network over VPN from the pool below. */
export const VPN_POOL = "10.8";

export class Org {
  readonly people: Person[] = [];
  readonly workstations: Host[];
  readonly servers: Host[];
  readonly dcs: Host[];
  readonly serviceAccounts = ["svc_sql", "svc_backup", "svc_web"];

  constructor(random: SeededRandom, users: number, workstations: number, realistic: boolean) {
    this.workstations = Array.from({ length: workstations }, (_, i) => ({
      name: `WS-${pad(i + 1)}.contoso.local`,
      ip: `10.1.${Math.floor(i / 200)}.${(i % 200) + 20}`,
      deviceId: `ws${pad(i + 1)}-device`,
    }));
    this.servers = (realistic ? REALISTIC_SERVERS : SMALL_SERVERS).map((name, i) => ({
      name: `${name}.contoso.local`,
      ip: `10.0.1.${20 + i}`,
      deviceId: `${name.toLowerCase()}-device`,
    }));
    this.dcs = ["DC01", "DC02"].map((name, i) => ({
      name: `${name}.contoso.local`,
      ip: `10.0.0.${5 + i}`,
      deviceId: `${name.toLowerCase()}-device`,
    }));
    const first = realistic ? [...FIRST, ...MORE_FIRST] : FIRST;
    const last = realistic ? [...LAST, ...MORE_LAST] : LAST;
    if (users > first.length * last.length) throw new Error(`at most ${first.length * last.length} users, asked for ${users}`);
    const admins = realistic ? Math.max(2, Math.floor(users / 50)) : Math.max(2, Math.floor(users / 15));
    const taken = new Set<string>();
    for (let i = 0; i < users; i++) {
      let sam: string;
      do sam = `${random.pick(first)}.${random.pick(last)}`;
      while (taken.has(sam));
      taken.add(sam);
      const remote = realistic && i >= workstations;
      this.people.push({
        sam,
        upn: `${sam}@${UPN_SUFFIX}`,
        workstation: this.workstations[i % this.workstations.length],
        admin: i < admins,
        city: random.pick(CITIES),
        remote,
        ...(remote ? { homeIp: `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` } : {}),
      });
    }
  }

  /** People at a desk in the office (every attack's starting point that needs a workstation). */
  get office(): Person[] {
    return this.people.filter((p) => !p.remote);
  }

  /** Every device Defender and the Security log see. */
  get devices(): Host[] {
    return [...this.workstations, ...this.servers, ...this.dcs];
  }
}

/** A normal working day (or a quiet weekend day) for everyone. */
function normalDay(org: Org, random: SeededRandom, dayStart: number, out: TableRecords, realistic: boolean) {
  const weekday = new Date(dayStart).getUTCDay();
  const weekend = weekday === 0 || weekday === 6;
  const sec = out.SecurityEvent;
  for (const person of org.people) {
    if (weekend && !random.chance(0.1)) continue;
    if (person.remote) {
      remoteDay(org, person, random, dayStart, out);
      continue;
    }
    const arrive = dayStart + 8 * HOUR + random.int(0, 90) * MINUTE;
    const leave = arrive + random.int(7, 9) * HOUR;
    const at = () => random.int(arrive, leave);
    const dc = random.pick(org.dcs);
    // Morning: TGT at the DC, interactive logon at the workstation.
    sec.push(
      securityEvent(arrive - MINUTE, 4768, dc.name, {
        TargetUserName: person.sam,
        TargetDomainName: "CONTOSO.LOCAL",
        IpAddress: `::ffff:${person.workstation.ip}`,
        Status: "0x0",
        TicketEncryptionType: "0x12",
        ServiceName: "krbtgt",
      }),
    );
    if (random.chance(0.08)) sec.push(logon(arrive - 2 * MINUTE, person.workstation, person.sam, 2, "127.0.0.1", false));
    sec.push(logon(arrive, person.workstation, person.sam, 2, "127.0.0.1", true));
    if (person.admin)
      sec.push(
        securityEvent(arrive, 4672, person.workstation.name, {
          SubjectUserName: person.sam,
          SubjectDomainName: DOMAIN,
          PrivilegeList: "SeDebugPrivilege\n\t\t\tSeBackupPrivilege",
        }),
      );
    // Working hours: file and app servers over the network, with service tickets.
    const visits = random.int(2, 6);
    for (let i = 0; i < visits; i++) {
      const server = random.weighted([
        [org.servers[0], 5],
        [org.servers[3], 2],
        [org.servers[4], 2],
        [org.servers[1], person.admin ? 2 : 0.2],
      ] as const);
      const t = at();
      sec.push(
        securityEvent(t - 1000, 4769, dc.name, {
          TargetUserName: `${person.sam}@CONTOSO.LOCAL`,
          ServiceName: server.name.split(".")[0] + "$",
          IpAddress: `::ffff:${person.workstation.ip}`,
          Status: "0x0",
          TicketEncryptionType: "0x12",
        }),
      );
      sec.push(
        logon(t, server, person.sam, 3, person.workstation.ip, true, {
          AuthenticationPackageName: "Kerberos",
          LogonProcessName: "Kerberos",
        }),
      );
      if (person.admin)
        sec.push(
          securityEvent(t, 4672, server.name, {
            SubjectUserName: person.sam,
            SubjectDomainName: DOMAIN,
            PrivilegeList: "SeDebugPrivilege",
          }),
        );
    }
    if (random.chance(0.2))
      sec.push(
        securityEvent(at(), 4776, dc.name, {
          TargetUserName: person.sam,
          Workstation: person.workstation.name.split(".")[0],
          Status: "0x0",
        }),
      );
    // Cloud sign-ins from the office egress, now and then a mistyped password.
    const signins = random.int(2, 5);
    for (let i = 0; i < signins; i++) {
      const t = at();
      if (random.chance(0.05)) out.SigninLogs.push(signin(t - MINUTE, person, random.pick(OFFICE_EGRESS), random.pick(APPS), "50126"));
      out.SigninLogs.push(signin(t, person, random.pick(OFFICE_EGRESS), random.pick(APPS), "0"));
    }
    // The workstation's usual connections.
    const connections = random.int(10, 20);
    for (let i = 0; i < connections; i++) {
      const dest = random.pick(SAAS);
      out.DeviceNetworkEvents.push(connection(at(), person.workstation, dest.process, dest.ip, dest.port, dest.url, person.sam));
    }
    out.DeviceNetworkEvents.push(connection(arrive + MINUTE, person.workstation, "svchost.exe", org.dcs[0].ip, 389, "", "system"));
    out.DeviceNetworkEvents.push(connection(at(), person.workstation, "explorer.exe", org.servers[0].ip, 445, "", person.sam));
  }
  // Service accounts run around the clock on the servers.
  for (const account of org.serviceAccounts) {
    const server = account === "svc_sql" ? org.servers[1] : account === "svc_web" ? org.servers[2] : org.servers[0];
    for (let h = 0; h < 24; h += random.int(2, 4)) {
      sec.push(
        logon(dayStart + h * HOUR + random.int(0, 59) * MINUTE, server, account, 5, "-", true, {
          LogonProcessName: "Advapi  ",
          AuthenticationPackageName: "Negotiate",
        }),
      );
    }
  }
  // Admins make a few directory changes on workdays.
  if (!weekend) {
    const admins = org.people.filter((p) => p.admin);
    const changes = random.int(0, realistic ? 12 : 2);
    for (let i = 0; i < changes; i++) {
      const admin = random.pick(admins);
      const target = random.pick(org.people);
      out.AuditLogs.push(
        audit(
          dayStart + random.int(9, 17) * HOUR,
          random.pick(["UserManagement", "GroupManagement"]),
          realistic
            ? random.pick(["Update user", "Add member to group", "Remove member from group", "Reset user password", "Change user license"])
            : random.pick(["Update user", "Add member to group"]),
          admin.upn,
          target.upn,
        ),
      );
    }
  }
  if (realistic) serverTraffic(org, random, dayStart, out);
}

/** A remote worker: cloud sign-ins from home, and some days the VPN to the file server. */
function remoteDay(org: Org, person: Person, random: SeededRandom, dayStart: number, out: TableRecords) {
  // Remote workers are spread over time zones.
  const begin = dayStart + random.int(5, 12) * HOUR + random.int(0, 59) * MINUTE;
  const finish = begin + random.int(6, 9) * HOUR;
  const at = () => random.int(begin, finish);
  const home = person.homeIp ?? random.pick(OFFICE_EGRESS);
  const signins = random.int(2, 5);
  for (let i = 0; i < signins; i++) {
    const t = at();
    if (random.chance(0.04)) out.SigninLogs.push(signin(t - MINUTE, person, home, random.pick(APPS), random.pick(["50126", "50140"])));
    out.SigninLogs.push(signin(t, person, home, random.pick(APPS), "0"));
  }
  if (!random.chance(0.5)) return;
  const vpnIp = `${VPN_POOL}.${random.int(0, 7)}.${random.int(2, 250)}`;
  const dc = random.pick(org.dcs);
  out.SecurityEvent.push(
    securityEvent(begin, 4768, dc.name, {
      TargetUserName: person.sam,
      TargetDomainName: "CONTOSO.LOCAL",
      IpAddress: `::ffff:${vpnIp}`,
      Status: "0x0",
      TicketEncryptionType: "0x12",
      ServiceName: "krbtgt",
    }),
  );
  const visits = random.int(1, 3);
  for (let i = 0; i < visits; i++) {
    const t = at();
    const server = org.servers[0];
    out.SecurityEvent.push(serviceTicket(t - 1000, dc, person.sam, server, vpnIp));
    out.SecurityEvent.push(
      logon(t, server, person.sam, 3, vpnIp, true, { AuthenticationPackageName: "Kerberos", LogonProcessName: "Kerberos" }),
    );
  }
}

/** Servers talk to each other, to the DCs and to Microsoft every day (the realistic profile's Defender covers servers too). */
function serverTraffic(org: Org, random: SeededRandom, dayStart: number, out: TableRecords) {
  const [file, sql, web, app1, app2] = org.servers;
  const flows: [Host, string, string, number][] = [
    [app1, "w3wp.exe", sql.ip, 1433],
    [app2, "w3wp.exe", sql.ip, 1433],
    [web, "w3wp.exe", app1.ip, 8080],
    [web, "w3wp.exe", app2.ip, 8080],
    ...org.servers.map((s): [Host, string, string, number] => [s, "lsass.exe", org.dcs[0].ip, 88]),
    ...org.servers.map((s): [Host, string, string, number] => [s, "svchost.exe", org.dcs[1].ip, 389]),
    ...org.servers.filter((s) => s !== file).map((s): [Host, string, string, number] => [s, "system", file.ip, 445]),
  ];
  for (const [host, process, ip, port] of flows) {
    const n = random.int(3, 12);
    for (let i = 0; i < n; i++)
      out.DeviceNetworkEvents.push(connection(dayStart + random.int(0, DAY - 1), host, process, ip, port, "", "system"));
  }
  for (const host of org.devices) {
    out.DeviceNetworkEvents.push(
      connection(dayStart + random.int(0, DAY - 1), host, "MsSense.exe", "52.239.207.100", 443, "winatp-gw-eus.microsoft.com", "system"),
    );
  }
}

// ---------- scenarios ----------

/** Injects one attack and returns its ground truth (one label per hunt expected to surface it). */
function injectScenario(
  name: (typeof SCENARIOS)[number],
  org: Org,
  random: SeededRandom,
  dayStart: number,
  out: TableRecords,
): ScenarioLabel | ScenarioLabel[] {
  const sec = out.SecurityEvent;
  switch (name) {
    case "network-brute-force": {
      const ip = "203.0.113.66";
      const target = org.servers[2];
      const start = dayStart + 2 * HOUR + 13 * MINUTE;
      const names = [
        "administrator",
        "admin",
        "test",
        "backup",
        "sql",
        "guest",
        "user",
        "scanner",
        "support",
        ...org.people.slice(0, 25).map((p) => p.sam),
      ];
      let t = start;
      for (let i = 0; i < 420; i++) {
        t += random.int(2, 6) * 1000;
        sec.push(
          logon(t, target, random.pick(names), 3, ip, false, {
            SubStatus: random.pick(["0xc000006a", "0xc0000064"]),
            WorkstationName: "kali",
          }),
        );
      }
      return {
        scenario: name,
        hunt: "windows-logon-by-source-ip",
        entityType: "ip",
        entity: ip,
        start: isoAt(start),
        end: isoAt(t),
        description: `420 failed network logons against ${target.name} over ${names.length} account names`,
        related: names,
      };
    }
    case "password-spray": {
      const ip = "10.1.0.250"; // an internal foothold
      const dc = org.dcs[0];
      const start = dayStart + 13 * HOUR;
      let t = start;
      const victims = org.people.slice(0, Math.min(60, org.people.length));
      for (const person of victims) {
        for (let attempt = 0; attempt < 2; attempt++) {
          t += random.int(20, 40) * 1000;
          sec.push(logon(t, dc, person.sam, 3, ip, false));
        }
      }
      for (let k = 0; k < 110 - victims.length * 2; k++) {
        t += random.int(20, 40) * 1000;
        sec.push(logon(t, dc, random.pick(victims).sam, 3, ip, false));
      }
      const label = {
        scenario: name,
        entityType: "ip" as const,
        entity: ip,
        start: isoAt(start),
        end: isoAt(t),
        description: `low-and-slow password spray from ${ip} across ${victims.length} accounts`,
        related: victims.map((p) => p.sam),
      };
      return [
        { ...label, hunt: "windows-logon-by-source-ip" },
        { ...label, hunt: "password-spray-by-source" },
      ];
    }
    case "entra-failed-signins-then-change": {
      const victim = org.people[org.people.length - 1];
      const start = dayStart + 3 * HOUR;
      const attackers = [
        ["185.220.101.33", "DE"],
        ["45.155.205.17", "NL"],
        ["103.75.190.4", "SG"],
        ["91.219.236.5", "RU"],
      ];
      let t = start;
      for (let i = 0; i < 24; i++) {
        t += random.int(1, 4) * MINUTE;
        const [ip, country] = random.pick(attackers);
        out.SigninLogs.push(
          signin(
            t,
            { upn: victim.upn, city: "Unknown" },
            ip,
            random.pick(["Azure Portal", "Office 365 Exchange Online"]),
            random.pick(["50126", "50053", "50126"]),
            country,
          ),
        );
      }
      out.SigninLogs.push(signin(t + MINUTE, { upn: victim.upn, city: "Unknown" }, attackers[0][0], "Azure Portal", "0", "DE"));
      out.AuditLogs.push(audit(t + 5 * MINUTE, "UserManagement", "Update user", victim.upn, victim.upn, { Result: "success" }));
      out.AuditLogs.push(audit(t + 7 * MINUTE, "GroupManagement", "Add member to group", victim.upn, victim.upn, { Result: "success" }));
      return {
        scenario: name,
        hunt: "failed-signins-with-audit",
        entityType: "account",
        entity: victim.upn,
        start: isoAt(start),
        end: isoAt(t + 7 * MINUTE),
        description: "24 failed Entra sign-ins from 4 countries, then the account changes itself and joins a group",
      };
    }
    case "rare-device-connection": {
      const host = org.people[Math.min(7, org.people.length - 1)].workstation;
      const t = dayStart + 22 * HOUR + 41 * MINUTE;
      const remote = "203.0.113.77";
      for (let i = 0; i < 3; i++)
        out.DeviceNetworkEvents.push(connection(t + i * 20_000, host, "rundll32.exe", remote, 5985, "", "system"));
      return {
        scenario: name,
        hunt: "rare-device-connections",
        entityType: "device-connection",
        entity: `${host.name.toLowerCase()}|rundll32.exe|${remote}|5985`,
        start: isoAt(t),
        end: isoAt(t + 40_000),
        description: `rundll32.exe on ${host.name} opens WinRM (5985) to ${remote}, never seen before`,
      };
    }
    case "lateral-movement-burst": {
      const person = org.people[Math.min(3, org.people.length - 1)];
      const start = dayStart + 1 * HOUR + 5 * MINUTE;
      const targets = [...org.servers, ...org.people.map((p) => p.workstation)]
        .filter((h, i, all) => all.findIndex((x) => x.name === h.name) === i)
        .slice(0, 30);
      let t = start;
      for (const host of targets) {
        t += random.int(30, 90) * 1000;
        sec.push(
          logon(t, host, person.sam, 3, person.workstation.ip, true, { AuthenticationPackageName: "NTLM", LogonProcessName: "NtLmSsp " }),
        );
        sec.push(
          securityEvent(t, 4672, host.name, {
            SubjectUserName: person.sam,
            SubjectDomainName: DOMAIN,
            PrivilegeList: "SeDebugPrivilege\n\t\t\tSeImpersonatePrivilege",
          }),
        );
      }
      const label = {
        scenario: name,
        entityType: "account" as const,
        entity: person.sam,
        start: isoAt(start),
        end: isoAt(t),
        description: `${person.sam} logs on to ${targets.length} hosts with admin rights in under an hour`,
        related: targets.map((h) => h.name.toLowerCase()),
      };
      return [
        { ...label, hunt: "logon-graph-rank" },
        { ...label, hunt: "logon-changepoint" },
      ];
    }
  }
}

function byTime(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const DEFAULT_END = new Date(Date.UTC(2024, 9, 22)); // a Tuesday: attacks land on a busy Monday

export function generateOrgLogs(options: GenerateOptions): GeneratedLogs {
  const random = new SeededRandom(options.seed);
  const end = (options.end ?? DEFAULT_END).getTime();
  const start = end - options.days * DAY;
  const realistic = options.profile === "realistic";
  const org = new Org(random, options.users ?? (realistic ? 1500 : 40), options.workstations ?? (realistic ? 400 : 40), realistic);
  const tables: TableRecords = { SecurityEvent: [], SigninLogs: [], AuditLogs: [], DeviceNetworkEvents: [] };
  for (let day = start; day < end; day += DAY) normalDay(org, random, day, tables, realistic);
  const lastDay = end - DAY;
  const phenomena = applyPhenomena(
    org,
    options.seed,
    { start, end, attackDay: lastDay },
    tables,
    options.phenomena ?? (realistic ? {} : false),
  );
  const scenarios = options.scenarios ?? (realistic ? ALL_SCENARIOS : SCENARIOS);
  const labels: ScenarioLabel[] = [];
  for (const scenario of scenarios) {
    const injected = (SCENARIOS as readonly string[]).includes(scenario)
      ? injectScenario(scenario as (typeof SCENARIOS)[number], org, random, lastDay, tables)
      : injectRealisticScenario(
          scenario as (typeof REALISTIC_SCENARIOS)[number],
          org,
          SeededRandom.stream(options.seed, scenario),
          lastDay,
          tables,
        );
    labels.push(...[injected].flat());
  }
  // Plain code-point order: ISO times sort as text, and locale-aware comparison is slow on a million rows.
  for (const records of Object.values(tables)) records.sort((a, b) => byTime(String(a.TimeGenerated), String(b.TimeGenerated)));
  return { tables, labels, phenomena, start, end };
}
