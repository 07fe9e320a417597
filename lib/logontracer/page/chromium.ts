/**
 * A headless Chromium for the graph page's tests, its benchmark and the README screenshot.
 * The system's Chromium when one is installed (CHROMIUM_PATH, else /usr/bin/chromium); otherwise the
 * build `@sparticuz/chromium` ships inside its npm package, so a fresh clone needs no apt step.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

const SYSTEM_CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Flags that keep a headless Chromium off this machine's closed network and quick to start. */
const QUIET_FLAGS = [
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
];

export async function launchChromium(): Promise<Browser> {
  if (existsSync(SYSTEM_CHROMIUM)) {
    return chromium.launch({ executablePath: SYSTEM_CHROMIUM, headless: true, args: ["--no-sandbox", ...QUIET_FLAGS] });
  }
  // A development dependency: only tests, benchmarks and the screenshot script launch a browser.
  const { default: bundled } = await import("@sparticuz/chromium");
  return chromium.launch({ executablePath: await bundled.executablePath(), headless: true, args: [...bundled.args, ...QUIET_FLAGS] });
}
