/**
 * Bring your own hunts: Microsoft Sentinel hunting queries and scheduled analytic rules in the
 * YAML format of the Azure-Sentinel repository, loaded from a folder and run like the built-in
 * hunts (scheduled, baselined, deduplicated, notified).
 *
 * Validation mirrors Sentinel's own limits: query frequency and period between 5 minutes and 14
 * days, period at least the frequency, trigger threshold 0-10000, at most 10 entity mappings of
 * at most 3 identifiers. Each file is checked on its own; a bad file is reported with its fields
 * and never stops the others.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { tableFromRecords } from "../kql/build.js";
import { analyze, isTabular, listElements, nodeKind, referencedSymbolNames, resultColumns } from "../kql/kusto.js";
import type { Column, Table } from "../kql/types.js";
import { plainText, toDynamic } from "../kql/values.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import { formatDuration, parseDuration } from "../time.js";
import { bindSentinelPlaceholders, loadHunt, registerImportedHunts } from "./catalog.js";
import type { Hunt, HuntDefinition } from "./schema.js";

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Sentinel writes durations as `5m`, `1h`, `14d`, sometimes ISO 8601 (`PT1H`, `P1D`). */
export function sentinelDurationMs(text: string): number | null {
  return parseDuration(text);
}

/**
 * A duration as written, without a trailing `// comment`: Sentinel's own files sometimes annotate
 * the value (`queryPeriod: 7d // increased to 7 days`), which YAML keeps as part of the string.
 */
const Duration = z
  .preprocess((v) => (typeof v === "string" ? v.replace(/\s*\/\/.*$/s, "").trim() : v), z.string())
  .superRefine((v, ctx) => {
    const ms = sentinelDurationMs(v);
    if (ms === null) ctx.addIssue({ code: "custom", message: `'${v}' is not a duration like 5m, 1h or 1d` });
    else if (ms < 5 * MINUTE || ms > 14 * DAY)
      ctx.addIssue({ code: "custom", message: `'${v}' is outside Sentinel's range of 5 minutes to 14 days` });
  });

const EntityMapping = z.object({
  entityType: z.string().min(1),
  fieldMappings: z
    .array(z.object({ identifier: z.string().min(1), columnName: z.string().min(1) }))
    .min(1)
    .max(3, "at most 3 identifiers per entity mapping"),
});

const Technique = z.string().regex(/^T\d{4}(\.\d{3})?$/, "MITRE technique ids look like T1110 or T1110.003");

/** How analytic rules (scheduled and NRT alike) shape their alerts: details, titles, grouping. */
const AlertShaping = {
  customDetails: z.record(z.string(), z.string()).optional(),
  alertDetailsOverride: z
    .object({ alertDisplayNameFormat: z.string().optional(), alertDescriptionFormat: z.string().optional() })
    .loose()
    .optional(),
  eventGroupingSettings: z.object({ aggregationKind: z.enum(["SingleAlert", "AlertPerResult"]) }).optional(),
};

const Common = {
  id: z.string().min(1),
  name: z.string().min(3),
  description: z.string().default(""),
  // Read for its shape only (it has no effect here); the repository has hunting queries listing dataTypes without a connectorId.
  requiredDataConnectors: z.array(z.object({ connectorId: z.string().optional(), dataTypes: z.array(z.string()).default([]) })).default([]),
  // Sentinel files often leave these keys present but empty (`tactics:` with nothing under it).
  tactics: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  relevantTechniques: z
    .array(Technique)
    .nullish()
    .transform((v) => v ?? []),
  query: z.string().min(1),
  entityMappings: z.array(EntityMapping).max(10, "at most 10 entity mappings").default([]),
  version: z.string().optional(),
};

/** Sentinel's schedule fields, with its limits: a rule has them all; a hunting query may carry some (the repository's often do). */
const Schedule = {
  severity: z.enum(["Informational", "Low", "Medium", "High"]),
  queryFrequency: Duration,
  queryPeriod: Duration,
  triggerOperator: z.enum(["gt", "lt", "eq", "ne", "GreaterThan", "LessThan", "Equal", "NotEqual"]),
  triggerThreshold: z.number().int().min(0).max(10_000),
};

