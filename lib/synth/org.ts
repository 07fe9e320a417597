/**
 * A seeded generator of realistic logs for a fictional organisation (Contoso): users with office
 * hours and quiet weekends, workstations, servers, domain controllers, service accounts and admins,
 * across SecurityEvent, SigninLogs, AuditLogs and DeviceNetworkEvents, with labelled attack
 * scenarios injected on top. The same options give the same logs, byte for byte.
 */
import { tableFromRecords } from "../kql/build.js";
import type { Table } from "../kql/types.js";
import { plainText } from "../kql/values.js";
import { LOGON_TYPE_NAMES } from "../readers/windows-events.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import { SeededRandom } from "./random.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type TableRecords = Record<string, Record<string, unknown>[]>;

export const SCENARIOS = [
  "network-brute-force",
  "password-spray",
  "entra-failed-signins-then-change",
  "rare-device-connection",
  "lateral-movement-burst",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Ground truth for one injected attack. */
export interface ScenarioLabel {
  scenario: ScenarioName;
  /** The hunt expected to surface it. */
  hunt: string;
  entityType: "ip" | "account" | "device-connection";
  /** The entity as the hunt keys it (an IP, a UPN or account, `device|process|remote:port`). */
  entity: string;
  start: string;
  end: string;
  description: string;
  /** Other entities the attack touched (targeted accounts, hosts): not benign, but not what the hunt keys on. */
  related?: string[];
}

export interface GenerateOptions {
  seed: number;
  /** Days of logs, ending at `end`. */
  days: number;
  /** The end of the generated period (exclusive); defaults to a fixed date so output is stable. */
  end?: Date;
  users?: number;
  workstations?: number;
  /** Scenarios to inject on the last day(s); defaults to all. */
  scenarios?: readonly ScenarioName[];
}

export interface GeneratedLogs {
  tables: TableRecords;
  labels: ScenarioLabel[];
  start: number;
  end: number;
}

/** Generated records as typed tables of the Sentinel schemas, ready for the local engine. */
export function generatedTables(logs: Pick<GeneratedLogs, "tables">): Record<string, Table> {
  return Object.fromEntries(Object.entries(logs.tables).map(([name, records]) => [name, tableFromRecords(TABLE_SCHEMAS[name], records)]));
}

interface Person {
  sam: string;
  upn: string;
  workstation: Host;
  admin: boolean;
  city: string;
}
interface Host {
  name: string;
  ip: string;
  deviceId: string;
}

const DOMAIN = "CONTOSO";
const UPN_SUFFIX = "contoso.com";
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
const OFFICE_EGRESS = ["198.51.100.10", "198.51.100.11"];
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

function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

class Org {
  readonly people: Person[] = [];
  readonly servers: Host[];
  readonly dcs: Host[];
  readonly serviceAccounts = ["svc_sql", "svc_backup", "svc_web"];

  constructor(random: SeededRandom, users: number, workstations: number) {
    const hosts: Host[] = Array.from({ length: workstations }, (_, i) => ({
      name: `WS-${pad(i + 1)}.contoso.local`,
      ip: `10.1.${Math.floor(i / 200)}.${(i % 200) + 20}`,
      deviceId: `ws${pad(i + 1)}-device`,
    }));
    this.servers = ["SRV-FILE01", "SRV-SQL01", "SRV-WEB01", "SRV-APP01", "SRV-APP02"].map((name, i) => ({
      name: `${name}.contoso.local`,
      ip: `10.0.1.${20 + i}`,
      deviceId: `${name.toLowerCase()}-device`,
    }));
    this.dcs = ["DC01", "DC02"].map((name, i) => ({
      name: `${name}.contoso.local`,
      ip: `10.0.0.${5 + i}`,
      deviceId: `${name.toLowerCase()}-device`,
    }));
    const taken = new Set<string>();
    for (let i = 0; i < users; i++) {
      let sam: string;
      do sam = `${random.pick(FIRST)}.${random.pick(LAST)}`;
      while (taken.has(sam));
      taken.add(sam);
      this.people.push({
        sam,
        upn: `${sam}@${UPN_SUFFIX}`,
        workstation: hosts[i % hosts.length],
        admin: i < Math.max(2, Math.floor(users / 15)),
        city: random.pick(CITIES),
      });
    }
  }
}

/** Builds SecurityEvent records with the fields Sentinel derives (Account, LogonTypeName, Activity). */
function securityEvent(time: number, eventId: number, computer: string, fields: Record<string, unknown>): Record<string, unknown> {
  const targetUser = plainText(fields.TargetUserName ?? "");
  const targetDomain = plainText(fields.TargetDomainName ?? "");
  const subjectUser = plainText(fields.SubjectUserName ?? "");
  const account = targetUser
    ? targetDomain
      ? `${targetDomain}\\${targetUser}`
      : targetUser
    : subjectUser
      ? `${plainText(fields.SubjectDomainName ?? DOMAIN)}\\${subjectUser}`
      : "";
  const logonType = fields.LogonType as number | undefined;
  return {
    Type: "SecurityEvent",
    TimeGenerated: isoAt(time),
    Computer: computer,
    EventID: eventId,
    Channel: "Security",
    EventSourceName: "Microsoft-Windows-Security-Auditing",
    Account: account,
    AccountType: account.endsWith("$") ? "Machine" : "User",
    ...(logonType === undefined ? {} : { LogonTypeName: `${logonType} - ${LOGON_TYPE_NAMES[logonType]}` }),
    ...fields,
  };
}

function logon(
  time: number,
  host: Host,
  user: string,
  logonType: number,
  sourceIp: string,
  ok: boolean,
  extra: Record<string, unknown> = {},
) {
  return securityEvent(time, ok ? 4624 : 4625, host.name, {
    TargetUserName: user,
    TargetDomainName: DOMAIN,
    LogonType: logonType,
    IpAddress: sourceIp,
    IpPort: sourceIp === "-" ? "-" : String(49152 + (Math.floor(time / 1000) % 16000)),
    WorkstationName: "",
    AuthenticationPackageName: logonType === 3 ? "NTLM" : "Negotiate",
    LogonProcessName: logonType === 3 ? "NtLmSsp " : "User32 ",
    Status: ok ? "0x0" : "0xc000006d",
    SubStatus: ok ? "0x0" : "0xc000006a",
    ...extra,
  });
}

function signin(time: number, person: { upn: string; city: string }, ip: string, app: string, resultType: string, country = "US") {
  return {
    Type: "SigninLogs",
    TimeGenerated: isoAt(time),
    UserPrincipalName: person.upn,
    UserDisplayName: person.upn.split("@")[0],
    IPAddress: ip,
    AppDisplayName: app,
    ResultType: resultType,
    ResultDescription: resultType === "0" ? "" : resultType === "50126" ? "Invalid username or password." : "Sign-in failed.",
    Location: country,
    LocationDetails: { city: person.city, countryOrRegion: country },
    ClientAppUsed: "Browser",
    IsInteractive: true,
    Status: { errorCode: Number(resultType) },
  };
}

function audit(time: number, category: string, operation: string, actor: string, targetUpn: string, extra: Record<string, unknown> = {}) {
  return {
    Type: "AuditLogs",
    TimeGenerated: isoAt(time),
    Category: category,
    OperationName: operation,
    ActivityDisplayName: operation,
    Result: "success",
    LoggedByService: "Core Directory",
    InitiatedBy: { user: { userPrincipalName: actor, ipAddress: "198.51.100.10" } },
    TargetResources: [{ type: "User", userPrincipalName: targetUpn, displayName: targetUpn.split("@")[0], modifiedProperties: [] }],
    ...extra,
  };
}

function connection(time: number, host: Host, process: string, remoteIp: string, remotePort: number, remoteUrl = "", account = "") {
  return {
    Type: "DeviceNetworkEvents",
    TimeGenerated: isoAt(time),
    Timestamp: isoAt(time),
    DeviceId: host.deviceId,
    DeviceName: host.name.toLowerCase(),
    ActionType: "ConnectionSuccess",
    RemoteIP: remoteIp,
    RemotePort: remotePort,
    RemoteUrl: remoteUrl,
    LocalIP: host.ip,
    LocalPort: 49152 + (Math.floor(time / 1000) % 16000),
    Protocol: "Tcp",
    RemoteIPType: /^10\./.test(remoteIp) ? "Private" : "Public",
    InitiatingProcessFileName: process,
    InitiatingProcessFolderPath: `c:\\windows\\system32\\${process}`,
    InitiatingProcessAccountName: account,
  };
}

/** A normal working day (or a quiet weekend day) for everyone. */
function normalDay(org: Org, random: SeededRandom, dayStart: number, out: TableRecords) {
  const weekday = new Date(dayStart).getUTCDay();
  const weekend = weekday === 0 || weekday === 6;
  const sec = out.SecurityEvent;
  for (const person of org.people) {
    if (weekend && !random.chance(0.1)) continue;
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
    const changes = random.int(0, 2);
    for (let i = 0; i < changes; i++) {
      const admin = random.pick(admins);
      const target = random.pick(org.people);
      out.AuditLogs.push(
        audit(
          dayStart + random.int(9, 17) * HOUR,
          random.pick(["UserManagement", "GroupManagement"]),
          random.pick(["Update user", "Add member to group"]),
          admin.upn,
          target.upn,
        ),
      );
    }
  }
}

// ---------- scenarios ----------

/** Injects one attack and returns its ground truth (one label per hunt expected to surface it). */
function injectScenario(
  name: ScenarioName,
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

export const DEFAULT_END = new Date(Date.UTC(2024, 9, 22)); // a Tuesday: attacks land on a busy Monday

export function generateOrgLogs(options: GenerateOptions): GeneratedLogs {
  const random = new SeededRandom(options.seed);
  const end = (options.end ?? DEFAULT_END).getTime();
  const start = end - options.days * DAY;
  const org = new Org(random, options.users ?? 40, options.workstations ?? 40);
  const tables: TableRecords = { SecurityEvent: [], SigninLogs: [], AuditLogs: [], DeviceNetworkEvents: [] };
  for (let day = start; day < end; day += DAY) normalDay(org, random, day, tables);
  const scenarios = options.scenarios ?? SCENARIOS;
  const labels: ScenarioLabel[] = [];
  const lastDay = end - DAY;
  for (const scenario of scenarios) labels.push(...[injectScenario(scenario, org, random, lastDay, tables)].flat());
  for (const records of Object.values(tables)) records.sort((a, b) => String(a.TimeGenerated).localeCompare(String(b.TimeGenerated)));
  return { tables, labels, start, end };
}
