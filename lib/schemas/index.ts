/**
 * Column schemas of the Log Analytics / Defender tables the hunts read. One source of truth for
 * the local engine (typed columns), the readers (what a row must look like) and validation
 * (the official parser checks hunts against these, so a typo fails in tests, not in production).
 *
 * Column lists follow the Azure Monitor table reference; types are Kusto's.
 */
import type { Column, KqlType } from "../kql/types.js";
import published from "./sentinel-tables.json" with { type: "json" };
import { expandColumns } from "./custom-tables.js";

type SchemaSpec = Record<string, KqlType>;

function columns(spec: SchemaSpec): Column[] {
  return Object.entries(spec).map(([name, type]) => ({ name, type }));
}

/** Every column not listed with another type in SecurityEvent is a string. */
function strings(names: string): SchemaSpec {
  return Object.fromEntries(
    names
      .split(/\s+/)
      .filter(Boolean)
      .map((name) => [name, "string" as const]),
  );
}

const initiatingProcess: SchemaSpec = {
  InitiatingProcessSHA1: "string",
  InitiatingProcessSHA256: "string",
  InitiatingProcessMD5: "string",
  InitiatingProcessFileName: "string",
  InitiatingProcessFileSize: "long",
  InitiatingProcessVersionInfoCompanyName: "string",
  InitiatingProcessVersionInfoProductName: "string",
  InitiatingProcessVersionInfoProductVersion: "string",
  InitiatingProcessVersionInfoInternalFileName: "string",
  InitiatingProcessVersionInfoOriginalFileName: "string",
  InitiatingProcessVersionInfoFileDescription: "string",
  InitiatingProcessId: "long",
  InitiatingProcessCommandLine: "string",
  InitiatingProcessCreationTime: "datetime",
  InitiatingProcessFolderPath: "string",
  InitiatingProcessParentFileName: "string",
  InitiatingProcessParentId: "long",
  InitiatingProcessParentCreationTime: "datetime",
  InitiatingProcessAccountDomain: "string",
  InitiatingProcessAccountName: "string",
  InitiatingProcessAccountSid: "string",
  InitiatingProcessAccountUpn: "string",
  InitiatingProcessAccountObjectId: "string",
  InitiatingProcessIntegrityLevel: "string",
  InitiatingProcessTokenElevation: "string",
};

/** Columns every Defender device table starts with. */
const deviceEventHead: SchemaSpec = {
  TenantId: "string",
  TimeGenerated: "datetime",
  Timestamp: "datetime",
  DeviceId: "string",
  DeviceName: "string",
  ActionType: "string",
};

/** Columns every Defender device table ends with. */
const deviceEventTail: SchemaSpec = {
  ...initiatingProcess,
  ReportId: "long",
  AppGuardContainerId: "string",
  AdditionalFields: "dynamic",
  MachineGroup: "string",
  SourceSystem: "string",
  Type: "string",
};

const azureDiagnosticsCommon: SchemaSpec = {
  TenantId: "string",
  SourceSystem: "string",
  TimeGenerated: "datetime",
  ResourceId: "string",
  OperationName: "string",
  OperationVersion: "string",
  Category: "string",
  ResultType: "string",
  ResultSignature: "string",
  ResultDescription: "string",
  DurationMs: "long",
  CorrelationId: "string",
  Resource: "string",
  ResourceGroup: "string",
  ResourceProvider: "string",
  Identity: "string",
  Level: "string",
  Location: "string",
};