/** A period shorter than the frequency leaves time unread between runs. */
function periodCoversFrequency(rule: { queryFrequency?: string; queryPeriod?: string }, ctx: z.RefinementCtx): void {
  const frequency = rule.queryFrequency === undefined ? null : sentinelDurationMs(rule.queryFrequency);
  const period = rule.queryPeriod === undefined ? null : sentinelDurationMs(rule.queryPeriod);
  if (frequency !== null && period !== null && period < frequency)
    ctx.addIssue({ code: "custom", path: ["queryPeriod"], message: `must be at least queryFrequency (${rule.queryFrequency})` });
}

/** A hunting query: the schedule fields it carries are read (its window, severity and trigger) and checked as a rule's are. */
export const SentinelHuntingQuery = z
  .object({
    ...Common,
    kind: z.undefined().optional(),
    severity: Schedule.severity.optional(),
    queryFrequency: Schedule.queryFrequency.optional(),
    queryPeriod: Schedule.queryPeriod.optional(),
    triggerOperator: Schedule.triggerOperator.optional(),
    triggerThreshold: Schedule.triggerThreshold.optional(),
  })
  .loose()
  .superRefine(periodCoversFrequency);

/** Near-real-time rules: no frequency, period or trigger; Sentinel runs them every minute over the last minute or so. */
export const SentinelNrtRule = z
  .object({
    ...Common,
    kind: z.literal("NRT"),
    severity: Schedule.severity,
    ...AlertShaping,
  })
  .loose();

/** How often an imported NRT rule runs, and the window each run reads (the generic timer's shortest useful step). */
export const NRT_FREQUENCY_MS = MINUTE;

/** Fields of Sentinel's rule schema that describe the rule in Sentinel itself and have no effect here. */
const ACCEPTED_WITHOUT_EFFECT = [
  "status",
  "tags",
  "metadata",
  "description-detailed",
  "incidentConfiguration",
  "suppressionEnabled",
  "suppressionDuration",
  "sentinelEntitiesMappings",
  "templateVersion",
  "kind",
  "requiredDataConnectors",
  "customDetails",
  "alertDetailsOverride",
  "eventGroupingSettings",
  "entityMappings",
  "version",
];

export const SentinelScheduledRule = z
  .object({
    ...Common,
    kind: z.literal("Scheduled"),
    ...Schedule,
    ...AlertShaping,
  })
  .loose()
  .superRefine(periodCoversFrequency);

export interface ImportIssue {
  file: string;
  field?: string;
  message: string;
  /** `note`: the file loaded, but something in it has no effect here (reported once per file). */
  severity?: "error" | "note";
}

const TACTIC_NAMES: Record<string, string> = {
  InitialAccess: "Initial Access",
  CredentialAccess: "Credential Access",
  LateralMovement: "Lateral Movement",
  PrivilegeEscalation: "Privilege Escalation",
  DefenseEvasion: "Defense Evasion",
  CommandAndControl: "Command and Control",
};

function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60)
    .replace(/-$/, "");
}

/** A frequency as NCRONTAB: every n minutes, n hours, or n days, at second 0. */
export function frequencyToNcrontab(ms: number): string {
  const minutes = Math.round(ms / MINUTE);
  if (minutes < 60) return `0 */${minutes} * * * *`;
  if (minutes % 1440 === 0) return minutes === 1440 ? "0 0 0 * * *" : `0 0 0 */${minutes / 1440} * *`;
  if (minutes % 60 === 0) return `0 0 */${minutes / 60} * * *`;
  return `0 */${minutes} * * * *`;
}

const ENTITY_TYPES: Record<string, Hunt["entity"]["type"]> = { Account: "account", IP: "ip", Host: "host" };

/** The legacy columns Sentinel's hunting view reads entities from, in the order it shows them. */
const CUSTOM_ENTITY_COLUMNS: [string, Hunt["entity"]["type"]][] = [
  ["AccountCustomEntity", "account"],
  ["IPCustomEntity", "ip"],
  ["HostCustomEntity", "host"],
];

