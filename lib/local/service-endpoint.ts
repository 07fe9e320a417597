/**
 * A local stand-in for Log Analytics and Defender XDR, so any app built on the Azure SDK can
 * query exported logs: HTTPS (Azure SDK bearer-token policies refuse plain http), with a
 * self-signed certificate the caller trusts explicitly (passed to its client, never by turning
 * TLS checks off), backed by the local KQL engine.
 *
 *   POST /v1/workspaces/{id}/query           Log Analytics query API (the shape LogsQueryClient expects)
 *   POST /v1.0/security/runHuntingQuery      Microsoft Graph advanced hunting
 *
 * Faults can be injected to test callers: throttling (429 with Retry-After), server errors,
 * partial results, and truncation past a row limit.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { generate } from "selfsigned";
import { z } from "zod";
import { KqlError, runQuery, tablesWithin } from "../kql/index.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";
import type { Table } from "../kql/types.js";
import { serviceValue } from "../sources/convert.js";
import { closeServer, listenOnLoopback, readRequestText } from "./http.js";

export interface EndpointFaults {
  /** Answer this many requests with 429 first. */
  throttle?: number;
  retryAfterSeconds?: number;
  /** Answer this many requests with 500 first. */
  serverErrors?: number;
  /** Add a partial error to every successful answer. */
  partialError?: { code: string; message: string };
  /** More rows than this are cut, with the service's truncation error. */
  maxRows?: number;
}

export interface ServiceRequestLog {
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export interface ServiceEndpoint {
  url: string;
  /** PEM certificate to trust for this endpoint. */
  certificate: string;
  requests: ServiceRequestLog[];
  faults: EndpointFaults;
  stop(): Promise<void>;
}

const QueryBody = z.object({ query: z.string().min(1), timespan: z.string().optional(), workspaces: z.array(z.string()).optional() });
const HuntingBody = z.object({ Query: z.string().min(1), Timespan: z.string().optional() });

/** `start/end` (ISO 8601 interval) or `start/duration`; the range the service scopes tables to. */
function parseInterval(timespan: string | undefined): { start: number; end: number } | undefined {
  if (!timespan) return undefined;
  const [a, b] = timespan.split("/");
  const start = Date.parse(a);
  const end = Date.parse(b);
  if (Number.isFinite(start) && Number.isFinite(end)) return { start, end };
  return undefined;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const text = await readRequestText(req);
  return text ? JSON.parse(text) : {};
}

function errorBody(code: string, message: string, inner?: { code: string; message: string; line?: number; pos?: number }) {
  return { error: { code, message, correlationId: "local", ...(inner ? { innererror: inner } : {}) } };
}

export async function startServiceEndpoint(
  tables: Record<string, Table>,
  options: { faults?: EndpointFaults; port?: number } = {},
): Promise<ServiceEndpoint> {
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keySize: 2048,
    algorithm: "sha256",
    extensions: [
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  } as never);
  const requests: ServiceRequestLog[] = [];
  const faults: EndpointFaults = { ...(options.faults ?? {}) };
  const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    void (async () => {
      let body: unknown;
      try {
        body = await readBody(req);
      } catch {
        return send(res, 400, errorBody("BadArgumentError", "The request body is not valid JSON"));
      }
      requests.push({ path: req.url ?? "", authorization: req.headers.authorization, body });
      if (!req.headers.authorization?.startsWith("Bearer "))
        return send(res, 401, errorBody("AuthorizationRequiredError", "Valid authentication was not provided"));
      if (faults.throttle && faults.throttle > 0) {
        faults.throttle--;
        return send(res, 429, errorBody("TooManyRequests", "Too many requests"), { "retry-after": String(faults.retryAfterSeconds ?? 1) });
      }
      if (faults.serverErrors && faults.serverErrors > 0) {
        faults.serverErrors--;
        return send(res, 500, errorBody("InternalServerError", "Something went wrong"));
      }
      const logAnalytics = /^\/v1\/workspaces\/[^/]+\/query$/.exec(req.url ?? "");
      const hunting = req.url === "/v1.0/security/runHuntingQuery";
      if (req.method !== "POST" || (!logAnalytics && !hunting))
        return send(res, 404, errorBody("PathNotFoundError", `No route ${req.method} ${req.url}`));
      const parsed = logAnalytics ? QueryBody.safeParse(body) : HuntingBody.safeParse(body);
      if (!parsed.success)
        return send(
          res,
          400,
          errorBody(
            "BadArgumentError",
            `Invalid request: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
          ),
        );
      const query = "query" in parsed.data ? parsed.data.query : parsed.data.Query;
      const range = "timespan" in parsed.data ? parseInterval(parsed.data.timespan) : undefined;
      let table: Table;
      try {
        table = runQuery(query, {
          tables: range ? tablesWithin(tables, range) : tables,
          schemas: TABLE_SCHEMAS,
          now: range?.end ?? Date.now(),
        }).table;
      } catch (error) {
        const e = error as KqlError;
        return send(
          res,
          400,
          errorBody("BadArgumentError", "The request had some invalid properties", {
            code: "SemanticError",
            message: e.message,
            line: e.position?.line,
            pos: e.position?.column,
          }),
        );
      }
      let partial = faults.partialError;
      let rows = table.rows;
      if (faults.maxRows !== undefined && rows.length > faults.maxRows) {
        rows = rows.slice(0, faults.maxRows);
        partial = { code: "PartialError", message: "E_QUERY_RESULT_SET_TOO_LARGE: query result set has exceeded the internal limit" };
      }
      if (hunting) {
        return send(res, 200, {
          schema: table.columns.map((c) => ({ name: c.name, type: c.type })),
          results: rows.map((r) => Object.fromEntries(table.columns.map((c, i) => [c.name, serviceValue(r[i], c.type)]))),
        });
      }
      send(res, 200, {
        tables: [
          {
            name: "PrimaryResult",
            columns: table.columns.map((c) => ({ name: c.name, type: c.type })),
            rows: rows.map((r) => table.columns.map((c, i) => serviceValue(r[i], c.type))),
          },
        ],
        ...(partial ? { error: { code: partial.code, message: partial.message } } : {}),
      });
    })();
  });
  const url = `https://127.0.0.1:${await listenOnLoopback(server, options.port)}`;
  return { url, certificate: pems.cert, requests, faults, stop: () => closeServer(server) };
}
