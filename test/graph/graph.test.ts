import { mkdtempSync, rmSync } from "node:fs";
import { silentLogger } from "../../lib/log.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "../../lib/runtime.js";
import { launchChromium } from "../../lib/logontracer/page/chromium.js";
import { buildLogonGraph } from "../../lib/logontracer/graph.js";
import type { DrawnEdge, DrawnNode, GraphPageGlobals } from "../../lib/logontracer/page/page-state.js";
import { freePort } from "../../lib/local/azurite.js";
import { serve, type Running } from "../../lib/local/serve.js";
import { LocalSource } from "../../lib/sources/local.js";
import { generatedTables, generateOrgLogs } from "../../lib/synth/org.js";
import { findHunt } from "../../lib/hunts/catalog.js";
import { replay } from "../../lib/runs/replay.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const DAY = 86_400_000;
const logs = generateOrgLogs({ seed: 42, days: 14 });
const tables = generatedTables(logs);
const graphWindow = { from: new Date(logs.end - DAY).toISOString(), to: new Date(logs.end).toISOString() };

describe("logon graph data", () => {
  it("colours, ranks and labels LogonTracer's graph; the lateral mover ranks first among accounts", async () => {
    const graph = await buildLogonGraph(new LocalSource(tables), { start: logs.end - DAY, end: logs.end });
    const accounts = graph.nodes.filter((n) => n.kind === "account").sort((a, b) => b.rank - a.rank);
    expect(accounts[0].label).toBe(logs.labels.find((l) => l.scenario === "lateral-movement-burst")!.entity);
    expect(accounts[0].privileged).toBe(true);
    expect(graph.nodes.some((n) => n.kind === "host")).toBe(true);
    expect(graph.nodes.some((n) => n.kind === "ip")).toBe(true);
    expect(graph.edges.every((e) => [4624, 4625, 4768, 4769, 4776].includes(e.eventId) && e.count > 0)).toBe(true);
    const timeline = graph.timelines[accounts[0].label];
    expect(timeline.length).toBe(7 * 24);
    expect(timeline.some((p) => p.band === "critical")).toBe(true);
  });
});

describe("logon graph page in headless Chromium", () => {
  let running: Running;
  let browser: Browser;
  beforeAll(async () => {
    const storage = await freshStorage(azurite());
    const app = await createRuntime(
      { AzureWebJobsStorage: azurite().connectionString, HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "unused" },
      { storage, source: new LocalSource(tables), log: silentLogger },
    );
    // Build the LogonTracer hunts' history, so the page can show their findings and baselines.
    await replay([findHunt("logon-graph-rank")!, findHunt("logon-changepoint")!], app.services, { start: logs.start, end: logs.end });
    running = await serve(app, { port: await freePort(), timers: false, log: silentLogger });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
  });

  it("renders the graph with the bundled Cytoscape, filters on click, and exports", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(`${running.url}/api/graph?from=${graphWindow.from}&to=${graphWindow.to}`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    // Everything came from this server: no CDN.
    expect(requests.every((u) => u.startsWith(running.url))).toBe(true);

    // The callbacks run in the page, where the graph's state is on the global object.
    const all = await page.evaluate(() => {
      const { cy } = (globalThis as unknown as GraphPageGlobals).state;
      return { nodes: cy.nodes().length, edges: cy.edges().length };
    });
    expect(all.nodes).toBeGreaterThan(40);
    expect(await page.textContent("#counts")).toContain(`${all.nodes} nodes`);
    const firstRanked = await page.textContent("#ranking tr[data-id^='a:'] td:nth-child(2)");
    expect(firstRanked).toBeTruthy();

    // Colours: accounts blue, privileged red, hosts green.
    const colours = await page.evaluate(() => {
      const drawn = (globalThis as unknown as GraphPageGlobals).state.cy.nodes().map((n) => n.data() as DrawnNode);
      return [...new Set(drawn.map((n) => `${n.kind}:${n.color}`))].sort();
    });
    expect(colours).toEqual(expect.arrayContaining(["account:#2563eb", "account:#dc2626", "host:#16a34a", "ip:#16a34a"]));

    await page.click("#f-failures");
    const failed = await page.evaluate(() => {
      const { cy } = (globalThis as unknown as GraphPageGlobals).state;
      return { edges: cy.edges().length, allFailed: cy.edges().every((e) => (e.data() as DrawnEdge).failed) };
    });
    expect(failed.edges).toBeGreaterThan(0);
    expect(failed.edges).toBeLessThan(all.edges);
    expect(failed.allFailed).toBe(true);
    await page.click("#f-failures");

    await page.fill("#f-account", "noah.wilson");
    const accounts = await page.evaluate(() =>
      (globalThis as unknown as GraphPageGlobals).state.cy.nodes('[kind = "account"]').map((n) => (n.data() as DrawnNode).label),
    );
    expect(accounts).toEqual(["noah.wilson"]);
    await page.click("#ranking tr[data-id='a:noah.wilson']");
    expect(await page.textContent("#timeline")).toContain("noah.wilson");
    // The hunts' finding on this account and its usual host count from the baselines.
    expect(Number(await page.textContent("#ranking tr[data-id='a:noah.wilson'] td.finding"))).toBeGreaterThanOrEqual(50);
    expect(await page.textContent("#ranking tr[data-id='a:noah.wilson'] td:nth-child(4)")).toMatch(/^32 \(\d+(\.\d+)?\)$/);
    await page.fill("#f-account", "");

    // Only RDP logons: unchecking the other logon types removes network-logon edges.
    for (const type of ["3", "4", "5"]) await page.click(`input[name=logontype][value="${type}"]`);
    const types = await page.evaluate(() => {
      const { data, cy } = (globalThis as unknown as GraphPageGlobals).state;
      return [...new Set(data.edges.filter((e) => cy.getElementById(e.id).nonempty()).map((e) => e.logonType))];
    });
    expect(types).not.toContain(3);

    const download = page.waitForEvent("download");
    await page.click("#export-csv");
    const csv = await download;
    expect(csv.suggestedFilename()).toBe("logon-graph.csv");
    const pngDownload = page.waitForEvent("download");
    await page.click("#export-png");
    expect((await pngDownload).suggestedFilename()).toBe("logon-graph.png");
    const shots = mkdtempSync(join(tmpdir(), "graph-"));
    await page.screenshot({ path: join(shots, "graph.png") });
    rmSync(shots, { recursive: true, force: true });
  }, 120_000);
});