/** Result columns that name an entity when a hunting query maps none, by entity type (commonest first). */
const IDENTITY_COLUMNS: [RegExp, Hunt["entity"]["type"]][] = [
  [/^(UserPrincipalName|AccountUPN|UserId|Account|AccountName|TargetUserName|Caller|UserName|Actor|TargetUpn)$/i, "account"],
  [/^(IPAddress|IpAddress|ClientIP|CallerIpAddress|SourceIP|RemoteIP|SourceIPAddress)$/i, "ip"],
  [/^(Computer|DeviceName|HostName|ComputerName)$/i, "host"],
];

/** Column an imported hunt adds so that a query without any entity yields one finding per result row. */
export const ROW_KEY_COLUMN = "ResultRow";

/**
 * The entity of a query that maps none: the hunting view's `*CustomEntity` columns, else the first
 * result column that names an account, IP or host, else each result row on its own.
 */
function entityWithoutMapping(query: string): { type: Hunt["entity"]["type"]; columns: string[]; perRow: boolean } {
  const columns = lastResultColumns(query);
  const names = new Set(columns.map((c) => c.name));
  for (const [column, type] of CUSTOM_ENTITY_COLUMNS) if (names.has(column)) return { type, columns: [column], perRow: false };
  for (const [pattern, type] of IDENTITY_COLUMNS) {
    const column = columns.find((c) => pattern.test(c.name) && c.type === "string");
    if (column) return { type, columns: [column.name], perRow: false };
  }
  return { type: "host", columns: [ROW_KEY_COLUMN], perRow: true };
}

/** The columns of the query's last result statement, as the parser infers them. */
function lastResultColumns(query: string): Column[] {
  const statements = listElements(analyze(query, TABLE_SCHEMAS).syntax.Statements).filter(
    (s) => nodeKind(s) === "ExpressionStatement" && isTabular(s.Expression),
  );
  const last = statements[statements.length - 1];
  return (last && resultColumns(last.Expression)) ?? [];
}
const OPERATORS: Record<string, "==" | ">" | "<" | "!="> = {
  gt: ">",
  GreaterThan: ">",
  lt: "<",
  LessThan: "<",
  eq: "==",
  Equal: "==",
  ne: "!=",
  NotEqual: "!=",
};

/** Tables the query reads, as the official parser resolves them. */
function tablesOf(query: string): string[] {
  return [...referencedSymbolNames(analyze(query, TABLE_SCHEMAS).syntax, "TableSymbol")].filter((name) => TABLE_SCHEMAS[name]);
}

/** Adds the result-row count every row carries, so Sentinel's trigger (rows op threshold) is a threshold. */
function withResultCount(single: boolean, ruleName: string, perRow: boolean) {
  return (input: Table): Table => {
    const table = perRow ? withRowKey(input) : input;
    const count = table.rows.length;
    if (single) {
      const columns: Column[] = [
        { name: "Rule", type: "string" },
        { name: "ResultCount", type: "long" },
        { name: "Results", type: "dynamic" },
      ];
      const sample = table.rows.slice(0, 10).map((r) => Object.fromEntries(table.columns.map((c, i) => [c.name, toDynamic(r[i], c.type)])));
      return count ? tableFromRecords(columns, [{ Rule: ruleName, ResultCount: count, Results: sample }]) : { columns, rows: [] };
    }
    return { columns: [...table.columns, { name: "ResultCount", type: "long" }], rows: table.rows.map((r) => [...r, count]) };
  };
}

/** Each row keyed by its own values, so identical rows are one finding and distinct rows are distinct findings. */
function withRowKey(table: Table): Table {
  return {
    columns: [...table.columns, { name: ROW_KEY_COLUMN, type: "string" }],
    rows: table.rows.map((r) => [...r, JSON.stringify(r).slice(0, 512)]),
  };
}

function fill(format: string, row: Record<string, unknown>): string {
  return format.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_, column: string) => plainText(row[column] ?? ""));
}

