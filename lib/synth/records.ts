/**
 * Record builders for the generators: one place that knows how Sentinel and Defender shape a
 * SecurityEvent, a SigninLogs row, an AuditLogs entry and a DeviceNetworkEvents connection.
 */
import { LOGON_TYPE_NAMES } from "../readers/windows-events.js";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export type TableRecords = Record<string, Record<string, unknown>[]>;

export interface Host {
  name: string;
  ip: string;
  deviceId: string;
}

export const DOMAIN = "CONTOSO";
export const UPN_SUFFIX = "contoso.com";

export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

/** Windows logon failure codes (Status / SubStatus of 4625) the generators use. */
export const NTSTATUS = {
  success: "0x0",
  logonFailure: "0xc000006d",
  badPassword: "0xc000006a",
  noSuchUser: "0xc0000064",
  lockedOut: "0xc0000234",
  disabled: "0xc0000072",
  passwordExpired: "0xc0000071",
  noLogonServers: "0xc000005e",
  logonTypeNotGranted: "0xc000015b",
} as const;

/** Entra ID sign-in result codes (ResultType) and their descriptions as SigninLogs gives them. */
export const ENTRA_RESULTS: Readonly<Record<string, string>> = {
  "0": "",
  "50126": "Error validating credentials due to invalid username or password.",
  "50053": "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
  "50055": "The password is expired.",
  "50057": "User account is disabled.",
  "50058": "Session information is not sufficient for single-sign-on.",
  "50074": "Strong Authentication is required.",
  "50076":
    "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication.",
  "50140": "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.",
  "500121": "Authentication failed during strong authentication request.",
  "53003": "Access has been blocked by Conditional Access policies.",
  "50072": "User needs to enroll for second factor authentication.",
};

/** SecurityEvent with the fields Sentinel derives (Account, AccountType, LogonTypeName). */
export function securityEvent(time: number, eventId: number, computer: string, fields: Record<string, unknown>): Record<string, unknown> {
  const text = (value: unknown, fallback = "") => (typeof value === "string" ? value : fallback);
  const targetUser = text(fields.TargetUserName);
  const targetDomain = text(fields.TargetDomainName);
  const subjectUser = text(fields.SubjectUserName);
  const account = targetUser
    ? targetDomain
      ? `${targetDomain}\\${targetUser}`
      : targetUser
    : subjectUser
      ? `${text(fields.SubjectDomainName, DOMAIN)}\\${subjectUser}`
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

/** A 4624 (ok) or 4625 logon on `host`; a failure is a bad password unless `extra` says otherwise. */
export function logon(
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
    Status: ok ? NTSTATUS.success : NTSTATUS.logonFailure,
    SubStatus: ok ? NTSTATUS.success : NTSTATUS.badPassword,
    ...extra,
  });
}

/** The Kerberos events a domain controller logs around a network logon: a 4769 service ticket. */
export function serviceTicket(time: number, dc: Host, user: string, server: Host, clientIp: string) {
  return securityEvent(time, 4769, dc.name, {
    TargetUserName: `${user}@CONTOSO.LOCAL`,
    ServiceName: server.name.split(".")[0] + "$",
    IpAddress: `::ffff:${clientIp}`,
    Status: NTSTATUS.success,
    TicketEncryptionType: "0x12",
  });
}

/** 4672: special privileges assigned to a new logon (admins, LogonTracer's SYSTEM-privileged accounts). */
export function specialPrivileges(time: number, host: Host, user: string, privileges = "SeDebugPrivilege") {
  return securityEvent(time, 4672, host.name, { SubjectUserName: user, SubjectDomainName: DOMAIN, PrivilegeList: privileges });
}

export function signin(
  time: number,
  person: { upn: string; city: string },
  ip: string,
  app: string,
  resultType: string,
  country = "US",
  extra: Record<string, unknown> = {},
) {
  return {
    Type: "SigninLogs",
    TimeGenerated: isoAt(time),
    UserPrincipalName: person.upn,
    UserDisplayName: person.upn.split("@")[0],
    IPAddress: ip,
    AppDisplayName: app,
    ResultType: resultType,
    ResultDescription: ENTRA_RESULTS[resultType] ?? "Sign-in failed.",
    Location: country,
    LocationDetails: { city: person.city, countryOrRegion: country },
    ClientAppUsed: "Browser",
    IsInteractive: true,
    Status: { errorCode: Number(resultType) },
    ...extra,
  };
}

/** The office's internet egress addresses: its people's cloud sign-ins come from them. */
export const OFFICE_EGRESS = ["198.51.100.10", "198.51.100.11"];

export function audit(
  time: number,
  category: string,
  operation: string,
  actor: string,
  targetUpn: string,
  extra: Record<string, unknown> = {},
) {
  return {
    Type: "AuditLogs",
    TimeGenerated: isoAt(time),
    Category: category,
    OperationName: operation,
    ActivityDisplayName: operation,
    Result: "success",
    LoggedByService: "Core Directory",
    InitiatedBy: { user: { userPrincipalName: actor, ipAddress: OFFICE_EGRESS[0] } },
    TargetResources: [{ type: "User", userPrincipalName: targetUpn, displayName: targetUpn.split("@")[0], modifiedProperties: [] }],
    ...extra,
  };
}

export function connection(time: number, host: Host, process: string, remoteIp: string, remotePort: number, remoteUrl = "", account = "") {
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

/** The key rare-device-connections gives a connection: `device|process|remote ip|port`. */
export function connectionKey(host: Host, process: string, remoteIp: string, remotePort: number): string {
  return `${host.name.toLowerCase()}|${process}|${remoteIp}|${remotePort}`;
}
