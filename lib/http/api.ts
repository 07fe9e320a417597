/**
 * The HTTP API, independent of the host: the Functions bindings and the local `serve` command
 * both call these and turn the result into their own response type.
 */
import { z } from "zod";
import type { App } from "../app.js";
import { durationMs, findHunt, huntCatalog, scheduleSettingName } from "../hunts/catalog.js";
import { Timespan } from "../hunts/schema.js";
import { nextOccurrence } from "../hunts/schedule.js";
import { runOnDemand } from "../runs/runner.js";
import { huntOfRun } from "../runs/store.js";
import { buildLogonGraph } from "../graph/logon-graph.js";
import { validateQuery } from "../kql/index.js";
import { TABLE_SCHEMAS } from "../schemas/index.js";

export interface ApiResponse {
  status: number;
  body: unknown;
}

export const RunRequestSchema = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    lookback: Timespan.optional(),
    dryRun: z.boolean().default(false),
    notify: z.boolean().default(false),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.from === undefined) !== (body.to === undefined))
      ctx.addIssue({ code: "custom", path: [body.from ? "to" : "from"], message: "from and to go together" });
    if (body.from && body.lookback)
      ctx.addIssue({ code: "custom", path: ["lookback"], message: "give either from/to or lookback, not both" });
    if (body.from && body.to && Date.parse(body.from) >= Date.parse(body.to))
      ctx.addIssue({ code: "custom", path: ["to"], message: "to must be after from" });
    if (body.lookback && durationMs(body.lookback) > 31 * 86_400_000)
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

export async function listHunts(app: App, now = Date.now()): Promise<ApiResponse> {
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

export async function runHuntRequest(app: App, huntId: string, rawBody: unknown, now = Date.now()): Promise<ApiResponse> {
  const hunt = findHunt(huntId);
  if (!hunt) return { status: 404, body: { error: `no hunt '${huntId}'`, hunts: huntCatalog().map((h) => h.id) } };
  const parsed = RunRequestSchema.safeParse(rawBody ?? {});
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

export async function getRunRequest(app: App, runId: string): Promise<ApiResponse> {
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
    lookback: Timespan.default("1d"),
    maxNodes: z.coerce.number().int().min(10).max(20_000).default(5000),
  })
  .strict()
  .superRefine((q, ctx) => {
    if ((q.from === undefined) !== (q.to === undefined))
      ctx.addIssue({ code: "custom", path: [q.from ? "to" : "from"], message: "from and to go together" });
  });

/** GET graph data: the logon graph for a window (from/to, or lookback ending now). */
export async function graphDataRequest(app: App, query: Record<string, string>, now = Date.now()): Promise<ApiResponse> {
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
