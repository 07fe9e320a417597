/**
 * Benign phenomena of a real organisation that trip naive baselines: each is a named piece with
 * parameters drawn from its own seeded stream (so proportions vary with the seed), overridable, and
 * labelled with the entities it may make a hunt report, so a false alert can be traced to its cause.
 */
import type { Org, Person } from "./org.js";
import { SeededRandom } from "./random.js";
import {
  audit,
  connection,
  connectionKey,
  DAY,
  HOUR,
  logon,
  MINUTE,
  NTSTATUS,
  OFFICE_EGRESS,
  securityEvent,
  serviceTicket,
  signin,
  specialPrivileges,
  UPN_SUFFIX,
  type Host,
  type TableRecords,
} from "./records.js";

export const PHENOMENA = [
  "fleet-rollout",
  "heavy-admins",
  "service-accounts",
  "misconfigured-devices",
  "new-hires",
  "patch-night",
  "travel",
  "scanners",
  "browsing-long-tail",
  "password-trouble",
] as const;
export type PhenomenonName = (typeof PHENOMENA)[number];

export type PhenomenonParameters = Record<string, number | string>;

/** Per phenomenon: parameter overrides, or false to leave it out. `false` for all leaves every one out. */
export type PhenomenaOptions = false | Partial<Record<PhenomenonName, false | PhenomenonParameters>>;

export interface PhenomenonLabel {
  phenomenon: PhenomenonName;
  description: string;
  parameters: PhenomenonParameters;
  /**
   * Entities it may make a hunt report, lower case, as the hunts key them; a device name stands for
   * every connection of that device (`device|...`) and every local source on it (`device process`).
   */
  entities: string[];
}

export interface Period {
  start: number;
  end: number;
  /** Start of the last day, where the attacks are. */
  attackDay: number;
}

interface Context {
  org: Org;
  random: SeededRandom;
  period: Period;
  out: TableRecords;
  entities: Set<string>;
}

interface Phenomenon<P extends PhenomenonParameters> {
  describe(p: P): string;
  /** Parameters for this seed: the proportions vary with it. */
  draw(random: SeededRandom): P;
  apply(context: Context, p: P): void;
}

function days(period: Period): number[] {
  const out: number[] = [];
  for (let d = period.start; d < period.end; d += DAY) out.push(d);
  return out;
}

function isWeekday(dayStart: number): boolean {
  const d = new Date(dayStart).getUTCDay();
  return d !== 0 && d !== 6;
}

function publicIp(random: SeededRandom): string {
  return `${random.pick([13, 20, 23, 40, 52, 104, 151])}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`;
}

function accountOf(name: string): string {
  return name.toLowerCase();
}

const UPDATERS = [
  { process: "MicrosoftEdgeUpdate.exe", url: "msedge.api.cdp.microsoft.com" },
  { process: "GoogleUpdate.exe", url: "update.googleapis.com" },
  { process: "ZoomInstaller.exe", url: "zoom.us" },
  { process: "OfficeClickToRun.exe", url: "officecdn.microsoft.com" },
  { process: "AcroServicesUpdater.exe", url: "armmf.adobe.com" },
  { process: "AgentUpdater.exe", url: "updates.vendor-edr.example" },
];

/** An agent or app update reaches a new endpoint from (nearly) every workstation within hours. */
const fleetRollout: Phenomenon<{ coverage: number; spreadHours: number; startHour: number; earlierRollouts: number }> = {
  describe: (p) =>
    `software rollouts: on the attack day ${Math.round(p.coverage * 100)}% of workstations reach a new update endpoint within ${p.spreadHours} h from ${p.startHour}:00; ${p.earlierRollouts} earlier rollout(s) in the history`,
  draw: (r) => ({
    coverage: Number(r.between(0.8, 1).toFixed(2)),
    spreadHours: r.int(1, 3),
    startHour: r.int(7, 14),
    earlierRollouts: r.int(0, 2),
  }),
  apply({ org, random, period, out, entities }, p) {
    const weekdays = days(period).filter((d) => d < period.attackDay && isWeekday(d));
    const when = [...random.sample(weekdays, p.earlierRollouts), period.attackDay];
    const updaters = random.sample(UPDATERS, when.length);
    when.forEach((day, i) => {
      const updater = updaters[i % updaters.length];
      const ip = publicIp(random);
      for (const host of org.workstations) {
        if (!random.chance(p.coverage)) continue;
        const t = day + p.startHour * HOUR + random.int(0, p.spreadHours * HOUR - 1);
        const n = random.int(1, 3);
        for (let k = 0; k < n; k++)
          out.DeviceNetworkEvents.push(connection(t + k * 5000, host, updater.process, ip, 443, updater.url, "system"));
        if (day === period.attackDay) entities.add(connectionKey(host, updater.process, ip, 443).toLowerCase());
      }
    });
  },
};

