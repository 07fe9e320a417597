/**
 * The log formats the readers know, and what every reader yields: rows of a table, or issues that
 * name the file and place of what could not be read.
 */
import { z } from "zod";
import type { ReadIssue } from "./table-builder.js";

export const LOG_FORMATS = ["evtx", "sentinel-csv", "sentinel-json", "nxlog", "winlogbeat", "ndjson"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LogFormatSchema = z.enum(LOG_FORMATS);

export type SourceItem = { table: string; record: Record<string, unknown>; at: number } | { issue: ReadIssue };

export interface ReadOptions {
  /** Skip detection and read as this format. */
  format?: LogFormat;
  /** For table-shaped files whose rows carry no `Type`: the table they belong to. */
  table?: string;
}
