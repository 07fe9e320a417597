/**
 * `npm run screenshot`: the logon graph of the local dataset's attack day, rendered by headless
 * Chromium exactly as the tests do, saved as docs/logon-graph.png for the README.
 */
import { silentLogger } from "../lib/log.js";
import { mkdirSync } from "node:fs";
import { createRuntime } from "../lib/runtime.js";
import { launchChromium } from "../lib/logontracer/page/chromium.js";
import { freePort, startAzurite } from "../lib/local/azurite.js";
import { serve } from "../lib/local/serve.js";
import { LocalSource } from "../lib/sources/local.js";
import { LOCAL_DATASET_OPTIONS } from "../lib/synth/local-dataset.js";
import { generatedTables, generateOrgLogs } from "../lib/synth/org.js";

const logs = generateOrgLogs(LOCAL_DATASET_OPTIONS);
const tables = generatedTables(logs);
const azurite = await startAzurite({ inMemory: true });
const app = await createRuntime(
  { AzureWebJobsStorage: azurite.connectionString, HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "unused" },
  { source: new LocalSource(tables), log: silentLogger },
);
const running = await serve(app, { port: await freePort(), timers: false, log: silentLogger });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  const from = new Date(logs.end - 86_400_000).toISOString();
  await page.goto(`${running.url}/api/graph?from=${from}&to=${new Date(logs.end).toISOString()}`);
  await page.waitForSelector("body[data-ready=true]");
  await page.click("#ranking tr[data-id^='a:']");
  await page.waitForTimeout(500);
  mkdirSync(new URL("../docs/", import.meta.url), { recursive: true });
  await page.screenshot({ path: new URL("../docs/logon-graph.png", import.meta.url).pathname });
  console.log("wrote docs/logon-graph.png");
} finally {
  await browser.close();
  await running.stop();
  await azurite.stop();
}