/** Desktop-support admins log on to 25-35 workstations every weekday: heavy, but usual for them. */
const heavyAdmins: Phenomenon<{ admins: number; minHosts: number; maxHosts: number; rdpShare: number }> = {
  describe: (p) => `${p.admins} desktop-support admin accounts log on to ${p.minHosts}-${p.maxHosts} workstations every weekday`,
  draw: (r) => ({
    admins: r.int(3, 8),
    minHosts: r.int(22, 26),
    maxHosts: r.int(30, 36),
    rdpShare: Number(r.between(0.1, 0.4).toFixed(2)),
  }),
  apply({ org, random, period, out, entities }, p) {
    const staff = random.sample(org.office, p.admins);
    for (const person of staff) entities.add(accountOf(`adm_${person.sam}`));
    for (const day of days(period).filter(isWeekday)) {
      for (const person of staff) {
        const account = `adm_${person.sam}`;
        const dc = random.pick(org.dcs);
        for (const host of random.sample(org.workstations, random.int(p.minHosts, p.maxHosts))) {
          const t = day + 8 * HOUR + random.int(30, 570) * MINUTE;
          const rdp = random.chance(p.rdpShare);
          out.SecurityEvent.push(serviceTicket(t - 1000, dc, account, host, person.workstation.ip));
          out.SecurityEvent.push(
            logon(t, host, account, rdp ? 10 : 3, person.workstation.ip, true, {
              AuthenticationPackageName: "Kerberos",
              LogonProcessName: "Kerberos",
            }),
          );
          out.SecurityEvent.push(
            specialPrivileges(t, host, account, "SeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeDebugPrivilege"),
          );
        }
      }
    }
  },
};

/** Monitoring polls every server all day; inventory touches every workstation each night; backup every server. */
const serviceAccounts: Phenomenon<{ monitorMinutes: number; inventoryHour: number; inventoryCoverage: number; backupHour: number }> = {
  describe: (p) =>
    `service accounts: svc_monitor polls every server every ${p.monitorMinutes} min, svc_inventory reaches ${Math.round(p.inventoryCoverage * 100)}% of workstations at ${p.inventoryHour}:00, svc_backup every server at ${p.backupHour}:00`,
  draw: (r) => ({
    monitorMinutes: r.pick([15, 30, 60]),
    inventoryHour: r.int(1, 4),
    inventoryCoverage: Number(r.between(0.6, 1).toFixed(2)),
    backupHour: r.int(0, 3),
  }),
  apply({ org, random, period, out, entities }, p) {
    const monitorIp = "10.0.2.10";
    const inventoryIp = "10.0.2.11";
    const backupIp = "10.0.2.13";
    for (const e of ["svc_monitor", "svc_inventory", "svc_backup", monitorIp, inventoryIp, backupIp]) entities.add(e);
    const servers = [...org.servers, ...org.dcs];
    for (const day of days(period)) {
      for (let t = day; t < day + DAY; t += p.monitorMinutes * MINUTE)
        for (const host of servers) out.SecurityEvent.push(logon(t + random.int(0, 50_000), host, "svc_monitor", 3, monitorIp, true));
      for (const host of org.workstations) {
        if (!random.chance(p.inventoryCoverage)) continue;
        out.SecurityEvent.push(logon(day + p.inventoryHour * HOUR + random.int(0, HOUR - 1), host, "svc_inventory", 3, inventoryIp, true));
      }
      for (const host of servers)
        out.SecurityEvent.push(
          logon(day + p.backupHour * HOUR + random.int(0, 2 * HOUR), host, "svc_backup", 3, backupIp, true, {
            AuthenticationPackageName: "Kerberos",
            LogonProcessName: "Kerberos",
          }),
        );
    }
  },
};

