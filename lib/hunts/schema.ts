/**
 * A hunt is KQL plus metadata. The metadata is validated with zod when the catalog loads, and
 * its KQL is validated by the official Kusto parser (see catalog.ts), so a broken hunt fails tests.
 */
import { z } from "zod";
import { SourceKind } from "../sources/types.js";
import { EntityMapping } from "./entities.js";
import type { Row, Table } from "../kql/types.js";
import { parseTimespan } from "../time.js";
import { Ncrontab } from "./schedule.js";

/** A Kusto timespan literal such as `1d`, `12h`, `30m` (settings and API bodies take these too). */
export const Timespan = z.string().regex(/^\d+(\.\d+)?(d|h|m|s)$/, "expected a timespan like 1d, 12h or 30m");

/** A timespan a hunt can run on: more than zero. */
export const Duration = z
  .string()
  .refine((v) => Timespan.safeParse(v).success && (parseTimespan(v) ?? 0) > 0, { message: "expected a timespan like 1d, 12h or 30m" });

export { SOURCE_KINDS, SourceKind } from "../sources/types.js";

export const SEVERITIES = ["informational", "low", "medium", "high", "critical"] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

/** A KQL `let` parameter's value: a number, a string, or a list of either. */
export const ParameterValue = z.union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))]);
export type ParameterValue = z.infer<typeof ParameterValue>;

/** `column op value`, where value is a number or the name of one of the hunt's parameters. */
export const Threshold = z.object({
  column: z.string(),
  op: z.enum([">=", ">", "<=", "<", "==", "!="]),
  value: z.union([z.number(), z.string()]),
});
export type Threshold = z.infer<typeof Threshold>;

/**
 * Either of several thresholds: met when one of them holds. A burst counts as a change when a
 * change-point score says so or when it dwarfs the entity's own past, two measures of one thing.
 */
export const EitherThreshold = z.object({ anyOf: z.array(Threshold).min(2) }).strict();
export type EitherThreshold = z.infer<typeof EitherThreshold>;

/** One condition of a hunt's thresholds: a threshold, or either of several. */
export const ThresholdCondition = z.union([EitherThreshold, Threshold]);
export type ThresholdCondition = z.infer<typeof ThresholdCondition>;

/** The thresholds of one condition: itself, or the members of an either-of group. */
export function membersOf(condition: ThresholdCondition): Threshold[] {
  return "anyOf" in condition ? condition.anyOf : [condition];
}

/** Every threshold a hunt's conditions name, those inside either-of groups too. */
export function thresholdsOf(conditions: readonly ThresholdCondition[]): Threshold[] {
  return conditions.flatMap(membersOf);
}

/** A condition under which a hit is expected rather than a threat, and why, in words a SOC reads on the digest. */
export const Expectation = Threshold.extend({ reason: z.string().min(10) });
export type Expectation = z.infer<typeof Expectation>;