const HAND_WRITTEN: Readonly<Record<string, readonly Column[]>> = {
  SecurityEvent: columns({
    TenantId: "string",
    TimeGenerated: "datetime",
    SourceSystem: "string",
    Account: "string",
    AccountType: "string",
    Computer: "string",
    EventSourceName: "string",
    Channel: "string",
    Task: "int",
    Level: "string",
    EventData: "string",
    EventID: "int",
    Activity: "string",
    SourceComputerId: "string",
    EventOriginId: "string",
    MG: "string",
    TimeCollected: "datetime",
    ManagementGroupName: "string",
    ...strings(`AccessList AccessMask AccessReason AccountDomain AccountExpires AccountName AccountSessionIdentifier
      AdditionalInfo AdditionalInfo2 AllowedToDelegateTo Attributes AuditPolicyChanges AuditsDiscarded AuthenticationLevel
      AuthenticationPackageName AuthenticationProvider AuthenticationServer AuthenticationService AuthenticationType
      CACertificateHash CalledStationID CallerProcessId CallerProcessName CallingStationID CAPublicKeyHash CategoryId
      CertificateDatabaseHash ClassId ClassName ClientAddress ClientIPAddress ClientName CommandLine CompatibleIds DCDNSName
      DeviceDescription DeviceId DisplayName Disposition DomainBehaviorVersion DomainName DomainPolicyChanged DomainSid EAPType
      ElevatedToken ErrorCode ExtendedQuarantineState FailureReason FileHash FilePath FilePathNoUser Filter ForceLogoff Fqbn
      FullyQualifiedSubjectMachineName FullyQualifiedSubjectUserName GroupMembership HandleId HardwareIds HomeDirectory HomePath
      ImpersonationLevel IpAddress IpPort KeyLength LmPackageName LocationInformation LockoutDuration LockoutObservationWindow
      LockoutThreshold LoggingResult LogonHours LogonID LogonProcessName`),
    LogonType: "int",
    ...strings(`LogonTypeName MachineAccountQuota MachineInventory MachineLogon MandatoryLabel MaxPasswordAge MemberName
      MemberSid MinPasswordAge MinPasswordLength MixedDomainMode NASIdentifier NASIPv4Address NASIPv6Address NASPort NASPortType
      NetworkPolicyName NewDate NewMaxUsers NewProcessId NewProcessName NewRemark NewShareFlags NewTime NewUacValue NewValue
      NewValueType ObjectName ObjectServer ObjectType ObjectValueName OemInformation OldMaxUsers OldRemark OldShareFlags
      OldUacValue OldValue OldValueType OperationType PackageName ParentProcessName PasswordHistoryLength PasswordLastSet
      PasswordProperties PreviousDate PreviousTime PrimaryGroupId PrivateKeyUsageCount PrivilegeList Process ProcessId
      ProcessName Properties ProfilePath ProtocolSequence ProxyPolicyName QuarantineHelpURL QuarantineSessionID
      QuarantineSessionIdentifier QuarantineState QuarantineSystemHealthResult RelativeTargetName RemoteIpAddress RemotePort
      Requester RequestId RestrictedAdminMode RowsDeleted SamAccountName ScriptPath SecurityDescriptor ServiceAccount
      ServiceFileName ServiceName ServiceStartType ServiceType SessionName ShareLocalPath ShareName SidHistory Status
      SubjectAccount SubcategoryId Subject SubjectDomainName SubjectKeyIdentifier SubjectLogonId SubjectMachineName
      SubjectMachineSID SubjectUserName SubjectUserSid SubStatus TableId TargetAccount TargetDomainName TargetInfo
      TargetLinkedLogonId TargetLogonId TargetOutboundDomainName TargetOutboundUserName TargetServerName TargetSid TargetUser
      TargetUserName TargetUserSid TemplateContent TemplateDSObjectFQDN TemplateInternalName TemplateOID TemplateSchemaVersion
      TemplateVersion TicketEncryptionType TicketOptions PreAuthType TokenElevationType TransmittedServices UserAccountControl
      UserParameters UserPrincipalName UserWorkstations VirtualAccount VendorIds Workstation WorkstationName EventLevelName
      SystemUserId Version Opcode Keywords Correlation SystemProcessId SystemThreadId EventRecordId Type _ResourceId`),
  }),

  SigninLogs: columns({
    ...azureDiagnosticsCommon,
    AlternateSignInName: "string",
    AppDisplayName: "string",
    AppId: "string",
    AuthenticationContextClassReferences: "string",
    AuthenticationDetails: "string",
    AuthenticationMethodsUsed: "string",
    AuthenticationProcessingDetails: "string",
    AuthenticationRequirement: "string",
    AuthenticationRequirementPolicies: "string",
    AutonomousSystemNumber: "int",
    ClientAppUsed: "string",
    ConditionalAccessPolicies: "dynamic",
    ConditionalAccessStatus: "string",
    CreatedDateTime: "datetime",
    DeviceDetail: "dynamic",
    IsInteractive: "bool",
    Id: "string",
    IPAddress: "string",
    IsRisky: "bool",
    LocationDetails: "dynamic",
    MfaDetail: "dynamic",
    NetworkLocationDetails: "string",
    OriginalRequestId: "string",
    ProcessingTimeInMilliseconds: "string",
    RiskDetail: "string",
    RiskEventTypes: "string",
    RiskEventTypes_V2: "string",
    RiskLevelAggregated: "string",
    RiskLevelDuringSignIn: "string",
    RiskState: "string",
    ResourceDisplayName: "string",
    ResourceIdentity: "string",
    ServicePrincipalId: "string",
    ServicePrincipalName: "string",
    Status: "dynamic",
    TokenIssuerName: "string",
    TokenIssuerType: "string",
    UserAgent: "string",
    UserDisplayName: "string",
    UserId: "string",
    UserPrincipalName: "string",
    UserType: "string",
    Type: "string",
  }),

  AuditLogs: columns({
    ...azureDiagnosticsCommon,
    AdditionalDetails: "dynamic",
    Id: "string",
    InitiatedBy: "dynamic",
    LoggedByService: "string",
    Result: "string",
    ResultReason: "string",
    TargetResources: "dynamic",
    AADTenantId: "string",
    ActivityDisplayName: "string",
    ActivityDateTime: "datetime",
    AADOperationType: "string",
    Type: "string",
  }),

  DeviceNetworkEvents: columns({
    ...deviceEventHead,
    RemoteIP: "string",
    RemotePort: "int",
    RemoteUrl: "string",
    LocalIP: "string",
    LocalPort: "int",
    Protocol: "string",
    LocalIPType: "string",
    RemoteIPType: "string",
    ...deviceEventTail,
  }),

  Event: columns({
    TimeGenerated: "datetime",
    Source: "string",
    EventLog: "string",
    Computer: "string",
    EventLevelName: "string",
    EventID: "int",
    RenderedDescription: "string",
    EventData: "string",
    Type: "string",
  }),

  DeviceLogonEvents: columns({
    ...deviceEventHead,
    LogonType: "string",
    AccountDomain: "string",
    AccountName: "string",
    AccountSid: "string",
    Protocol: "string",
    FailureReason: "string",
    IsLocalAdmin: "bool",
    LogonId: "long",
    RemoteDeviceName: "string",
    RemoteIP: "string",
    RemoteIPType: "string",
    RemotePort: "int",
    ...deviceEventTail,
  }),
};