/** The hunt id a Sentinel rule's name gives. */
function huntIdOfName(name: string): string {
  return `sentinel-${slug(name)}`;
}

/**
 * What tells a rule apart among those sharing its name: its Sentinel id's first 8 letters and digits
 * (a GUID's first group), or, when another of them starts alike (or it has none), 8 hex digits of its SHA-256.
 */
function sentinelIdSuffix(sentinelId: string, sharing: ReadonlySet<string>): string {
  const prefix = (id: string) =>
    id
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "")
      .slice(0, 8);
  const own = prefix(sentinelId);
  const unique = own && [...sharing].every((other) => other === sentinelId.toLowerCase() || prefix(other) !== own);
  return unique ? own : createHash("sha256").update(sentinelId.toLowerCase()).digest("hex").slice(0, 8);
}

/** `issues` with `message` said first in the file's note: one note per file, the others after it. */
function withNote(issues: ImportIssue[], file: string, message: string): ImportIssue[] {
  const [note, ...others] = issues;
  return note?.severity === "note"
    ? [{ ...note, message: `${message}; ${note.message}` }, ...others]
    : [{ file, severity: "note", message }, ...issues];
}

/** The rule kinds Sentinel's schema has, as it spells them. */
const RULE_KINDS = ["Scheduled", "NRT"];

/** Fields only a scheduled rule has; a file marked `kind: Scheduled` with none of them is a hunting query. */
const SCHEDULE_FIELDS = ["queryFrequency", "queryPeriod", "triggerOperator", "triggerThreshold"];

/**
 * Turns one parsed Sentinel YAML document into a hunt definition.
 * `sharedNames`: per hunt id a name gives, the Sentinel ids of every file in the folder with that
 * name (lower case). A name several rules share (the repository has such pairs) gives each of them
 * an id ending with its own Sentinel id's first characters: which files load, and in what order,
 * never hands one rule's id (its settings, exceptions, incidents and baselines) to another.
 */
