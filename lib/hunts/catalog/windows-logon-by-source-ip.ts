import { defineHunt } from "../schema.js";
import { NOISY_LOGON_FAILURE_STATUSES } from "./logon-failure-noise.js";

export default defineHunt({
  id: "windows-logon-by-source-ip",
  title: "Windows network logon activity by source IP",
  description:
    "Network logons (type 3, events 4624 and 4625) summarised per source IP: many failures, few successes and many target accounts from one address is brute force or password spraying. Failure statuses that are noise rather than guessing (logon type not granted, no logon servers, clock skew, netlogon not started) are left out.",
  reference:
    "Elastic detection-rules hunt 'Windows Logon Activity by Source IP' (441fba85-47a9-4f1f-aab4-569bbfdc548b), rewritten in KQL for SecurityEvent",
  mitre: { tactics: ["Credential Access"], techniques: ["T1110", "T1110.001", "T1110.003"] },
  severity: "high",
  schedule: "0 5 * * * *",
  lookback: "1h",
  maxLookback: "1d",
  sources: ["local", "log-analytics"],
  tables: ["SecurityEvent"],
  entity: { type: "ip", columns: ["IpAddress"] },
  entityMappings: [
    { type: "ip", columns: ["IpAddress"] },
    { type: "account", columns: ["Users"] },
    { type: "host", columns: ["Hosts"] },
  ],
  features: [
    { column: "FailedCount", direction: "up" },
    { column: "UserCount", direction: "up" },
  ],
  distinct: [{ column: "Users", cap: 50 }],
  thresholds: {
    match: "all",
    conditions: [
      { column: "FailedCount", op: ">=", value: "FailedThreshold" },
      { column: "SuccessCount", op: "<=", value: "SuccessThreshold" },
      { column: "UserCount", op: ">=", value: "UserThreshold" },
    ],
  },
  parameters: {
    FailedThreshold: 100,
    SuccessThreshold: 10,
    UserThreshold: 20,
    NoisyStatuses: NOISY_LOGON_FAILURE_STATUSES,
  },
  query: `
SecurityEvent
| where TimeGenerated >= HuntStart and TimeGenerated < HuntEnd
| where EventID in (4624, 4625) and LogonType == 3
| where isnotempty(IpAddress) and IpAddress !in ("-", "::1", "127.0.0.1")
| where not(EventID == 4625 and (Status in~ (NoisyStatuses) or SubStatus in~ (NoisyStatuses)))
| summarize FailedCount = countif(EventID == 4625), SuccessCount = countif(EventID == 4624),
    UserCount = dcount(TargetUserName), Users = make_set(TargetUserName, 50), Hosts = make_set(Computer, 20),
    FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated)
    by IpAddress
| where FailedCount > 0
`,
});
