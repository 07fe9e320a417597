/**
 * KQL shared by the two LogonTracer hunts and the logon graph: who logged on where, from the
 * logon-related events. The queries expect `IgnoredAccounts` and their window (`HuntStart`,
 * `HuntEnd`, `ContextStart`) bound in front of them.
 */

/** Accounts that are the machine itself or well-known local principals, not people or services. */
export const IGNORED_ACCOUNTS = [
  "-",
  "anonymous logon",
  "system",
  "local service",
  "network service",
  "dwm-1",
  "dwm-2",
  "umfd-0",
  "umfd-1",
  "defaultaccount",
];

/**
 * Normalises the account (lower case, no @realm) and picks the host each event links it to:
 * the logon's target for 4624/4625, the client address for Kerberos tickets (4768/4769),
 * the workstation for NTLM validation (4776).
 */
export const LOGON_EDGES = `
| where EventID in (4624, 4625, 4768, 4769, 4776)
| extend Account = tolower(tostring(split(TargetUserName, "@")[0]))
| where isnotempty(Account) and not(Account endswith "$") and Account !in (IgnoredAccounts)
| extend Host = case(
    EventID in (4624, 4625), tolower(Computer),
    EventID in (4768, 4769), trim_start(@"::ffff:", IpAddress),
    tolower(Workstation))
| where isnotempty(Host) and Host != "-"`;

/** Accounts granted special privileges at logon (4672): LogonTracer's SYSTEM-privileged accounts. */
export const PRIVILEGED_ACCOUNTS = `
| where EventID == 4672
| summarize by Account = tolower(SubjectUserName)`;

/** Each account's logon-related events per hour from the context start: the ChangeFinder timelines' input. */
export const HOURLY_LOGONS = `
SecurityEvent
| where TimeGenerated >= ContextStart and TimeGenerated < HuntEnd
${LOGON_EDGES}
| summarize Count = count() by Account, Hour = bin(TimeGenerated, 1h)
`;