export function sentinelToHunt(
  document: unknown,
  file: string,
  sharedNames: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
): { hunt?: Hunt; sentinelId?: string; issues: ImportIssue[] } {
  // Sentinel's files often leave a key present but empty (`alertDetailsOverride:`): YAML reads null, Sentinel reads absent.
  if (typeof document === "object" && document !== null && !Array.isArray(document) && Object.values(document).includes(null)) {
    document = Object.fromEntries(Object.entries(document).filter(([, value]) => value !== null));
  }
  const fields = typeof document === "object" && document !== null ? (document as Record<string, unknown>) : undefined;
  // The kind is read in any case: the Azure-Sentinel repository itself ships `kind: scheduled`.
  const written = fields?.kind;
  const kind = typeof written === "string" ? (RULE_KINDS.find((k) => k.toLowerCase() === written.toLowerCase()) ?? written) : written;
  if (kind !== written) document = { ...fields, kind };
  // Some hunting queries in the repository say what they are: `kind: Hunting`.
  if (typeof kind === "string" && kind.toLowerCase() === "hunting") {
    return sentinelToHunt(Object.fromEntries(Object.entries(fields!).filter(([k]) => k !== "kind")), file, sharedNames);
  }
  // Some hunting queries in the Azure-Sentinel repository carry `kind: Scheduled` and nothing of a
  // schedule: read as a rule they would fail on four missing fields; they are hunting queries.
  const huntingMarkedScheduled = kind === "Scheduled" && !SCHEDULE_FIELDS.some((f) => fields?.[f] !== undefined);
  if (huntingMarkedScheduled) {
    const result = sentinelToHunt(Object.fromEntries(Object.entries(fields!).filter(([k]) => k !== "kind")), file, sharedNames);
    if (!result.hunt) return result;
    return {
      ...result,
      issues: withNote(result.issues, file, `kind: Scheduled without ${SCHEDULE_FIELDS.join(", ")}: loaded as a hunting query`),
    };
  }
  const isRule = kind !== undefined;
  const isNrt = kind === "NRT";
  const parsed = (isNrt ? SentinelNrtRule : isRule ? SentinelScheduledRule : SentinelHuntingQuery).safeParse(document);
  if (!parsed.success) {
    return {
      issues: parsed.error.issues.map((i) => ({
        file,
        field: i.path.join(".") || undefined,
        message: `${i.path.join(".") || "document"}: ${i.message}`,
      })),
    };
  }
  const source = parsed.data as z.infer<typeof SentinelHuntingQuery> & Partial<z.infer<typeof SentinelScheduledRule>>;
  let notes = ignoredFields(source, file);
  const boundQuery = bindSentinelPlaceholders(source.query, { start: 0, end: DAY });
  const mapping = source.entityMappings[0];
  const fallback = mapping ? undefined : entityWithoutMapping(boundQuery);
  const single = source.eventGroupingSettings?.aggregationKind === "SingleAlert";
  const frequency = isNrt ? NRT_FREQUENCY_MS : source.queryFrequency ? sentinelDurationMs(source.queryFrequency)! : DAY;
  const period = source.queryPeriod ? sentinelDurationMs(source.queryPeriod)! : frequency;
  const tables = tablesOf(boundQuery);
  const columns = single ? ["Rule"] : mapping ? mapping.fieldMappings.map((f) => f.columnName) : fallback!.columns;
  let id = huntIdOfName(source.name);
  const sharing = sharedNames.get(id);
  if (sharing && sharing.size > 1) {
    id = `${id}-${sentinelIdSuffix(source.id, sharing)}`;
    notes = withNote(
      notes,
      file,
      `${sharing.size} rules in the folder have the name '${source.name}': each loads with its Sentinel id's first characters, this one as hunt '${id}'`,
    );
  }
  const definition: HuntDefinition = {
    id,
    title: source.name,
    description: source.description.trim() || `Imported Sentinel ${isRule ? "analytic rule" : "hunting query"} ${source.id}`,
    reference: `Sentinel ${isNrt ? "NRT rule" : isRule ? "scheduled rule" : "hunting query"} ${source.id}${source.version ? ` version ${source.version}` : ""} (${file})`,
    mitre: {
      tactics: source.tactics.length ? source.tactics.map((t) => TACTIC_NAMES[t] ?? t) : ["Unknown"],
      techniques: source.relevantTechniques.length ? source.relevantTechniques : ["T1078"],
    },
    severity: (source.severity?.toLowerCase() as Hunt["severity"]) ?? "medium",
    schedule: frequencyToNcrontab(frequency),
    lookback: formatDuration(frequency),
    context: formatDuration(Math.max(period, frequency)),
    maxLookback: formatDuration(Math.max(period, frequency) * 2),
    sources: tables.some((t) => t.startsWith("Device")) ? ["local", "log-analytics", "defender-xdr"] : ["local", "log-analytics"],
    tables: tables.length ? tables : ["Unknown"],
    entity: { type: mapping ? (ENTITY_TYPES[mapping.entityType] ?? "host") : fallback!.type, columns },
    features: [],
    distinct: [],
    thresholds: {
      match: "all",
      conditions: [{ column: "ResultCount", op: OPERATORS[source.triggerOperator ?? "gt"], value: source.triggerThreshold ?? 0 }],
    },
    learningWindows: 0,
    query: source.query,
    analyze: withResultCount(single, source.name, !!fallback?.perRow && !single),
  };
  try {
    const hunt = loadHunt(definition);
    const titleFormat = source.alertDetailsOverride?.alertDisplayNameFormat;
    if (titleFormat) hunt.titleFor = (row) => fill(titleFormat, row);
    return { hunt, sentinelId: source.id, issues: notes };
  } catch (error) {
    return { issues: [{ file, message: (error as Error).message }] };
  }
}

