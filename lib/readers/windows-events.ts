/**
 * Windows Security events as Sentinel's SecurityEvent rows. The EVTX, NXLog and Winlogbeat
 * readers all reduce an event to `WindowsEvent` first, so the mapping lives only here.
 */

/** Logon types as the 4624 documentation names them. */
export const LOGON_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "System",
  2: "Interactive",
  3: "Network",
  4: "Batch",
  5: "Service",
  7: "Unlock",
  8: "NetworkCleartext",
  9: "NewCredentials",
  10: "RemoteInteractive",
  11: "CachedInteractive",
  12: "CachedRemoteInteractive",
  13: "CachedUnlock",
};

/** Sentinel's `Activity` text for the event IDs the hunts read (the event's documented title). */
export const EVENT_TITLES: Readonly<Record<number, string>> = {
  1102: "The audit log was cleared.",
  4624: "An account was successfully logged on.",
  4625: "An account failed to log on.",
  4634: "An account was logged off.",
  4647: "User initiated logoff.",
  4648: "A logon was attempted using explicit credentials.",
  4672: "Special privileges assigned to new logon.",
  4688: "A new process has been created.",
  4720: "A user account was created.",
  4728: "A member was added to a security-enabled global group.",
  4732: "A member was added to a security-enabled local group.",
  4768: "A Kerberos authentication ticket (TGT) was requested.",
  4769: "A Kerberos service ticket was requested.",
  4771: "Kerberos pre-authentication failed.",
  4776: "The computer attempted to validate the credentials for an account.",
};

export interface WindowsEvent {
  eventId: number;
  /** Milliseconds since the Unix epoch, UTC. */
  time: number;
  computer: string;
  channel: string;
  provider: string;
  task: number | null;
  level: string;
  /** EventData by name; null for an empty value. */
  data: Record<string, string | number | null | undefined>;
}

function text(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function joinAccount(domain: string, user: string): string {
  if (!user) return "";
  return domain ? `${domain}\\${user}` : user;
}

/** A SecurityEvent record (column name -> raw value), ready for the table builder. */
export function securityEventRecord(event: WindowsEvent): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(event.data)) record[name] = value === null || value === undefined ? "" : value;
  const targetUser = text(event.data.TargetUserName);
  const subjectUser = text(event.data.SubjectUserName);
  const target = joinAccount(text(event.data.TargetDomainName), targetUser);
  const subject = joinAccount(text(event.data.SubjectDomainName), subjectUser);
  // Sentinel's Account is the account the event is about: the target where there is one.
  const account = target && targetUser !== "-" ? target : subject;
  const logonType =
    event.data.LogonType === undefined || event.data.LogonType === null || event.data.LogonType === ""
      ? null
      : Number(event.data.LogonType);
  const title = EVENT_TITLES[event.eventId];
  // The named EventData fields are columns already; Sentinel's EventData blob is left out.
  record.TimeGenerated = event.time;
  record.Computer = event.computer;
  record.EventID = event.eventId;
  record.Channel = event.channel;
  record.EventSourceName = event.provider;
  record.Task = event.task;
  record.Level = event.level;
  record.Activity = title ? `${event.eventId} - ${title}` : String(event.eventId);
  record.Account = account;
  record.AccountType = account.endsWith("$") ? "Machine" : account ? "User" : "";
  record.TargetAccount = target;
  record.SubjectAccount = subject;
  record.LogonType = logonType;
  record.LogonTypeName = logonType === null ? "" : `${logonType} - ${LOGON_TYPE_NAMES[logonType] ?? "Unknown"}`;
  record.Type = "SecurityEvent";
  return record;
}

/** Events from other channels (Sysmon, Application, ...) go to Sentinel's `Event` table. */
export function eventRecord(event: WindowsEvent): Record<string, unknown> {
  return {
    TimeGenerated: event.time,
    Source: event.provider,
    EventLog: event.channel,
    Computer: event.computer,
    EventID: event.eventId,
    EventLevelName: event.level,
    EventData: JSON.stringify(event.data),
    Type: "Event",
  };
}

/** The table and record a Windows event becomes. */
export function windowsEventRow(event: WindowsEvent): { table: string; record: Record<string, unknown> } {
  return event.channel.toLowerCase() === "security"
    ? { table: "SecurityEvent", record: securityEventRecord(event) }
    : { table: "Event", record: eventRecord(event) };
}
