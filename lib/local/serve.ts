/**
 * `hunts serve`: the Functions app without the Functions host. The same tables of jobs and routes
 * (lib/host) run here: timers fire on their NCRONTAB schedules, the HTTP API answers on localhost,
 * and the queue notifier polls the findings queue with the host's dequeue and poison rules.
 */
import { createServer, type Server } from "node:http";
import { scheduledJobs } from "../host/jobs.js";
import { matchRoute } from "../host/routes.js";
import { nextOccurrence } from "../hunts/schedule.js";
import { consoleLogger, type Logger } from "../log.js";
import { handleQueueMessage } from "../notify/queue.js";
import type { Runtime } from "../runtime.js";
import { readQueueSettings } from "./host-settings.js";
import type { IncomingMessage } from "node:http";
import { BodyTooLargeError, closeServer, listenOnLoopback, readRequestText } from "./http.js";
import { startQueueWorker } from "./queue-worker.js";

/** The API takes JSON bodies of at most this size (a validate request of 100 KB of KQL fits). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * `serve` answers only its own origin: the Host must be the loopback address it listens on (a
 * foreign Host is DNS rebinding), an Origin, when a browser sends one, must be the same, and a
 * POST carries JSON (a cross-site form cannot send it without a preflight) except a signed link's
 * form, whose token is its permission.
 */
export function checkRequest(req: IncomingMessage, port: number): { status: number; error: string } | undefined {
  const allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const host = req.headers.host ?? "";
  if (!allowedHosts.has(host.toLowerCase()))
    return { status: 421, error: `this server answers for 127.0.0.1:${port} only, not Host '${host}'` };
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedHosts.has(origin.replace(/^https?:\/\//i, "").toLowerCase()))
    return { status: 403, error: `cross-origin request from '${origin}' refused` };
  if (req.method === "POST" || req.method === "DELETE") {
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    const isLink = (req.url ?? "").startsWith("/api/links/");
    const expected = isLink ? "application/x-www-form-urlencoded" : "application/json";
    const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
    if (hasBody && type !== expected) return { status: 415, error: `a ${req.method} here takes ${expected}, not '${type || "(none)"}'` };
  }
  return undefined;
}

function isDecodable(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

export interface Running {
  url: string;
  stop(): Promise<void>;
}

export async function serve(
  runtime: Runtime,
  options: {
    port?: number;
    log?: Logger;
    now?: () => number;
    timers?: boolean;
    /** false when the caller drains the findings queue itself (a second consumer would race it). */
    queueWorker?: boolean;
  } = {},
): Promise<Running> {
  const log = options.log ?? consoleLogger;
  const now = options.now ?? Date.now;
  let port = 0;
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body, null, 2));
    };
    const refusal = checkRequest(req, port);
    if (refusal) return reply(refusal.status, { error: refusal.error });
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    // A path that cannot be decoded is a bad request, not a missing resource.
    if (!isDecodable(url.pathname)) return reply(400, { error: `the path ${url.pathname} has a malformed %-escape` });
    let matched: ReturnType<typeof matchRoute>;
    try {
      matched = url.pathname.startsWith("/api/") ? matchRoute(method, url.pathname.slice("/api/".length)) : undefined;
    } catch {
      matched = undefined;
    }
    if (!matched) return reply(404, { error: `no route ${method} ${url.pathname}` });
    const route = matched;
    readRequestText(req, MAX_BODY_BYTES)
      .then((body) => route.route.handle(runtime, { params: route.params, query: Object.fromEntries(url.searchParams), body, now: now() }))
      .then((result) => {
        if ("html" in result) {
          res.writeHead(result.status ?? 200, { "content-type": "text/html; charset=utf-8" });
          return res.end(result.html);
        }
        if (result.status === 204) {
          res.writeHead(204);
          return res.end();
        }
        reply(result.status, result.body);
      })
      .catch((error: Error) => {
        if (error instanceof BodyTooLargeError) return reply(413, { error: error.message });
        log.error(`serve: ${error.message}`);
        reply(500, { error: "internal error (see the server's log)" });
      });
  });
  port = await listenOnLoopback(server, options.port ?? 7071);
  const url = `http://127.0.0.1:${port}`;

  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  for (const job of scheduledJobs()) {
    const arm = () => {
      if (stopped || options.timers === false) return;
      const next = nextOccurrence(job.scheduleFor(runtime), new Date());
      const timer = setTimeout(() => {
        timers.delete(timer);
        job
          .run(runtime, log, Date.now())
          .catch((error: Error) => log.error(`${job.name}: ${error.message}`))
          .finally(arm);
      }, next.getTime() - Date.now());
      timers.add(timer);
    };
    arm();
  }
  const worker =
    options.queueWorker === false
      ? undefined
      : startQueueWorker(
          runtime.storage.queue("findings"),
          runtime.storage.queue("poison"),
          readQueueSettings(),
          (m) => handleQueueMessage(runtime.notifier, runtime.storage.queue("poison"), m),
          log,
        );
  return {
    url,
    stop: async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await worker?.stop();
      await closeServer(server);
    },
  };
}