/** One note per file naming the fields that load but change nothing here, so nobody expects them to. */
function ignoredFields(source: Record<string, unknown>, file: string): ImportIssue[] {
  const used = new Set([
    "id",
    "name",
    "description",
    "tactics",
    "relevantTechniques",
    "query",
    "severity",
    "queryFrequency",
    "queryPeriod",
  ]);
  used.add("triggerOperator").add("triggerThreshold");
  const present = Object.keys(source).filter((k) => source[k] !== undefined && !used.has(k));
  const noEffect = present.filter(
    (k) =>
      ACCEPTED_WITHOUT_EFFECT.includes(k) &&
      !["kind", "entityMappings", "eventGroupingSettings", "requiredDataConnectors", "version"].includes(k),
  );
  const partly: string[] = [];
  const details = source.alertDetailsOverride as Record<string, unknown> | undefined;
  if (details && Object.keys(details).some((k) => k !== "alertDisplayNameFormat"))
    partly.push("alertDetailsOverride (only alertDisplayNameFormat)");
  const unknown = present.filter((k) => !ACCEPTED_WITHOUT_EFFECT.includes(k));
  const parts = [
    noEffect.filter((k) => k !== "alertDetailsOverride" && k !== "customDetails").length
      ? `accepted without effect here: ${noEffect.filter((k) => k !== "alertDetailsOverride" && k !== "customDetails").join(", ")}`
      : "",
    source.customDetails ? "customDetails are kept in each finding's row, not as alert fields" : "",
    partly.length ? `partly applied: ${partly.join(", ")}` : "",
    unknown.length ? `not part of Sentinel's rule schema, ignored: ${unknown.join(", ")}` : "",
  ].filter(Boolean);
  return parts.length ? [{ file, severity: "note", message: parts.join("; ") }] : [];
}

/** Loads every `.yaml`/`.yml` file under a folder; returns the hunts and, per bad file, why. */
export async function loadSentinelFolder(dir: string): Promise<{ hunts: Hunt[]; issues: ImportIssue[] }> {
  const hunts: Hunt[] = [];
  const issues: ImportIssue[] = [];
  const entries = (await readdir(dir, { recursive: true }))
    .filter((f) => [".yaml", ".yml"].includes(extname(String(f)).toLowerCase()))
    .sort();
  const documents: { file: string; document: unknown }[] = [];
  for (const entry of entries) {
    const file = join(dir, String(entry));
    try {
      documents.push({ file, document: parseYaml(await readFile(file, "utf8")) });
    } catch (error) {
      issues.push({ file, message: `not valid YAML: ${(error as Error).message.split("\n")[0]}` });
    }
  }
  // Names are read from every file, loadable or not: a rule's id does not change when another file of its name is fixed.
  const sharedNames = new Map<string, Set<string>>();
  for (const { document } of documents) {
    const { name, id } = (typeof document === "object" && document !== null ? document : {}) as { name?: unknown; id?: unknown };
    if (typeof name !== "string" || typeof id !== "string") continue;
    const huntId = huntIdOfName(name);
    if (!sharedNames.has(huntId)) sharedNames.set(huntId, new Set());
    sharedNames.get(huntId)!.add(id.toLowerCase());
  }
  const loaded = new Map<string, string>();
  for (const { file, document } of documents) {
    const result = sentinelToHunt(document, file, sharedNames);
    if (!result.hunt) {
      issues.push(...result.issues);
      continue;
    }
    const before = loaded.get(result.hunt.id);
    if (before !== undefined) {
      const same = before.toLowerCase() === result.sentinelId!.toLowerCase();
      issues.push({
        file,
        field: same ? "id" : "name",
        message: same
          ? `id: another file already defines this rule (${result.sentinelId}) as hunt '${result.hunt.id}'`
          : `name: another file already defines hunt '${result.hunt.id}'`,
      });
      continue;
    }
    issues.push(...result.issues);
    loaded.set(result.hunt.id, result.sentinelId!);
    hunts.push(result.hunt);
  }
  return { hunts, issues };
}

/** Loads a folder of Sentinel YAML into the catalog (replacing earlier imports); returns what was wrong. */
export async function importSentinelHunts(dir: string): Promise<{ hunts: Hunt[]; issues: ImportIssue[] }> {
  const result = await loadSentinelFolder(dir);
  registerImportedHunts(result.hunts);
  return result;
}
