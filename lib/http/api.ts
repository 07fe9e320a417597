/**
 * The HTTP API, independent of the host: the Functions bindings and the local `serve` command
 * both call these and turn the result into their own response type.
 */
import { z } from "zod";
import type { Runtime } from "../runtime.js";
import { durationMs, findHunt, huntCatalog, scheduleSettingName } from "../hunts/catalog.js";
import { Duration } from "../hunts/schema.js";
import { nextOccurrence } from "../hunts/schedule.js";
import { runOnDemand } from "../runs/runner.js";
import { huntOfRun } from "../runs/store.js";
import { buildLogonGraph } from "../logontracer/graph.js";
import { validateQuery } from "../kql/index.js";
import { ExceptionError, parseException } from "../exceptions/store.js";
import { LinkError, type LinkClaims } from "../links/signed.js";
import { benignFormPage, incidentPage, messagePage, runPage } from "./pages.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** The longest time range an on-demand run or the graph reads: as far as Log Analytics' interactive retention, no further. */
export const MAX_RANGE_MS = 31 * 86_400_000;
const DAY_MS = 86_400_000;

/** A window given as from/to: in order, at most MAX_RANGE_MS long, and not far in the future. */
function checkRange(from: string | undefined, to: string | undefined, ctx: z.RefinementCtx): void {
  if (!from || !to) return;
  const start = Date.parse(from);
  const end = Date.parse(to);
  if (start >= end) ctx.addIssue({ code: "custom", path: ["to"], message: "to must be after from" });
  else if (end - start > MAX_RANGE_MS) ctx.addIssue({ code: "custom", path: ["to"], message: "at most 31 days after from" });
  if (end > Date.now() + DAY_MS) ctx.addIssue({ code: "custom", path: ["to"], message: "not more than a day in the future" });
}

export const RunRequestSchema = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    lookback: Duration.optional(),
    dryRun: z.boolean().default(false),
    notify: z.boolean().default(false),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.from === undefined) !== (body.to === undefined))
      ctx.addIssue({ code: "custom", path: [body.from ? "to" : "from"], message: "from and to go together" });
    if (body.from && body.lookback)
      ctx.addIssue({ code: "custom", path: ["lookback"], message: "give either from/to or lookback, not both" });
    checkRange(body.from, body.to, ctx);
    if (body.lookback && durationMs(body.lookback) > MAX_RANGE_MS)
      ctx.addIssue({ code: "custom", path: ["lookback"], message: "at most 31d" });
    if (body.dryRun && body.notify) ctx.addIssue({ code: "custom", path: ["notify"], message: "a dry run notifies nobody" });
  });

function badRequest(error: z.ZodError, received: unknown): ApiResponse {
  return {
    status: 400,
    body: {
      error: "invalid request body",
      issues: error.issues.map((i) => {
        const field = i.path.join(".");
        const value = field && received && typeof received === "object" ? (received as Record<string, unknown>)[field] : undefined;
        return { field: field || "(body)", message: i.message, ...(value !== undefined ? { value } : {}) };
      }),
    },
  };
}

/** A request body as JSON: an empty body is `{}`, anything else must parse. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false; response: ApiResponse } {
  if (!text.trim()) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, response: { status: 400, body: { error: "the request body is not JSON" } } };
  }
}

const ValidateKqlBody = z.object({ query: z.string().min(1, "query must not be empty").max(100_000) });

/** POST kql/validate: the Kusto parser's diagnostics for a query, without running it. */
export function validateKqlRequest(rawBody: unknown): ApiResponse {
  const parsed = ValidateKqlBody.safeParse(rawBody);
  if (!parsed.success) return badRequest(parsed.error, rawBody);
  const diagnostics = validateQuery(parsed.data.query, TABLE_SCHEMAS);
  return { status: 200, body: { valid: !diagnostics.some((d) => d.severity === "error"), diagnostics } };
}