/** Devices that fail all day: scan-to-folder printers with old passwords, an appliance whose logon type is not granted, phones with an old password, a disabled leaver's mapped drive. */
const misconfiguredDevices: Phenomenon<{
  printers: number;
  printerAccounts: number;
  appliances: number;
  applianceAccounts: number;
  staleMobiles: number;
  leavers: number;
}> = {
  describe: (p) =>
    `misconfigured devices failing all day: ${p.printers} printer(s) over ${p.printerAccounts} accounts (0xc000006a), ${p.appliances} appliance(s) over ${p.applianceAccounts} accounts (0xc000015b), ${p.staleMobiles} phone(s) on an old password (50126), ${p.leavers} disabled leaver drive(s) (0xc0000072)`,
  draw: (r) => ({
    printers: r.int(1, 3),
    printerAccounts: r.int(5, 8),
    appliances: r.int(1, 2),
    applianceAccounts: r.int(6, 12),
    staleMobiles: r.int(2, 6),
    leavers: r.int(1, 3),
  }),
  apply({ org, random, period, out, entities }, p) {
    const file = org.servers[0];
    const printers = Array.from({ length: p.printers }, (_, i) => ({
      ip: `10.2.0.${30 + i}`,
      name: `MFP-${String(i + 1).padStart(2, "0")}`,
      accounts: random.sample(org.office, p.printerAccounts).map((x) => x.sam),
    }));
    const appliances = Array.from({ length: p.appliances }, (_, i) => ({
      ip: `10.2.1.${40 + i}`,
      accounts: random.sample(org.people, p.applianceAccounts).map((x) => x.sam),
    }));
    const phones = random
      .sample(org.people, p.staleMobiles)
      .map((person) => ({ person, ip: `172.56.${random.int(0, 255)}.${random.int(1, 254)}` }));
    const leavers = Array.from({ length: p.leavers }, (_, i) => ({ account: `leaver.${i + 1}`, from: random.pick(org.workstations) }));
    for (const x of [...printers, ...appliances]) entities.add(x.ip);
    for (const x of phones) entities.add(x.person.upn.toLowerCase());
    for (const x of leavers) entities.add(x.from.ip).add(x.account);
    for (const day of days(period)) {
      for (let hour = 0; hour < 24; hour++) {
        const base = day + hour * HOUR;
        for (const printer of printers)
          for (const account of printer.accounts)
            for (let k = random.int(1, 2); k > 0; k--)
              out.SecurityEvent.push(
                logon(base + random.int(0, HOUR - 1), file, account, 3, printer.ip, false, { WorkstationName: printer.name }),
              );
        for (const appliance of appliances)
          for (const account of random.sample(appliance.accounts, random.int(5, appliance.accounts.length)))
            out.SecurityEvent.push(
              logon(base + random.int(0, HOUR - 1), org.dcs[0], account, 3, appliance.ip, false, {
                Status: NTSTATUS.logonTypeNotGranted,
                SubStatus: NTSTATUS.success,
              }),
            );
        if (hour >= 8 && hour < 18)
          for (const leaver of leavers)
            out.SecurityEvent.push(
              logon(base + random.int(0, HOUR - 1), file, leaver.account, 3, leaver.from.ip, false, {
                Status: NTSTATUS.logonFailure,
                SubStatus: NTSTATUS.disabled,
              }),
            );
      }
      for (const { person, ip } of phones)
        for (let t = day + random.int(0, 30) * MINUTE; t < day + DAY; t += random.int(10, 30) * MINUTE)
          out.SigninLogs.push(
            signin(t, person, ip, "Office 365 Exchange Online", "50126", "US", {
              ClientAppUsed: "Exchange ActiveSync",
              IsInteractive: false,
            }),
          );
    }
  },
};

