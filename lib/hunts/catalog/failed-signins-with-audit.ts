import { defineHunt } from "../schema.js";

export default defineHunt({
  id: "failed-signins-with-audit",
  title: "Failed Entra sign-ins by account, with the account's recent directory changes",
  description:
    "Accounts that failed to sign in many times, or from several IP addresses, in the window (Windows Sign In noise excluded), joined with AuditLogs user and group management changes to the same account over the past seven windows. Failures alone are everyday noise (travel, a phone with an old password, a new hire); failures (FailureRatio >= 1: at least FailLimit failures or IpLimit addresses) together with a change to the account or its groups suggest a takeover being put to use. When the only changes are password resets or changes (a forgotten or expired password), the finding goes to the digest.",
  reference:
    "Microsoft Sentinel hunting query 'Failed service logon attempt by user account with available AuditData' (22f33a4c-e60f-4817-bbfe-9e2ed33cb596), rewritten",
  mitre: { tactics: ["Credential Access", "Initial Access", "Persistence"], techniques: ["T1110", "T1078.004", "T1098"] },
  severity: "medium",
  schedule: "0 15 6 * * *",
  lookback: "1d",
  context: "7d",
  maxLookback: "7d",
  sources: ["local", "log-analytics"],
  tables: ["SigninLogs", "AuditLogs"],
  entity: { type: "account", columns: ["UserPrincipalName"] },
  entityMappings: [
    { type: "account", columns: ["UserPrincipalName"] },
    { type: "ip", columns: ["IPs"] },
  ],
  activity: { first: ["FirstFailure"], last: ["LastFailure"] },
  features: [
    { column: "FailedCount", direction: "up" },
    { column: "IpCount", direction: "up" },
  ],
  distinct: [
    { column: "IPs", cap: 50 },
    { column: "Cities", cap: 20 },
  ],
  // Failures alone are everyday noise (travel, a phone with an old password, a new hire): the
  // takeover signal is failing sign-ins and a change to the same account or its groups.
  thresholds: {
    match: "all",
    conditions: [
      { column: "FailureRatio", op: ">=", value: 1 },
      { column: "AuditChanges", op: ">=", value: "MinAuditChanges" },
    ],
  },
  // A new account's first days: mistyped temporary passwords, MFA enrolment, changes by whoever created it.
  // Failures around a password reset or change, and nothing else changed: a forgotten or expired password
  // (a helpdesk reset after a lockout, a phone still trying the old one). A takeover put to use changes more:
  // security info, groups, roles.
  expected: [
    {
      column: "NewAccount",
      op: "==",
      value: 1,
      reason: "the account was created in the audit period; first-day sign-in trouble and onboarding changes are expected of a new account",
    },
    {
      column: "PasswordChangesOnly",
      op: "==",
      value: 1,
      reason: "the account's only changes are password resets or changes, how a forgotten or expired password ends",
    },
  ],
  parameters: { FailLimit: 10, IpLimit: 3, MinAuditChanges: 1 },
  query: `
let Failures = SigninLogs
| where TimeGenerated >= HuntStart and TimeGenerated < HuntEnd
| where ResultType != "0" and AppDisplayName != "Windows Sign In"
| summarize FailedCount = count(), IpCount = dcount(IPAddress), IPs = make_set(IPAddress, 50),
    Results = make_set(ResultType, 20), Apps = make_set(AppDisplayName, 20), Cities = make_set(tostring(LocationDetails.city), 20),
    FirstFailure = min(TimeGenerated), LastFailure = max(TimeGenerated)
    by UserPrincipalName;
// Audit data over the context (seven windows): changes to the same account or its groups.
let Changes = AuditLogs
| where TimeGenerated >= ContextStart and TimeGenerated < HuntEnd
| where Category in ("UserManagement", "GroupManagement")
| mv-expand Target = TargetResources
| extend TargetUpn = tolower(tostring(Target.userPrincipalName))
| where isnotempty(TargetUpn)
| summarize AuditChanges = count(), AuditOperations = make_set(OperationName, 20),
    ChangedBy = make_set(tostring(InitiatedBy.user.userPrincipalName), 10), LastChange = max(TimeGenerated),
    Created = countif(OperationName == "Add user"), PasswordChanges = countif(OperationName has "password")
    by TargetUpn;
Failures
| extend UpnKey = tolower(UserPrincipalName)
| join kind=leftouter (Changes) on $left.UpnKey == $right.TargetUpn
| extend AuditChanges = coalesce(AuditChanges, 0), NewAccount = iff(coalesce(Created, 0) > 0, 1, 0)
| extend PasswordChangesOnly = iff(AuditChanges > 0 and coalesce(PasswordChanges, 0) == AuditChanges, 1, 0)
// 1 or more: failed at least FailLimit times, or from at least IpLimit addresses.
| extend FailureRatio = round(max_of(todouble(FailedCount) / FailLimit, todouble(IpCount) / IpLimit), 2)
| project-away UpnKey, TargetUpn, Created, PasswordChanges
`,
});