/** Columns Log Analytics adds to every table. */
const STANDARD_COLUMNS: Column[] = columns({
  _ResourceId: "string",
  _SubscriptionId: "string",
  _ItemId: "string",
  _BilledSize: "real",
  _IsBillable: "string",
  TenantId: "string",
  Type: "string",
});

function withStandardColumns(own: readonly Column[]): Column[] {
  return [...own, ...STANDARD_COLUMNS.filter((s) => !own.some((c) => c.name === s.name))];
}

/** Published Sentinel/Defender schemas (see README.md), with their supplements, under the hand-written ones. */
function buildSchemas(): Record<string, readonly Column[]> {
  const out: Record<string, readonly Column[]> = {};
  const sources = [published.tables, published.supplemented.tables] as Record<string, string>[];
  for (const source of sources) for (const [name, compact] of Object.entries(source)) out[name] = expandColumns(compact);
  for (const [name, compact] of Object.entries(published.supplemented.columns as Record<string, string>)) {
    const own = out[name] ?? HAND_WRITTEN[name] ?? [];
    out[name] = [...own, ...expandColumns(compact).filter((c) => !own.some((o) => o.name === c.name))];
  }
  for (const [name, own] of Object.entries(HAND_WRITTEN)) {
    const extra = out[name] ?? [];
    out[name] = [...own, ...extra.filter((c) => !own.some((o) => o.name === c.name))];
  }
  for (const name of Object.keys(out)) out[name] = withStandardColumns(out[name]);
  return out;
}

export const TABLE_SCHEMAS: Readonly<Record<string, readonly Column[]>> = buildSchemas();

export type KnownTableName = keyof typeof TABLE_SCHEMAS;

export function schemaOf(table: string): readonly Column[] | undefined {
  return TABLE_SCHEMAS[table];
}
