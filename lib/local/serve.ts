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
import { handleFindingMessage } from "../notify/queue.js";
import type { Runtime } from "../runtime.js";
import { readQueueSettings } from "./host-settings.js";
import { closeServer, listenOnLoopback, readRequestText } from "./http.js";
import { startQueueWorker } from "./queue-worker.js";

export interface Running {
  url: string;
  stop(): Promise<void>;
}

export async function serve(
  runtime: Runtime,
  options: { port?: number; log?: Logger; now?: () => number; timers?: boolean } = {},
): Promise<Running> {
  const log = options.log ?? consoleLogger;
  const now = options.now ?? Date.now;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    const matched = url.pathname.startsWith("/api/") ? matchRoute(method, url.pathname.slice("/api/".length)) : undefined;
    if (!matched) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `no route ${method} ${url.pathname}` }));
      return;
    }
    readRequestText(req)
      .then((body) =>
        matched.route.handle(runtime, { params: matched.params, query: Object.fromEntries(url.searchParams), body, now: now() }),
      )
      .then((result) => {
        if ("html" in result) {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
          return res.end(result.html);
        }
        res.writeHead(result.status, { "content-type": "application/json" });
        res.end(JSON.stringify(result.body, null, 2));
      })
      .catch((error: Error) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: error.message }));
      });
  });
  const url = `http://127.0.0.1:${await listenOnLoopback(server, options.port ?? 7071)}`;

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
  const worker = startQueueWorker(
    runtime.storage.queue("findings"),
    runtime.storage.queue("poison"),
    readQueueSettings(),
    (m) => handleFindingMessage(runtime.notifier, runtime.storage.queue("poison"), m),
    log,
  );
  return {
    url,
    stop: async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await worker.stop();
      await closeServer(server);
    },
  };
}