/** New starters in the last days: accounts created, groups added, first-day password and MFA trouble from three places, new laptops. */
const newHires: Phenomenon<{ hires: number; maxDaysBeforeAttack: number }> = {
  describe: (p) =>
    `${p.hires} new hire(s) starting in the last ${p.maxDaysBeforeAttack + 1} day(s), with new accounts, laptops and first-day sign-in trouble`,
  draw: (r) => ({ hires: r.int(3, 10), maxDaysBeforeAttack: r.int(0, 2) }),
  apply({ org, random, period, out, entities }, p) {
    const admins = org.people.filter((x) => x.admin);
    for (let i = 0; i < p.hires; i++) {
      const sam = `new.starter${i + 1}`;
      const person: Person = {
        sam,
        upn: `${sam}@${UPN_SUFFIX}`,
        workstation: {
          name: `WS-N${String(i + 1).padStart(2, "0")}.contoso.local`,
          ip: `10.1.7.${20 + i}`,
          deviceId: `wsn${i + 1}-device`,
        },
        admin: false,
        city: "Seattle",
        remote: false,
      };
      const homeIp = `198.19.200.${10 + i}`;
      const mobileIp = `172.58.${random.int(0, 255)}.${random.int(1, 254)}`;
      for (const e of [person.upn, sam, person.workstation.name]) entities.add(e.toLowerCase());
      const first = period.attackDay - random.int(0, p.maxDaysBeforeAttack) * DAY;
      const admin = random.pick(admins).upn;
      const t0 = first + 8 * HOUR + random.int(0, 60) * MINUTE;
      out.AuditLogs.push(audit(t0 - 3 * HOUR, "UserManagement", "Add user", admin, person.upn));
      for (const group of random.sample(["All Staff", "Sales", "VPN Users", "M365 E3", "Seattle Office"], random.int(2, 4)))
        out.AuditLogs.push(
          audit(t0 - 2 * HOUR + random.int(0, 60) * MINUTE, "GroupManagement", "Add member to group", admin, person.upn, {
            AdditionalDetails: [{ key: "Group", value: group }],
          }),
        );
      out.AuditLogs.push(
        audit(t0 + 20 * MINUTE, "UserManagement", "User registered security info", person.upn, person.upn, {
          LoggedByService: "Authentication Methods",
        }),
      );
      // First-day trouble: the temporary password mistyped, MFA enrolment, then the phone and home set up.
      let t = t0;
      for (let k = random.int(3, 8); k > 0; k--)
        out.SigninLogs.push(
          signin((t += random.int(1, 4) * MINUTE), person, OFFICE_EGRESS[0], "My Apps", random.pick(["50126", "50126", "50072"])),
        );
      out.SigninLogs.push(signin((t += MINUTE), person, OFFICE_EGRESS[0], "My Apps", "0"));
      out.SigninLogs.push(signin((t += 2 * HOUR), person, mobileIp, "Microsoft Authenticator App", random.pick(["50074", "50058"])));
      out.SigninLogs.push(signin(t + MINUTE, person, mobileIp, "Office 365 Exchange Online", "0"));
      out.SigninLogs.push(signin(first + 19 * HOUR, person, homeIp, "Microsoft Teams", random.pick(["50140", "50074"])));
      out.SigninLogs.push(signin(first + 19 * HOUR + MINUTE, person, homeIp, "Microsoft Teams", "0"));
      const dc = org.dcs[0];
      for (let day = first; day < period.end; day += DAY) {
        const arrive = day === first ? t0 : day + 8 * HOUR + random.int(0, 60) * MINUTE;
        if (day === first) out.SecurityEvent.push(logon(arrive - 2 * MINUTE, person.workstation, sam, 2, "127.0.0.1", false));
        out.SecurityEvent.push(
          securityEvent(arrive - MINUTE, 4768, dc.name, {
            TargetUserName: sam,
            TargetDomainName: "CONTOSO.LOCAL",
            IpAddress: `::ffff:${person.workstation.ip}`,
            Status: "0x0",
            ServiceName: "krbtgt",
          }),
        );
        out.SecurityEvent.push(logon(arrive, person.workstation, sam, 2, "127.0.0.1", true));
        out.SecurityEvent.push(serviceTicket(arrive + HOUR, dc, sam, org.servers[0], person.workstation.ip));
        out.SecurityEvent.push(
          logon(arrive + HOUR, org.servers[0], sam, 3, person.workstation.ip, true, {
            AuthenticationPackageName: "Kerberos",
            LogonProcessName: "Kerberos",
          }),
        );
        for (const [process, ip, port, url] of [
          ["outlook.exe", "52.96.0.10", 443, "outlook.office365.com"],
          ["ms-teams.exe", "52.113.194.132", 443, "teams.microsoft.com"],
          ["msedge.exe", "20.190.151.7", 443, "login.microsoftonline.com"],
          ["MsSense.exe", "52.239.207.100", 443, "winatp-gw-eus.microsoft.com"],
        ] as const)
          out.DeviceNetworkEvents.push(
            connection(arrive + random.int(1, 8 * 60) * MINUTE, person.workstation, process, ip, port, url, sam),
          );
      }
    }
  },
};

