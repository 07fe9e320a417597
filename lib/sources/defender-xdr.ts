/**
 * Defender XDR advanced hunting through Microsoft Graph `POST /security/runHuntingQuery`
 * (`{"Query","Timespan"}` in, `{schema, results}` out, rows as objects), with the application
 * permission ThreatHunting.Read.All. Runs through an Azure SDK pipeline: bearer token from the
 * managed identity, retries with backoff that honours Retry-After on the tenant's 429s.
 * Limits: 100,000 rows and 3 minutes per query; a result at the limit is reported as partial.
 */
import type { TokenCredential } from "@azure/core-auth";
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
} from "@azure/core-rest-pipeline";
import { z } from "zod";
import { QueryFailedError } from "./azure-monitor.js";
import { columnsFrom, tableFromServiceRows } from "./convert.js";
import { SERVICE_RETRY_OPTIONS, type QueryRequest, type QueryResponse, type QuerySource } from "./types.js";

export const DEFENDER_ROW_LIMIT = 100_000;

const HuntingResponse = z.object({
  schema: z.array(z.object({ name: z.string(), type: z.string() })),
  results: z.array(z.record(z.string(), z.unknown())),
});

export interface DefenderXdrOptions {
  credential: TokenCredential;
  /** Graph base, e.g. https://graph.microsoft.com (or the local endpoint). */
  endpoint?: string;
  trustedCa?: string;
  budgetMs?: number;
}

export class DefenderXdrSource implements QuerySource {
  readonly kind = "defender-xdr" as const;
  readonly name = "defender-xdr";
  private readonly pipeline: Pipeline;
  private readonly http: HttpClient;
  private readonly endpoint: string;

  constructor(private readonly options: DefenderXdrOptions) {
    this.endpoint = (options.endpoint ?? "https://graph.microsoft.com").replace(/\/$/, "");
    this.pipeline = createPipelineFromOptions({
      retryOptions: SERVICE_RETRY_OPTIONS,
      ...(options.trustedCa ? { tlsOptions: { ca: options.trustedCa } } : {}),
    });
    this.pipeline.addPolicy(
      bearerTokenAuthenticationPolicy({ credential: options.credential, scopes: "https://graph.microsoft.com/.default" }),
    );
    this.http = createDefaultHttpClient();
  }

  async query(request: QueryRequest): Promise<QueryResponse> {
    // Advanced hunting has no separate time range: ISO 8601 duration back from now, plus the
    // query's own filter on the window (HuntStart/HuntEnd) does the rest.
    const span = Math.max(60_000, Date.now() - request.timespan.start);
    const days = Math.ceil(span / 86_400_000);
    const body = JSON.stringify({ Query: request.query, Timespan: `P${days}D` });
    const pipelineRequest = createPipelineRequest({
      url: `${this.endpoint}/v1.0/security/runHuntingQuery`,
      method: "POST",
      body,
      timeout: this.options.budgetMs ?? 180_000,
    });
    pipelineRequest.headers.set("content-type", "application/json");
    const response = await this.pipeline.sendRequest(this.http, pipelineRequest);
    if (response.status !== 200) {
      let message = response.bodyAsText ?? "";
      try {
        const parsed = JSON.parse(message) as { error?: { code?: string; message?: string } };
        message = `${parsed.error?.code ?? response.status}: ${parsed.error?.message ?? ""}`;
      } catch {
        // not JSON: keep the text
      }
      throw new QueryFailedError(`hunting query ${request.queryId} failed: HTTP ${response.status} ${message}`, request.queryId);
    }
    const parsed = HuntingResponse.safeParse(JSON.parse(response.bodyAsText ?? "{}"));
    if (!parsed.success)
      throw new QueryFailedError(
        `hunting query ${request.queryId}: unexpected response: ${parsed.error.issues[0].path.join(".")} ${parsed.error.issues[0].message}`,
        request.queryId,
      );
    const columns = columnsFrom(parsed.data.schema);
    const table = tableFromServiceRows(
      parsed.data.schema,
      parsed.data.results.map((r) => columns.map((c) => r[c.name])),
    );
    return {
      table,
      ...(table.rows.length >= DEFENDER_ROW_LIMIT
        ? { partial: `advanced hunting returned its limit of ${DEFENDER_ROW_LIMIT} rows; narrow the hunt's window` }
        : {}),
    };
  }
}
