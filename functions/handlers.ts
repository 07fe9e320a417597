/** Function handlers: turn a trigger's input into a call of lib/host's tables, and the answer into the host's response. */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from "@azure/functions";
import type { ScheduledJob } from "../lib/host/jobs.js";
import type { Route } from "../lib/host/routes.js";
import { lineWithProperties, type Logger, type LogProperties } from "../lib/log.js";
import { handleQueueMessage } from "../lib/notify/queue.js";
import { getRuntime } from "./runtime-instance.js";

/**
 * Lines go through the invocation's context, so they belong to it in Application Insights (the
 * `traces` table); their properties ride in the text (lineWithProperties), which is all the host keeps.
 */
export function invocationLogger(context: InvocationContext): Logger {
  const line = (message: string, properties?: LogProperties) =>
    properties ? lineWithProperties(message, { invocationId: context.invocationId, ...properties }) : message;
  return {
    info: (message, properties) => context.log(line(message, properties)),
    warn: (message, properties) => context.warn(line(message, properties)),
    error: (message, properties) => context.error(line(message, properties)),
  };
}

export function timerHandler(job: ScheduledJob) {
  return async (timer: Timer, context: InvocationContext): Promise<void> => {
    const log = invocationLogger(context);
    if (timer.isPastDue) log.info(`${job.name}: timer is past due; catching up from the watermark`);
    await job.run(await getRuntime(), log, Date.now());
  };
}

export function httpHandler(route: Route) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const result = await route.handle(await getRuntime(), {
      params: { ...request.params },
      query: Object.fromEntries(request.query.entries()),
      body: route.method === "POST" ? await request.text() : "",
      now: Date.now(),
    });
    if ("html" in result)
      return { status: result.status ?? 200, headers: { "content-type": "text/html; charset=utf-8" }, body: result.html };
    if (result.status >= 500) invocationLogger(context).error(`${route.name}: ${result.status}`, { route: route.name });
    return { status: result.status, jsonBody: result.body };
  };
}

export async function notifyFindingQueue(message: unknown, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const result = await handleQueueMessage(
    { ...runtime.notifier, log: invocationLogger(context) },
    runtime.storage.queue("poison"),
    message,
  );
  invocationLogger(context).info(
    `finding message (dequeue ${JSON.stringify(context.triggerMetadata?.dequeueCount ?? "?")}): ${JSON.stringify(result)}`,
  );
}
