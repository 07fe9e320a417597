/** Function handlers: parse the trigger's input, call lib/, shape the output. Nothing else. */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from "@azure/functions";
import { handleFindingMessage } from "../lib/app.js";
import { findHunt, importedHunts } from "../lib/hunts/catalog.js";
import {
  getRunRequest,
  graphDataRequest,
  listHunts,
  parseJsonBody,
  runHuntRequest,
  validateKqlRequest,
  type ApiResponse,
} from "../lib/http/api.js";
import { logonGraphPage } from "../lib/logontracer/page/page.js";
import { describeDigests, sendDigest } from "../lib/notify/notifier.js";
import { describeScheduledRun, runScheduled } from "../lib/runs/runner.js";
import { getApp } from "./app-instance.js";

function reply(response: ApiResponse): HttpResponseInit {
  return { status: response.status, jsonBody: response.body };
}

export function huntTimer(huntId: string) {
  return async (timer: Timer, context: InvocationContext): Promise<void> => {
    const hunt = findHunt(huntId)!;
    const app = await getApp();
    if (timer.isPastDue) context.log(`${huntId}: timer is past due; catching up from the watermark`);
    const result = await runScheduled(hunt, app.services, Date.now());
    context.log(describeScheduledRun(huntId, result));
  };
}

/** The generic timer: imported hunts cannot have timers of their own (function names are fixed at deploy time). */
export async function importedHuntsTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const app = await getApp();
  for (const hunt of importedHunts()) {
    try {
      // Due or not, the watermark decides: a hunt whose next window is not complete does nothing.
      const result = await runScheduled(hunt, app.services, Date.now());
      if (result.runs.length) context.log(describeScheduledRun(hunt.id, result));
    } catch (error) {
      context.error(`${hunt.id}: ${(error as Error).message}`);
    }
  }
}

export async function graphPageHttp(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, headers: { "content-type": "text/html; charset=utf-8" }, body: logonGraphPage("graph/data") };
}

export async function graphDataHttp(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return reply(await graphDataRequest(await getApp(), Object.fromEntries(request.query.entries())));
}

export async function listHuntsHttp(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return reply(await listHunts(await getApp()));
}

export async function runHuntHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = parseJsonBody(await request.text());
  if (!body.ok) return reply(body.response);
  const response = await runHuntRequest(await getApp(), request.params.id ?? "", body.value);
  context.log(`on-demand ${request.params.id}: ${response.status}`);
  return reply(response);
}

export async function getRunHttp(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return reply(await getRunRequest(await getApp(), request.params.runId ?? ""));
}

export async function validateKqlHttp(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const body = parseJsonBody(await request.text());
  return reply(body.ok ? validateKqlRequest(body.value) : body.response);
}

export async function notifyFindingQueue(message: unknown, context: InvocationContext): Promise<void> {
  const result = await handleFindingMessage(await getApp(), message);
  context.log(`finding message (dequeue ${String(context.triggerMetadata?.dequeueCount ?? "?")}): ${JSON.stringify(result)}`);
}

export async function digestTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const app = await getApp();
  const results = await sendDigest(app.findings, app.notifier);
  context.log(`digest: ${describeDigests(results)}`);
}
