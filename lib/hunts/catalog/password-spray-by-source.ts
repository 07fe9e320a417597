import { defineHunt } from "../schema.js";
import { NOISY_LOGON_FAILURE_STATUSES } from "./logon-failure-noise.js";

export default defineHunt({
  id: "password-spray-by-source",
  title: "Password spray: failed logons across many accounts from one source",
  description:
    "Failed logons (4625) grouped by their source: the remote address when there is one, otherwise the host and process that asked (a local spraying tool such as PurpleSharp). Many accounts with only a few attempts each is spraying, the low-and-slow guess of one common password, which per-account lockouts and per-IP volume thresholds both miss. Failure statuses that are configuration noise rather than guessing are left out, as in the source-IP hunt.",
  mitre: { tactics: ["Credential Access"], techniques: ["T1110.003"] },
  severity: "high",
  schedule: "0 10 * * * *",
  lookback: "1h",
  maxLookback: "1d",
  sources: ["local", "log-analytics"],
  tables: ["SecurityEvent"],
  entity: { type: "host", columns: ["Source"] },
  entityMappings: [
    { type: "ip", columns: ["Source"] },
    { type: "host", columns: ["Targets"] },
    { type: "account", columns: ["Accounts"] },
  ],
  features: [{ column: "FailedAccounts", direction: "up" }],
  distinct: [{ column: "Accounts", cap: 50 }],
  thresholds: {
    match: "all",
    conditions: [
      { column: "FailedAccounts", op: ">=", value: "SprayAccounts" },
      { column: "AttemptsPerAccount", op: "<=", value: "MaxAttemptsPerAccount" },
    ],
  },
  parameters: { SprayAccounts: 5, MaxAttemptsPerAccount: 3, NoisyStatuses: NOISY_LOGON_FAILURE_STATUSES },
  query: `
SecurityEvent
| where TimeGenerated >= HuntStart and TimeGenerated < HuntEnd
| where EventID == 4625
| where not(Status in~ (NoisyStatuses) or SubStatus in~ (NoisyStatuses))
| extend Source = iff(isnotempty(IpAddress) and IpAddress !in ("-", "::1", "127.0.0.1"), IpAddress, strcat(tolower(Computer), " ", ProcessName))
| summarize Failures = count(), FailedAccounts = dcount(TargetUserName), BadPasswords = countif(SubStatus =~ "0xc000006a"),
    Accounts = make_set(TargetUserName, 50), LogonTypes = make_set(LogonType), Targets = make_set(Computer, 20),
    FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated)
    by Source
| where FailedAccounts >= 2
| extend AttemptsPerAccount = round(todouble(Failures) / FailedAccounts, 2)
`,
});