export const HuntMetadata = z
  .object({
    id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "id must be kebab-case"),
    title: z.string().min(3),
    description: z.string().min(20),
    /** Where the hunt comes from, when it adapts a published one. */
    reference: z.string().optional(),
    mitre: z.object({
      tactics: z.array(z.string().min(3)).min(1),
      techniques: z.array(z.string().regex(/^T\d{4}(\.\d{3})?$/, "MITRE technique ids look like T1110 or T1110.003")).min(1),
    }),
    severity: Severity,
    /** Default schedule; ops override it per hunt with the HUNT_<ID>_SCHEDULE app setting. */
    schedule: Ncrontab,
    /** Window length: each run looks at one window of this size. */
    lookback: Duration,
    /** How far back the query reads for context (history for change points, audit data); at least the lookback. */
    context: Duration.optional(),
    /** Catch-up cap after missed runs. */
    maxLookback: Duration,
    sources: z.array(SourceKind).min(1),
    tables: z.array(z.string()).min(1),
    entity: z.object({
      type: z.enum(["ip", "account", "host", "device-connection"]),
      columns: z.array(z.string()).min(1),
    }),
    /**
     * The IPs, accounts and hosts a result row names (Sentinel's entity mapping), the finding's own
     * first. Alerts of any hunt that share one of them within the incident window form one incident.
     */
    entityMappings: z.array(EntityMapping).default([]),
    /**
     * Result columns that say when the entity was first and last active in the window (the first
     * column present wins); without one, the window's own bounds stand in.
     */
    activity: z
      .object({ first: z.array(z.string()).min(1), last: z.array(z.string()).min(1) })
      .default({ first: ["FirstSeen"], last: ["LastSeen"] }),
    /** Numeric columns baselined per entity (EWMA and recent history) and scored by deviation. */
    features: z.array(z.object({ column: z.string(), direction: z.enum(["up", "down", "both"]).default("up") })).default([]),
    /** Columns whose values are kept per entity as capped distinct sets. */
    distinct: z.array(z.object({ column: z.string(), cap: z.number().int().positive().max(200).default(50) })).default([]),
    /** Population rarity: how many `across` values (e.g. devices) have ever shown this `value`. */
    prevalence: z
      .object({
        value: z.array(z.string()).min(1),
        across: z.array(z.string()).min(1),
        /** A row column (0..1) that scales rarity, e.g. remote-access ports weigh more. */
        weightColumn: z.string().optional(),
      })
      .optional(),
    /**
     * The entity's peers, where the hunt has a natural peer group: how many `across` values show the
     * same `value` (e.g. devices running this process on this port). A behaviour common among peers
     * counts for less rarity; a rare one is named.
     */
    peers: z.object({ value: z.array(z.string()).min(1), across: z.array(z.string()).min(1) }).optional(),
    thresholds: z
      .object({ match: z.enum(["all", "any"]).default("all"), conditions: z.array(ThresholdCondition).default([]) })
      .default({ match: "all", conditions: [] }),
    /**
     * Rows that meet one of these are expected (a new account's first-day sign-in trouble): they are
     * kept and go to the digest with the reason, never out as alerts.
     */
    expected: z.array(Expectation).default([]),
    /**
     * The part of the entity that acts (a device's process, for connections keyed by device,
     * process and endpoint). A source that reaches new values in most of its recent windows (a
     * scanner, a browser) makes one more new value usual; a source that reaches `foldAt` or more new
     * values in one window is one finding listing them, not one alert per value.
     */
    source: z.object({ columns: z.array(z.string()).min(1), foldAt: z.number().int().min(2).default(5) }).optional(),
    /** KQL `let` parameters with their defaults; thresholds may refer to them by name. */
    parameters: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), ParameterValue).default({}),
    /** Windows a hunt observes before deviation, rarity and novelty count; until then only thresholds fire. */
    learningWindows: z.number().int().min(0).default(3),
    /** Findings at or above this score alert. */
    alertScore: z.number().min(0).max(100).default(50),
    query: z.string().min(10),
  })
  .strict();

export type HuntMetadataInput = z.input<typeof HuntMetadata>;
export type HuntMetadata = z.output<typeof HuntMetadata>;

export interface AnalyzeContext {
  windowStart: number;
  windowEnd: number;
  contextStart: number;
}

/** Post-processing in code for what KQL alone cannot do (PageRank, ChangeFinder): rows in, entity rows out. */
export type Analyzer = (table: Table, context: AnalyzeContext) => Table;

export interface Hunt extends HuntMetadata {
  analyze?: Analyzer;
  /** A finding title from its row (imported rules' alertDisplayNameFormat); the hunt's title otherwise. */
  titleFor?: (row: Record<string, unknown>) => string;
}

export interface HuntDefinition extends HuntMetadataInput {
  analyze?: Analyzer;
}

export function defineHunt(definition: HuntDefinition): HuntDefinition {
  return definition;
}

export type { Row };
