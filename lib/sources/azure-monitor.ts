/**
 * Log Analytics through `@azure/monitor-query-logs` (the successor of `@azure/monitor-query`).
 *
 * Each query is scoped to the run's exact time range. Throttling (429) and server errors are
 * retried by the SDK pipeline with backoff that honours Retry-After, inside the run's time budget.
 * Partial results are returned with their reason. When the service truncates a result (500,000
 * rows or about 64 MB), the range is split in halves and queried again, and the finding says the
 * data was split, so no row is dropped in silence.
 */
import { LogsQueryClient, LogsQueryResultStatus, type LogsTable } from "@azure/monitor-query-logs";
import type { TokenCredential } from "@azure/core-auth";
import type { Table } from "../kql/types.js";
import { tableFromServiceRows } from "./convert.js";
import { SERVICE_RETRY_OPTIONS, type QueryRequest, type QueryResponse, type QuerySource } from "./types.js";

export interface AzureMonitorOptions {
  workspaceId: string;
  additionalWorkspaces?: string[];
  credential: TokenCredential;
  /** A stand-in endpoint (the local one), e.g. https://127.0.0.1:8443/v1. */
  endpoint?: string;
  /** PEM certificate(s) to trust for that endpoint, added to this client's TLS only. */
  trustedCa?: string;
  serverTimeoutInSeconds?: number;
  /** Total time a query may take, retries included. */
  budgetMs?: number;
  /** How many times a truncated range may be halved. */
  maxSplits?: number;
}

const TRUNCATION = /E_QUERY_RESULT_SET_TOO_LARGE|exceeded.*(limit|size)|result.*(truncat|too large)/i;

export class QueryFailedError extends Error {
  constructor(
    message: string,
    readonly queryId: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "QueryFailedError";
  }
}

function describeError(error: unknown): { message: string; code?: string } {
  const e = error as {
    message?: string;
    code?: string;
    details?: { error?: { message?: string; code?: string; innererror?: { message?: string; line?: number; pos?: number } } };
  };
  const inner = e.details?.error?.innererror;
  const where = inner?.line !== undefined ? ` at line ${inner.line}, position ${inner.pos}` : "";
  return {
    message: `${e.details?.error?.message ?? e.message ?? String(error)}${inner?.message ? `: ${inner.message}` : ""}${where}`,
    code: e.details?.error?.code ?? e.code,
  };
}

function merge(tables: Table[]): Table {
  return { columns: tables[0].columns, rows: tables.flatMap((t) => t.rows) };
}

function primary(tables: LogsTable[]): Table {
  const table = tables[0];
  if (!table) return { columns: [], rows: [] };
  return tableFromServiceRows(
    table.columnDescriptors.map((c) => ({ name: c.name ?? "", type: c.type ?? "dynamic" })),
    table.rows as unknown[][],
  );
}

export class AzureMonitorSource implements QuerySource {
  readonly kind = "log-analytics" as const;
  readonly name: string;
  private readonly client: LogsQueryClient;

  constructor(private readonly options: AzureMonitorOptions) {
    this.name = `log-analytics:${options.workspaceId}`;
    this.client = new LogsQueryClient(options.credential, {
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.trustedCa ? { tlsOptions: { ca: options.trustedCa } } : {}),
      retryOptions: SERVICE_RETRY_OPTIONS,
    });
  }

  async query(request: QueryRequest): Promise<QueryResponse> {
    const deadline = Date.now() + (this.options.budgetMs ?? 8 * 60_000);
    return this.queryRange(request, request.timespan.start, request.timespan.end, this.options.maxSplits ?? 3, deadline);
  }

  private async queryRange(
    request: QueryRequest,
    start: number,
    end: number,
    splitsLeft: number,
    deadline: number,
  ): Promise<QueryResponse> {
    let result;
    try {
      result = await this.client.queryWorkspace(
        this.options.workspaceId,
        request.query,
        { startTime: new Date(start), endTime: new Date(end) },
        {
          serverTimeoutInSeconds: this.options.serverTimeoutInSeconds ?? 600,
          ...(this.options.additionalWorkspaces?.length ? { additionalWorkspaces: this.options.additionalWorkspaces } : {}),
          abortSignal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
        },
      );
    } catch (error) {
      const { message, code } = describeError(error);
      throw new QueryFailedError(
        `query ${request.queryId} on workspace ${this.options.workspaceId} failed: ${message}`,
        request.queryId,
        code,
      );
    }
    if (result.status === LogsQueryResultStatus.Success) return { table: primary(result.tables) };
    const reason = `${result.partialError.code ?? "PartialError"}: ${result.partialError.message ?? ""}`.trim();
    if (TRUNCATION.test(reason) && splitsLeft > 0 && end - start > 60_000) {
      const middle = start + Math.floor((end - start) / 2);
      const [left, right] = [
        await this.queryRange(request, start, middle, splitsLeft - 1, deadline),
        await this.queryRange(request, middle, end, splitsLeft - 1, deadline),
      ];
      const notes = [
        `result over the service limit: the range was split at ${new Date(middle).toISOString()} and queried in halves; per-entity totals may be split across them`,
        left.partial,
        right.partial,
      ].filter(Boolean);
      return { table: merge([left.table, right.table]), partial: notes.join("; ") };
    }
    return { table: primary(result.partialTables), partial: reason };
  }
}