/** Patch night: the patch account logs on to every server and most workstations, which fetch updates from a CDN endpoint unseen for a month. */
const patchNight: Phenomenon<{ onAttackNight: number; startHour: number; workstationCoverage: number }> = {
  describe: (p) =>
    `patch night ${p.onAttackNight ? "in the attack day's small hours" : "the night before the attack day"} from ${p.startHour}:00: svc_patch on every server and ${Math.round(p.workstationCoverage * 100)}% of workstations`,
  draw: (r) => ({
    onAttackNight: r.chance(0.7) ? 1 : 0,
    startHour: r.int(0, 2),
    workstationCoverage: Number(r.between(0.5, 1).toFixed(2)),
  }),
  apply({ org, random, period, out, entities }, p) {
    const night = (p.onAttackNight ? period.attackDay : period.attackDay - DAY) + p.startHour * HOUR;
    const wsusIp = "10.0.2.12";
    const cdn = publicIp(random);
    entities.add("svc_patch").add(wsusIp);
    const hosts = [...org.servers, ...org.dcs, ...org.workstations.filter(() => random.chance(p.workstationCoverage))];
    for (const host of hosts) {
      const t = night + random.int(0, 2 * HOUR);
      out.SecurityEvent.push(
        logon(t, host, "svc_patch", 3, wsusIp, true, { AuthenticationPackageName: "Kerberos", LogonProcessName: "Kerberos" }),
      );
      out.SecurityEvent.push(
        specialPrivileges(t, host, "svc_patch", "SeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege"),
      );
      out.DeviceNetworkEvents.push(connection(t + MINUTE, host, "TiWorker.exe", cdn, 80, "tlu.dl.delivery.mp.microsoft.com", "system"));
      entities.add(connectionKey(host, "TiWorker.exe", cdn, 80).toLowerCase());
    }
  },
};

const TRAVEL = [
  { country: "DE", city: "Berlin", prefix: "87.123" },
  { country: "FR", city: "Paris", prefix: "90.84" },
  { country: "JP", city: "Tokyo", prefix: "126.72" },
  { country: "SG", city: "Singapore", prefix: "116.86" },
  { country: "BR", city: "Sao Paulo", prefix: "177.92" },
  { country: "IN", city: "Bengaluru", prefix: "49.207" },
  { country: "AE", city: "Dubai", prefix: "94.200" },
];

/** Cloud apps people sign in to away from their desk (travel, a forgotten password). */
const SIGNIN_APPS = ["Office 365 Exchange Online", "Microsoft Teams", "My Apps"];

/** Travellers sign in from hotels, airports and roaming phones, with MFA interrupts and a few failures. */
const travel: Phenomenon<{ share: number; maxTripDays: number }> = {
  describe: (p) =>
    `${(p.share * 100).toFixed(1)}% of users travelling in the last ${p.maxTripDays} day(s): new countries and addresses, MFA interrupts, a few failures`,
  draw: (r) => ({ share: Number(r.between(0.005, 0.02).toFixed(4)), maxTripDays: r.int(1, 4) }),
  apply({ org, random, period, out, entities }, p) {
    const travellers = random.sample(org.people, Math.max(1, Math.round(org.people.length * p.share)));
    for (const person of travellers) {
      entities.add(person.upn.toLowerCase());
      const place = random.pick(TRAVEL);
      const ips = Array.from({ length: random.int(2, 4) }, () => `${place.prefix}.${random.int(0, 255)}.${random.int(1, 254)}`);
      const traveller = { upn: person.upn, city: place.city };
      for (let day = period.attackDay - random.int(0, p.maxTripDays - 1) * DAY; day < period.end; day += DAY) {
        for (let k = random.int(3, 7); k > 0; k--) {
          const t = day + random.int(0, 23) * HOUR + random.int(0, 59) * MINUTE;
          const ip = random.pick(ips);
          const interrupt = random.weighted([
            ["50076", 4],
            ["50140", 3],
            ["50074", 2],
            ["50126", 1],
            ["53003", 1],
            ["", 5],
          ] as const);
          if (interrupt) out.SigninLogs.push(signin(t - MINUTE, traveller, ip, random.pick(SIGNIN_APPS), interrupt, place.country));
          out.SigninLogs.push(signin(t, traveller, ip, random.pick(SIGNIN_APPS), "0", place.country));
        }
      }
    }
  },
};

