/** Where hunts get their rows: the local engine over files, Log Analytics, or Defender XDR. */
import type { Table } from "../kql/types.js";
import { z } from "zod";

export const SOURCE_KINDS = ["local", "log-analytics", "defender-xdr"] as const;
/** Where a hunt can run: the embedded engine over files, Log Analytics, Defender XDR advanced hunting. */
export const SourceKind = z.enum(SOURCE_KINDS);
export type SourceKind = z.infer<typeof SourceKind>;

/** Retries for the query services' 429s and 5xx, with backoff that honours Retry-After. */
export const SERVICE_RETRY_OPTIONS = { maxRetries: 4, retryDelayInMs: 1000, maxRetryDelayInMs: 30_000 } as const;

export interface QueryRequest {
  /** The full KQL text, window and parameters already bound. */
  query: string;
  /** The time range to scope the query to (the hunt's context start to the window end). */
  timespan: { start: number; end: number };
  /** An id to name in errors and logs. */
  queryId: string;
}

export interface QueryResponse {
  table: Table;
  /** Set when the service returned only part of the results, with its reason. */
  partial?: string;
}

export interface QuerySource {
  readonly kind: SourceKind;
  /** Shown on findings. */
  readonly name: string;
  query(request: QueryRequest): Promise<QueryResponse>;
}