export async function listHunts(app: Runtime, now = Date.now()): Promise<ApiResponse> {
  const hunts = await Promise.all(
    huntCatalog().map(async (h) => {
      const [last] = await app.services.runs.latest(h.id, 1);
      const schedule = app.settings.schedules[h.id] ?? h.schedule;
      return {
        id: h.id,
        title: h.title,
        severity: h.severity,
        mitre: h.mitre,
        tables: h.tables,
        schedule,
        scheduleSetting: scheduleSettingName(h.id),
        nextRun: nextOccurrence(schedule, new Date(now)).toISOString(),
        lookback: h.lookback,
        lastRun: last
          ? {
              runId: last.runId,
              status: last.status,
              window: last.window,
              findings: last.findings,
              alerts: last.alerts,
              finishedAt: last.finishedAt,
              error: last.error,
              partial: last.partial,
            }
          : null,
        status: !last ? "never-run" : last.status === "failed" ? "failing" : "ok",
      };
    }),
  );
  return { status: 200, body: { hunts } };
}

export async function runHuntRequest(app: Runtime, huntId: string, rawBody: unknown, now = Date.now()): Promise<ApiResponse> {
  const hunt = findHunt(huntId);
  if (!hunt) return { status: 404, body: { error: `no hunt '${huntId}'`, hunts: huntCatalog().map((h) => h.id) } };
  // An empty body means "the defaults"; JSON null, an array or a string is not a request.
  const parsed = RunRequestSchema.safeParse(rawBody);
  if (!parsed.success) return badRequest(parsed.error, rawBody);
  const body = parsed.data;
  const window =
    body.from && body.to
      ? { start: Date.parse(body.from), end: Date.parse(body.to) }
      : { start: now - durationMs(body.lookback ?? hunt.lookback), end: now };
  try {
    const { run, findings } = await runOnDemand(hunt, app.services, { window, dryRun: body.dryRun, notify: body.notify }, now);
    return { status: 200, body: { run, findings } };
  } catch (error) {
    return { status: 502, body: { error: `the hunt's query failed: ${(error as Error).message}` } };
  }
}

export async function getRunRequest(app: Runtime, runId: string): Promise<ApiResponse> {
  if (!/^[a-z0-9-]+\.[0-9TZ]+(\.adhoc-[0-9a-f]+)?$/.test(runId)) return { status: 400, body: { error: `'${runId}' is not a run id` } };
  if (!findHunt(huntOfRun(runId))) return { status: 404, body: { error: `no hunt '${huntOfRun(runId)}'` } };
  const run = await app.services.runs.get(runId);
  if (!run) return { status: 404, body: { error: `no run '${runId}'` } };
  const findings = await app.findings.ofRun(runId, Date.parse(run.window.end));
  return { status: 200, body: { run, findings } };
}

const GraphQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    lookback: Duration.default("1d"),
    maxNodes: z.coerce.number().int().min(10).max(20_000).default(5000),
  })
  .strict()
  .superRefine((q, ctx) => {
    if ((q.from === undefined) !== (q.to === undefined))
      ctx.addIssue({ code: "custom", path: [q.from ? "to" : "from"], message: "from and to go together" });
    checkRange(q.from, q.to, ctx);
    if (durationMs(q.lookback) > MAX_RANGE_MS) ctx.addIssue({ code: "custom", path: ["lookback"], message: "at most 31d" });
  });

/** GET graph data: the logon graph for a window (from/to, or lookback ending now). */
export async function graphDataRequest(app: Runtime, query: Record<string, string>, now = Date.now()): Promise<ApiResponse> {
  const parsed = GraphQuery.safeParse(query);
  if (!parsed.success) return badRequest(parsed.error, query);
  const q = parsed.data;
  const window = q.from && q.to ? { start: Date.parse(q.from), end: Date.parse(q.to) } : { start: now - durationMs(q.lookback), end: now };
  try {
    const history = { findings: app.findings, baselines: app.services.baselines };
    return { status: 200, body: await buildLogonGraph(app.services.source, window, { maxNodes: q.maxNodes, history }) };
  } catch (error) {
    return { status: 502, body: { error: `the graph's queries failed: ${(error as Error).message}` } };
  }
}

