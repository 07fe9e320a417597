/**
 * The logon graph page with 10,000 nodes in headless Chromium: time until the graph is drawn, and
 * time to re-render after clicking a filter, measured in the browser.
 */
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { launchChromium } from "../lib/logontracer/page/chromium.js";
import type { GraphEdge, GraphNode, LogonGraph } from "../lib/logontracer/graph-data.js";
import { logonGraphPage } from "../lib/logontracer/page/page.js";
import { closeServer, listenOnLoopback } from "../lib/local/http.js";
import { SeededRandom } from "../lib/synth/random.js";
import type { BenchSection } from "./measure.js";

/** The few browser globals the in-page measurement uses. */
interface BrowserGlobals {
  document: { getElementById(id: string): { click(): void } | null };
  requestAnimationFrame(callback: () => void): number;
}

function syntheticGraph(nodesWanted: number): LogonGraph {
  const random = new SeededRandom(9);
  const accounts = Math.floor(nodesWanted * 0.3);
  const hosts = nodesWanted - accounts;
  const nodes: GraphNode[] = [];
  for (let i = 0; i < accounts; i++)
    nodes.push({
      id: `a:user${i}`,
      label: `user${i}`,
      kind: "account",
      privileged: i % 50 === 0,
      rank: 1 + random.next() * 3,
      degree: 0,
      logons: 0,
      failures: 0,
    });
  for (let i = 0; i < hosts; i++)
    nodes.push({
      id: `h:ws-${i}`,
      label: `ws-${i}`,
      kind: i % 4 === 0 ? "ip" : "host",
      privileged: false,
      rank: random.next() * 2,
      degree: 0,
      logons: 0,
      failures: 0,
    });
  const edges: GraphEdge[] = [];
  for (let i = 0; i < nodesWanted * 2; i++) {
    const failures = random.chance(0.1) ? random.int(1, 5) : 0;
    edges.push({
      id: `e${i}`,
      source: `a:user${random.int(0, accounts - 1)}`,
      target: `h:ws-${random.int(0, hosts - 1)}`,
      eventId: random.pick([4624, 4625, 4768, 4769, 4776]),
      logonType: random.pick([3, 10, 2, 5]),
      count: random.int(1, 50),
      failures,
    });
  }
  return {
    window: { start: "2024-10-21T00:00:00Z", end: "2024-10-22T00:00:00Z" },
    source: "synthetic",
    nodes,
    edges,
    timelines: {},
    truncated: false,
  };
}

export async function benchGraph(nodes: number): Promise<BenchSection> {
  const data = JSON.stringify(syntheticGraph(nodes));
  const html = logonGraphPage("/data");
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": req.url?.startsWith("/data") ? "application/json" : "text/html" });
    res.end(req.url?.startsWith("/data") ? data : html);
  });
  const url = `http://127.0.0.1:${await listenOnLoopback(server)}/`;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const started = performance.now();
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
    const readySeconds = (performance.now() - started) / 1000;
    // Runs in the page: the browser globals it uses, typed here (the Node program has no DOM types).
    const filterMs = await page.evaluate(async () => {
      const browser = globalThis as unknown as BrowserGlobals;
      const t0 = performance.now();
      browser.document.getElementById("f-failures")?.click();
      await new Promise<void>((resolve) => browser.requestAnimationFrame(() => resolve()));
      return performance.now() - t0;
    });
    const shown = await page.textContent("#counts");
    const result = {
      nodes,
      edges: nodes * 2,
      secondsToFirstDraw: Number(readySeconds.toFixed(2)),
      filterClickToRedrawMs: Math.round(filterMs),
      afterFilter: shown,
    };
    console.log(`graph: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await browser.close();
    await closeServer(server);
  }
}
