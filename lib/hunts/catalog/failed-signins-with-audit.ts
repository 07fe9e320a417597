import { defineHunt } from "../schema.js";

export default defineHunt({
  id: "failed-signins-with-audit",
  title: "Failed Entra sign-ins by account, with the account's recent directory changes",
  description:
    "Accounts that failed to sign in many times, or from several IP addresses, in the window (Windows Sign In noise excluded), joined with AuditLogs user and group management changes to the same account over the past seven windows. Failures alone are everyday noise (travel, a phone with an old password, a new hire); failures (FailureRatio >= 1: at least FailLimit failures or IpLimit addresses) together with a change to the account or its groups suggest a takeover being put to use. A forgotten or expired password (password failures from at most two addresses, and only password changes or admin resets) goes to the digest.",
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
  // A forgotten or expired password: wrong-password, expired or locked-out failures from at most two
  // addresses, and the account's only changes are password changes or resets by an admin (a helpdesk
  // reset after a lockout, a phone still trying the old password after a change). A takeover put to use
  // changes more (security info, groups, roles) or fails otherwise (MFA, many addresses); a self-service
  // reset, which a swapped SIM can pass, is not counted as one.
  expected: [
    {
      column: "NewAccount",
      op: "==",
      value: 1,
      reason: "the account was created in the audit period; first-day sign-in trouble and onboarding changes are expected of a new account",
    },
    {
      column: "ForgottenPassword",
      op: "==",
      value: 1,
      reason:
        "password failures from at most 2 addresses, and the account's only changes are password changes or admin resets: how a forgotten or expired password ends",
    },
  ],
  parameters: {
    FailLimit: 10,
    IpLimit: 3,
    MinAuditChanges: 1,
    // Entra sign-in errors of a wrong, expired or recently changed password, and the lockout they lead to.
    PasswordFailureCodes: ["50126", "50053", "50055", "50133", "50144"],
    // Password changes by the user, and resets by an admin (Entra audit operation names).
    PasswordChangeOperations: [
      "Change user password",
      "Change password (self-service)",
      "Reset user password",
      "Reset password (by admin)",
      "Set force change user password",
    ],
  },
  query: `
let Failures = SigninLogs
| where TimeGenerated >= HuntStart and TimeGenerated < HuntEnd
| where ResultType != "0" and AppDisplayName != "Windows Sign In"
| summarize FailedCount = count(), IpCount = dcount(IPAddress), IPs = make_set(IPAddress, 50),
    OtherThanPasswordFailures = countif(ResultType !in (PasswordFailureCodes)),
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
    Created = countif(OperationName == "Add user"), PasswordChanges = countif(OperationName in~ (PasswordChangeOperations))
    by TargetUpn;
Failures
| extend UpnKey = tolower(UserPrincipalName)
| join kind=leftouter (Changes) on $left.UpnKey == $right.TargetUpn
| extend AuditChanges = coalesce(AuditChanges, 0), NewAccount = iff(coalesce(Created, 0) > 0, 1, 0)
| extend ForgottenPassword = iff(AuditChanges > 0 and coalesce(PasswordChanges, 0) == AuditChanges
    and OtherThanPasswordFailures == 0 and IpCount <= 2, 1, 0)
// 1 or more: failed at least FailLimit times, or from at least IpLimit addresses.
| extend FailureRatio = round(max_of(todouble(FailedCount) / FailLimit, todouble(IpCount) / IpLimit), 2)
| project-away UpnKey, TargetUpn, Created, PasswordChanges, OtherThanPasswordFailures
`,
});