/** Days a "Mark benign" from a card lasts unless the reader says otherwise. */
export const BENIGN_DEFAULT_DAYS = 30;

export type PageResponse = { status: number; html: string };

/**
 * A signed link from a card: GET shows what it points at (an incident, a run, the "mark benign"
 * form); POST submits the form. Works without a function key: the signature is the permission.
 */
export async function linkRequest(runtime: Runtime, token: string, method: string, body: string, now = Date.now()): Promise<PageResponse> {
  let claims: LinkClaims;
  try {
    claims = runtime.links.signer!.verify(token, now);
  } catch (error) {
    return { status: error instanceof LinkError ? 403 : 400, html: messagePage("Link not valid", (error as Error).message) };
  }
  switch (claims.action) {
    case "incident": {
      const incident = await runtime.services.incidents.get(claims.incidentId);
      return incident
        ? { status: 200, html: incidentPage(incident) }
        : { status: 404, html: messagePage("Not found", `no incident ${claims.incidentId}`) };
    }
    case "run": {
      const run = await runtime.services.runs.get(claims.runId);
      if (!run) return { status: 404, html: messagePage("Not found", `no run ${claims.runId}`) };
      return { status: 200, html: runPage(run, await runtime.findings.ofRun(run.runId, Date.parse(run.window.end))) };
    }
    case "benign": {
      if (method !== "POST") return { status: 200, html: benignFormPage(claims.huntId, claims.entity, BENIGN_DEFAULT_DAYS) };
      const form = new URLSearchParams(body);
      const days = Number(form.get("days") || BENIGN_DEFAULT_DAYS);
      try {
        const exception = parseException(
          {
            huntId: claims.huntId,
            entityType: claims.entity.type,
            pattern: claims.entity.value,
            reason: form.get("reason") ?? "",
            author: form.get("author") ?? "",
            expiresAt: new Date(now + (Number.isFinite(days) ? days : BENIGN_DEFAULT_DAYS) * 86_400_000).toISOString(),
          },
          "teams",
          now,
        );
        await runtime.services.exceptions.add(exception);
        return {
          status: 200,
          html: messagePage(
            "Marked benign",
            `${claims.entity.value} will not alert on ${claims.huntId} until ${exception.expiresAt} (exception ${exception.id}).`,
          ),
        };
      } catch (error) {
        return { status: 400, html: messagePage("Not marked", (error as Error).message) };
      }
    }
  }
}

export async function getIncidentRequest(runtime: Runtime, id: string): Promise<ApiResponse> {
  if (!/^inc-[A-Za-z0-9_-]{1,40}$/.test(id)) return { status: 400, body: { error: `'${id}' is not an incident id` } };
  const incident = await runtime.services.incidents.get(id);
  return incident ? { status: 200, body: incident } : { status: 404, body: { error: `no incident '${id}'` } };
}

export async function listExceptionsRequest(runtime: Runtime, now = Date.now()): Promise<ApiResponse> {
  return { status: 200, body: { exceptions: await runtime.services.exceptions.list(now) } };
}

export async function addExceptionRequest(runtime: Runtime, rawBody: unknown, now = Date.now()): Promise<ApiResponse> {
  try {
    const exception = await runtime.services.exceptions.add(parseException(rawBody, "api", now));
    return { status: 201, body: exception };
  } catch (error) {
    if (error instanceof ExceptionError) return { status: 400, body: { error: "invalid exception", detail: error.message } };
    throw error;
  }
}

export async function removeExceptionRequest(runtime: Runtime, id: string): Promise<ApiResponse> {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) return { status: 400, body: { error: `'${id}' is not an exception id` } };
  return (await runtime.services.exceptions.remove(id))
    ? { status: 204, body: null }
    : { status: 404, body: { error: `no exception '${id}'` } };
}
