/**
 * A local stand-in for the notification endpoints, for `npm start` and tests: `/teams` takes
 * Workflows-webhook messages, `/webhook` takes Standard Webhooks, whose signatures it verifies
 * (with the `standardwebhooks` package, not our own signing code). What it receives is written
 * to a folder, one JSON file per delivery.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { closeServer, listenOnLoopback, readRequestText } from "./http.js";

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: unknown;
  verified: boolean | null;
}

export interface Receiver {
  url: string;
  received: Received[];
  stop(): Promise<void>;
}

export async function startReceiver(options: { secret?: string; outDir?: string } = {}): Promise<Receiver> {
  const received: Received[] = [];
  const verifier = options.secret ? new Webhook(options.secret) : undefined;
  if (options.outDir) mkdirSync(options.outDir, { recursive: true });
  const server: Server = createServer((req, res) => {
    void readRequestText(req).then((text) => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified: boolean | null = null;
      if (req.url === "/webhook" && verifier) {
        try {
          verifier.verify(text, headers);
          verified = true;
        } catch {
          verified = false;
        }
      }
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text
      }
      const entry = { path: req.url ?? "", headers, body, verified };
      received.push(entry);
      if (options.outDir) {
        const name = `${String(received.length).padStart(3, "0")}-${(req.url ?? "").replace(/\W/g, "") || "root"}.json`;
        writeFileSync(join(options.outDir, name), `${JSON.stringify(entry, null, 2)}\n`);
      }
      res.statusCode = verified === false ? 401 : 202;
      res.end();
    });
  });
  const port = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, received, stop: () => closeServer(server) };
}