const PROBE_ACCOUNTS = ["guest", "administrator", "admin", "root", "test", "user", "default", "nessus"];

/** Vulnerability scanners: each night an authenticated scan of part of the fleet, unauthenticated probes, and the scanner's own connections to every target. */
const scanners: Phenomenon<{ scanners: number; coverage: number; probes: number; ports: number; hour: number }> = {
  describe: (p) =>
    `${p.scanners} vulnerability scanner(s) scanning ${Math.round(p.coverage * 100)}% of devices each night at ${p.hour}:00 with ${p.probes} probe account(s) on ${p.ports} port(s)`,
  draw: (r) => ({
    scanners: r.int(1, 2),
    coverage: Number(r.between(0.3, 1).toFixed(2)),
    probes: r.int(3, 8),
    ports: r.int(1, 3),
    hour: r.int(0, 4),
  }),
  apply({ org, random, period, out, entities }, p) {
    const hosts: Host[] = Array.from({ length: p.scanners }, (_, i) => ({
      name: `SCAN-0${i + 1}.contoso.local`,
      ip: `10.0.5.${10 + i}`,
      deviceId: `scan0${i + 1}-device`,
    }));
    const probes = PROBE_ACCOUNTS.slice(0, p.probes);
    const ports = [445, 135, 3389].slice(0, p.ports);
    for (const h of hosts) entities.add(h.ip).add(h.name.toLowerCase());
    entities.add("svc_scan");
    for (const probe of probes) entities.add(probe);
    for (const day of days(period)) {
      hosts.forEach((scanner, i) => {
        for (const target of org.devices) {
          if (!random.chance(p.coverage / p.scanners)) continue;
          const t = day + p.hour * HOUR + random.int(0, 3 * HOUR);
          out.SecurityEvent.push(logon(t, target, "svc_scan", 3, scanner.ip, true));
          for (const [k, probe] of probes.entries())
            out.SecurityEvent.push(
              logon(t + (k + 1) * 1000, target, probe, 3, scanner.ip, false, {
                SubStatus: probe === "guest" || probe === "administrator" ? NTSTATUS.badPassword : NTSTATUS.noSuchUser,
                WorkstationName: `SCAN-0${i + 1}`,
              }),
            );
          for (const port of ports) out.DeviceNetworkEvents.push(connection(t, scanner, "nessusd.exe", target.ip, port, "", "system"));
        }
      });
    }
  },
};

/** Browsing: popular sites most days, and now and then a site no other device has visited. */
const browsingLongTail: Phenomenon<{ popularSites: number; tailVisitsPerDeviceDay: number }> = {
  describe: (p) =>
    `browsing over ${p.popularSites} popular sites, and ${p.tailVisitsPerDeviceDay} visits per device and day to a site nobody else visits`,
  draw: (r) => ({ popularSites: r.int(60, 150), tailVisitsPerDeviceDay: Number(r.between(0.05, 0.3).toFixed(2)) }),
  apply({ org, random, period, out, entities }, p) {
    const sites = Array.from({ length: p.popularSites }, (_, i) => ({
      ip: publicIp(random),
      url: `site${i + 1}.example.com`,
      weight: 1 / (i + 1),
    }));
    const weighted = sites.map((s) => [s, s.weight] as const);
    for (const day of days(period).filter(isWeekday)) {
      for (const [i, host] of org.workstations.entries()) {
        const browser = i % 3 === 0 ? "chrome.exe" : "msedge.exe";
        if (day === period.attackDay) entities.add(`${host.name.toLowerCase()}|${browser}`);
        for (let k = random.int(3, 8); k > 0; k--) {
          const site = random.weighted(weighted);
          out.DeviceNetworkEvents.push(connection(day + random.int(8 * 60, 18 * 60) * MINUTE, host, browser, site.ip, 443, site.url));
        }
        if (random.chance(p.tailVisitsPerDeviceDay))
          out.DeviceNetworkEvents.push(
            connection(
              day + random.int(8 * 60, 18 * 60) * MINUTE,
              host,
              browser,
              publicIp(random),
              443,
              `rare-${random.int(1, 1e6)}.example.net`,
            ),
          );
      }
    }
  },
};

