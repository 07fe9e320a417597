/**
 * `hunts serve`: the Functions app without the Functions host. Timers fire on their NCRONTAB
 * schedules, the HTTP API answers on localhost, and the queue notifier polls the findings queue
 * with the host's dequeue and poison rules.
 */
import { createServer, type Server } from "node:http";
import { handleFindingMessage, type App } from "../app.js";
import { huntCatalog } from "../hunts/catalog.js";
import { nextOccurrence } from "../hunts/schedule.js";
import {
  getRunRequest,
  graphDataRequest,
  listHunts,
  parseJsonBody,
  runHuntRequest,
  validateKqlRequest,
  type ApiResponse,
} from "../http/api.js";
import { logonGraphPage } from "../logontracer/page/page.js";
import { describeDigests, sendDigest } from "../notify/notifier.js";
import { describeScheduledRun, runScheduled } from "../runs/runner.js";
import { readQueueSettings } from "./host-settings.js";
import { closeServer, listenOnLoopback, readRequestText } from "./http.js";
import { startQueueWorker } from "./queue-worker.js";

export interface Running {
  url: string;
  stop(): Promise<void>;
}

async function route(app: App, method: string, path: string, body: string, now: () => number): Promise<ApiResponse | { html: string }> {
  const url = new URL(path, "http://localhost");
  let m: RegExpMatchArray | null;
  if (method === "GET" && url.pathname === "/api/hunts") return listHunts(app);
  if (method === "GET" && url.pathname === "/api/graph") return { html: logonGraphPage("/api/graph/data") };
  if (method === "GET" && url.pathname === "/api/graph/data") return graphDataRequest(app, Object.fromEntries(url.searchParams), now());
  if (method === "POST" && (m = url.pathname.match(/^\/api\/hunts\/([^/]+)\/run$/))) {
    const parsed = parseJsonBody(body);
    return parsed.ok ? runHuntRequest(app, decodeURIComponent(m[1]), parsed.value) : parsed.response;
  }
  if (method === "POST" && url.pathname === "/api/kql/validate") {
    const parsed = parseJsonBody(body);
    return parsed.ok ? validateKqlRequest(parsed.value) : parsed.response;
  }
  if (method === "GET" && (m = url.pathname.match(/^\/api\/runs\/([^/]+)$/))) return getRunRequest(app, decodeURIComponent(m[1]));
  return { status: 404, body: { error: `no route ${method} ${url.pathname}` } };
}

export async function serve(
  app: App,
  options: { port?: number; log?: (m: string) => void; now?: () => number; timers?: boolean } = {},
): Promise<Running> {
  const log = options.log ?? console.log;
  const server: Server = createServer((req, res) => {
    readRequestText(req)
      .then((body) => route(app, req.method ?? "GET", req.url ?? "/", body, options.now ?? Date.now))
      .then((r) => {
        if ("html" in r) {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
          return res.end(r.html);
        }
        res.writeHead(r.status, { "content-type": "application/json" });
        res.end(JSON.stringify(r.body, null, 2));
      })
      .catch((error: Error) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: error.message }));
      });
  });
  const url = `http://127.0.0.1:${await listenOnLoopback(server, options.port ?? 7071)}`;

  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  const schedule = (name: string, expression: string, work: () => Promise<void>) => {
    const arm = () => {
      if (stopped || options.timers === false) return;
      const next = nextOccurrence(expression, new Date());
      const timer = setTimeout(() => {
        work()
          .catch((error: Error) => log(`${name}: ${error.message}`))
          .finally(arm);
      }, next.getTime() - Date.now());
      timers.push(timer);
    };
    arm();
  };
  for (const hunt of huntCatalog()) {
    schedule(hunt.id, app.settings.schedules[hunt.id] ?? hunt.schedule, async () => {
      const result = await runScheduled(hunt, app.services, Date.now());
      log(describeScheduledRun(hunt.id, result));
    });
  }
  schedule("digest", app.settings.DIGEST_SCHEDULE, async () => {
    const results = await sendDigest(app.findings, app.notifier);
    log(`digest: ${describeDigests(results)}`);
  });
  const worker = startQueueWorker(
    app.storage.queue("findings"),
    app.storage.queue("poison"),
    readQueueSettings(),
    (m) => handleFindingMessage(app, m),
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
