/**
 * The HTTP API as one table: every route's name, method, path template and handler. The Functions
 * app registers each row as an HTTP function; `hunts serve` matches the same templates. A handler
 * gets the path parameters, the query string and the raw body, and answers JSON or a page.
 */
import { logonGraphPage } from "../logontracer/page/page.js";
import {
  addExceptionRequest,
  getIncidentRequest,
  linkRequest,
  listExceptionsRequest,
  removeExceptionRequest,
  getRunRequest,
  graphDataRequest,
  listHunts,
  parseJsonBody,
  runHuntRequest,
  validateKqlRequest,
  type ApiResponse,
} from "../http/api.js";
import type { Runtime } from "../runtime.js";

export interface ApiRequest {
  params: Record<string, string>;
  query: Record<string, string>;
  body: string;
  now: number;
}

export type RouteResult = ApiResponse | { html: string; status?: number };

export interface Route {
  /** The function's name in Azure. */
  name: string;
  method: "GET" | "POST" | "DELETE";
  /** `anonymous` only where the request carries its own permission (a signed link); everything else needs a function key. */
  authLevel: "function" | "anonymous";
  /** The path under /api, with `{name}` segments, as the Functions host writes routes. */
  route: string;
  handle(runtime: Runtime, request: ApiRequest): Promise<RouteResult> | RouteResult;
}

function withJsonBody(
  request: ApiRequest,
  then: (body: unknown) => Promise<ApiResponse> | ApiResponse,
): Promise<ApiResponse> | ApiResponse {
  const parsed = parseJsonBody(request.body);
  return parsed.ok ? then(parsed.value) : parsed.response;
}

export const ROUTES: readonly Route[] = [
  { name: "list-hunts", method: "GET", route: "hunts", authLevel: "function", handle: (rt, req) => listHunts(rt, req.now) },
  {
    name: "run-hunt",
    method: "POST",
    route: "hunts/{id}/run",
    authLevel: "function",
    handle: (rt, req) => withJsonBody(req, (body) => runHuntRequest(rt, req.params.id, body, req.now)),
  },
  {
    name: "get-run",
    method: "GET",
    route: "runs/{runId}",
    authLevel: "function",
    handle: (rt, req) => getRunRequest(rt, req.params.runId),
  },
  {
    name: "get-incident",
    method: "GET",
    route: "incidents/{id}",
    authLevel: "function",
    handle: (rt, req) => getIncidentRequest(rt, req.params.id),
  },
  {
    name: "list-exceptions",
    method: "GET",
    route: "exceptions",
    authLevel: "function",
    handle: (rt, req) => listExceptionsRequest(rt, req.now),
  },
  {
    name: "add-exception",
    method: "POST",
    route: "exceptions",
    authLevel: "function",
    handle: (rt, req) => withJsonBody(req, (body) => addExceptionRequest(rt, body, req.now)),
  },
  {
    name: "remove-exception",
    method: "DELETE",
    route: "exceptions/{id}",
    authLevel: "function",
    handle: (rt, req) => removeExceptionRequest(rt, req.params.id),
  },
  // Signed links from cards: the token is the permission, so they open for a Teams reader.
  {
    name: "open-link",
    method: "GET",
    route: "links/{token}",
    authLevel: "anonymous",
    handle: (rt, req) => linkRequest(rt, req.params.token, "GET", "", req.now),
  },
  {
    name: "submit-link",
    method: "POST",
    route: "links/{token}",
    authLevel: "anonymous",
    handle: (rt, req) => linkRequest(rt, req.params.token, "POST", req.body, req.now),
  },
  {
    name: "validate-kql",
    method: "POST",
    route: "kql/validate",
    authLevel: "function",
    handle: (_rt, req) => withJsonBody(req, validateKqlRequest),
  },
  // The page fetches its data relative to itself, so it works under any host and prefix.
  { name: "logon-graph", method: "GET", route: "graph", authLevel: "function", handle: () => ({ html: logonGraphPage("graph/data") }) },
  {
    name: "logon-graph-data",
    method: "GET",
    route: "graph/data",
    authLevel: "function",
    handle: (rt, req) => graphDataRequest(rt, req.query, req.now),
  },
];

/**
 * The route and path parameters for a request path under /api (e.g. `hunts/x/run`), or
 * undefined. Parameters are percent-decoded; a malformed escape does not match.
 */
export function matchRoute(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  const segments = path.split("/").filter(Boolean);
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const template = route.route.split("/");
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matched = template.every((part, i) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (!name) return part === segments[i];
      try {
        params[name] = decodeURIComponent(segments[i]);
        return true;
      } catch {
        return false;
      }
    });
    if (matched) return { route, params };
  }
  return undefined;
}