/**
 * Forgotten and expired passwords: a user locks themselves out and the helpdesk resets the password;
 * users change an expiring password, and now and then a phone keeps trying the old one all day.
 */
const passwordTrouble: Phenomenon<{ lockoutsPerDay: number; changesPerDay: number; stalePhoneShare: number }> = {
  describe: (p) =>
    `${p.lockoutsPerDay} forgotten password(s) a weekday (failures, a lockout, a helpdesk reset) and ${p.changesPerDay} password change(s), ${(p.stalePhoneShare * 100).toFixed(0)}% of them with a phone still trying the old password`,
  draw: (r) => ({ lockoutsPerDay: r.int(1, 4), changesPerDay: r.int(3, 10), stalePhoneShare: Number(r.between(0.05, 0.25).toFixed(2)) }),
  apply({ org, random, period, out, entities }, p) {
    const helpdesk = org.people.find((x) => x.admin)?.upn ?? `helpdesk@${UPN_SUFFIX}`;
    const addressOf = (person: Person) => (person.remote && person.homeIp ? person.homeIp : random.pick(OFFICE_EGRESS));
    for (const day of days(period).filter(isWeekday)) {
      for (const person of random.sample(org.people, p.lockoutsPerDay)) {
        entities.add(person.upn.toLowerCase());
        const ip = addressOf(person);
        let t = day + random.int(8, 15) * HOUR + random.int(0, 59) * MINUTE;
        const app = random.pick(SIGNIN_APPS);
        for (let k = random.int(5, 12); k > 0; k--) out.SigninLogs.push(signin((t += random.int(20, 90) * 1000), person, ip, app, "50126"));
        out.SigninLogs.push(signin((t += MINUTE), person, ip, app, "50053"));
        out.AuditLogs.push(audit((t += random.int(10, 50) * MINUTE), "UserManagement", "Reset user password", helpdesk, person.upn));
        out.SigninLogs.push(signin(t + random.int(2, 10) * MINUTE, person, ip, app, "0"));
      }
      for (const person of random.sample(org.people, p.changesPerDay)) {
        const ip = addressOf(person);
        let t = day + random.int(8, 17) * HOUR + random.int(0, 59) * MINUTE;
        out.AuditLogs.push(audit(t, "UserManagement", "Change user password", person.upn, person.upn));
        if (!random.chance(p.stalePhoneShare)) continue;
        entities.add(person.upn.toLowerCase());
        for (t += 20 * MINUTE; t < day + DAY; t += random.int(15, 40) * MINUTE)
          out.SigninLogs.push(signin(t, person, ip, "Office 365 Exchange Online", random.pick(["50126", "50133"])));
      }
    }
  },
};

const ALL: Record<PhenomenonName, Phenomenon<PhenomenonParameters>> = {
  "fleet-rollout": fleetRollout,
  "heavy-admins": heavyAdmins,
  "service-accounts": serviceAccounts,
  "misconfigured-devices": misconfiguredDevices,
  "new-hires": newHires,
  "patch-night": patchNight,
  travel: travel,
  scanners: scanners,
  "browsing-long-tail": browsingLongTail,
  "password-trouble": passwordTrouble,
};

/** Adds every phenomenon `options` leaves in, each from its own stream, and labels them. */
export function applyPhenomena(org: Org, seed: number, period: Period, out: TableRecords, options: PhenomenaOptions): PhenomenonLabel[] {
  if (options === false) return [];
  const labels: PhenomenonLabel[] = [];
  for (const name of PHENOMENA) {
    const override = options[name];
    if (override === false) continue;
    const phenomenon = ALL[name];
    const random = SeededRandom.stream(seed, name);
    const parameters = { ...phenomenon.draw(random), ...override };
    const entities = new Set<string>();
    phenomenon.apply({ org, random, period, out, entities }, parameters);
    labels.push({ phenomenon: name, description: phenomenon.describe(parameters), parameters, entities: [...entities] });
  }
  return labels;
}

/** Whether a hunt's entity key is one a phenomenon may produce (an entity itself, or anything on a labelled device). */
export function producedBy(label: Pick<PhenomenonLabel, "entities">, entityKey: string): boolean {
  const key = entityKey.toLowerCase();
  const device = key.split(/[| ]/)[0];
  return (
    label.entities.includes(key) ||
    label.entities.includes(device) ||
    label.entities.some((e) => e.includes("|") && key.startsWith(`${e}|`))
  );
}
