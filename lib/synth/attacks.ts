/**
 * The realistic profile's further attacks, injected on the last day beside the small profile's
 * five: each returns its ground truth, one label per hunt expected to surface it.
 */
import type { Org, ScenarioLabel } from "./org.js";
import type { SeededRandom } from "./random.js";
import {
  audit,
  connection,
  connectionKey,
  HOUR,
  isoAt,
  logon,
  MINUTE,
  NTSTATUS,
  securityEvent,
  signin,
  specialPrivileges,
  type TableRecords,
} from "./records.js";

export const REALISTIC_SCENARIOS = [
  "mfa-fatigue",
  "service-account-lateral",
  "c2-beacon",
  "powershell-unusual-port",
  "local-spray-tool",
] as const;
export type RealisticScenario = (typeof REALISTIC_SCENARIOS)[number];

/** Office people no small-profile scenario uses (those take the first 60, the 4th, the 8th and the last). */
function bystander(org: Org, random: SeededRandom) {
  const office = org.office;
  return office[random.int(Math.min(60, office.length - 2), office.length - 2)];
}

export function injectRealisticScenario(
  name: RealisticScenario,
  org: Org,
  random: SeededRandom,
  dayStart: number,
  out: TableRecords,
): ScenarioLabel | ScenarioLabel[] {
  switch (name) {
    case "mfa-fatigue": {
      // The password is known: push after push until the user accepts, then the attacker registers its own authenticator.
      const victim = bystander(org, random);
      const ip = "45.142.212.61";
      const start = dayStart + random.int(1, 5) * HOUR;
      let t = start;
      const pushes = random.int(12, 25);
      for (let i = 0; i < pushes; i++) {
        t += random.int(1, 3) * MINUTE;
        out.SigninLogs.push(
          signin(
            t,
            { upn: victim.upn, city: "Amsterdam" },
            ip,
            "Office 365 Exchange Online",
            random.pick(["500121", "500121", "50074"]),
            "NL",
          ),
        );
      }
      out.SigninLogs.push(signin((t += MINUTE), { upn: victim.upn, city: "Amsterdam" }, ip, "Office 365 Exchange Online", "0", "NL"));
      out.AuditLogs.push(
        audit((t += 4 * MINUTE), "UserManagement", "User registered security info", victim.upn, victim.upn, {
          LoggedByService: "Authentication Methods",
        }),
      );
      out.AuditLogs.push(audit((t += 2 * MINUTE), "UserManagement", "Update user", victim.upn, victim.upn));
      return {
        scenario: name,
        hunt: "failed-signins-with-audit",
        entityType: "account",
        entity: victim.upn,
        start: isoAt(start),
        end: isoAt(t),
        description: `${pushes} MFA pushes denied from ${ip}, then accepted; the attacker registers its own authenticator`,
        related: [ip],
      };
    }
    case "service-account-lateral": {
      // A service account's password, dumped from a workstation, used at night across workstations.
      const account = org.serviceAccounts[0];
      const source = bystander(org, random).workstation;
      const targets = random.sample(
        org.workstations.filter((h) => h !== source),
        random.int(22, 30),
      );
      const start = dayStart + random.int(1, 3) * HOUR + random.int(0, 30) * MINUTE;
      let t = start;
      for (const host of targets) {
        t += random.int(40, 120) * 1000;
        out.SecurityEvent.push(
          securityEvent(t - 500, 4776, org.dcs[0].name, {
            TargetUserName: account,
            Workstation: source.name.split(".")[0],
            Status: NTSTATUS.success,
          }),
        );
        out.SecurityEvent.push(logon(t, host, account, 3, source.ip, true));
        out.SecurityEvent.push(specialPrivileges(t, host, account, "SeDebugPrivilege\n\t\t\tSeImpersonatePrivilege"));
      }
      const label = {
        scenario: name,
        entityType: "account" as const,
        entity: account,
        start: isoAt(start),
        end: isoAt(t),
        description: `${account} (normally on one server) logs on over NTLM from ${source.name} to ${targets.length} workstations at night`,
        related: [source.name.toLowerCase(), source.ip, ...targets.map((h) => h.name.toLowerCase())],
      };
      return [
        { ...label, hunt: "logon-graph-rank" },
        { ...label, hunt: "logon-changepoint" },
      ];
    }
    case "c2-beacon": {
      const host = bystander(org, random).workstation;
      const remote = "192.0.2.44";
      const start = dayStart + 9 * HOUR + random.int(0, 90) * MINUTE;
      const stop = start + random.int(6, 10) * HOUR;
      let t = start;
      let n = 0;
      for (; t < stop; t += 5 * MINUTE + random.int(-30, 30) * 1000, n++)
        out.DeviceNetworkEvents.push(connection(t, host, "rundll32.exe", remote, 443, "", "system"));
      return {
        scenario: name,
        hunt: "rare-device-connections",
        entityType: "device-connection",
        entity: connectionKey(host, "rundll32.exe", remote, 443),
        start: isoAt(start),
        end: isoAt(t),
        description: `rundll32.exe on ${host.name} beacons to ${remote}:443 every ~5 minutes (${n} connections)`,
      };
    }
    case "powershell-unusual-port": {
      const person = bystander(org, random);
      const remote = "203.0.113.150";
      const start = dayStart + random.int(13, 16) * HOUR + random.int(0, 59) * MINUTE;
      const n = random.int(4, 10);
      for (let i = 0; i < n; i++)
        out.DeviceNetworkEvents.push(
          connection(start + i * random.int(60, 240) * 1000, person.workstation, "powershell.exe", remote, 8443, "", person.sam),
        );
      return {
        scenario: name,
        hunt: "rare-device-connections",
        entityType: "device-connection",
        entity: connectionKey(person.workstation, "powershell.exe", remote, 8443),
        start: isoAt(start),
        end: isoAt(start + n * 240_000),
        description: `powershell.exe on ${person.workstation.name} holds a session to ${remote}:8443, a port nothing else uses`,
      };
    }
    case "local-spray-tool": {
      // A spraying tool run on a workstation: local LogonUser calls, one guess per account.
      const person = bystander(org, random);
      const host = person.workstation;
      const tool = `C:\\Users\\${person.sam}\\AppData\\Local\\Temp\\svchelper.exe`;
      const victims = random.sample(org.people, random.int(30, 60));
      const start = dayStart + random.int(10, 16) * HOUR;
      let t = start;
      for (const victim of victims) {
        t += random.int(5, 40) * 1000;
        out.SecurityEvent.push(
          logon(t, host, victim.sam, 2, "127.0.0.1", false, {
            ProcessName: tool,
            LogonProcessName: "Advapi  ",
            SubStatus: random.chance(0.1) ? NTSTATUS.noSuchUser : NTSTATUS.badPassword,
          }),
        );
      }
      return {
        scenario: name,
        hunt: "password-spray-by-source",
        entityType: "host",
        entity: `${host.name.toLowerCase()} ${tool}`,
        start: isoAt(start),
        end: isoAt(t),
        description: `a spraying tool on ${host.name} tries one password on ${victims.length} accounts through LogonUser`,
        related: victims.map((v) => v.sam),
      };
    }
  }
}
