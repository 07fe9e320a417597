/**
 * How the page's browser code (browser/main.ts, with Cytoscape.js) becomes one script. `npm run
 * build` writes it beside the compiled page module (dist/lib/logontracer/page/), which is what the
 * Functions app serves. Run from source (tsx: `npm start`, tests, benchmarks) there is no such file,
 * so the page bundles the source in memory on first use: always the current code, nothing to
 * build or go stale first. esbuild is a development dependency, loaded only then.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as esbuild from "esbuild";

const PAGE_SCRIPT_SOURCE = fileURLToPath(new URL("./browser/main.ts", import.meta.url));
/** This module's folder: lib/logontracer/page, or its compiled copy under dist/. */
export const PAGE_DIR = fileURLToPath(new URL(".", import.meta.url));
export const PAGE_SCRIPT_FILE = "graph-page.bundle.js";
/** Where the built script sits: beside this module, in dist/ after `npm run build`. */
export const PAGE_SCRIPT_BUILT = fileURLToPath(new URL(`./${PAGE_SCRIPT_FILE}`, import.meta.url));

/** The one set of esbuild options, for the build step and for bundling on first use. */
export function pageScriptOptions(): esbuild.BuildOptions {
  return {
    entryPoints: [PAGE_SCRIPT_SOURCE],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify: true,
    logLevel: "silent",
  };
}

/** Bundles the page's script from source in memory (development dependency esbuild required). */
export function bundlePageScript(): string {
  let build: typeof esbuild;
  try {
    build = createRequire(import.meta.url)("esbuild") as typeof esbuild;
  } catch {
    throw new Error(
      `the graph page's script is not built (${PAGE_SCRIPT_BUILT}) and esbuild is not installed to bundle it: run npm run build`,
    );
  }
  const result = build.buildSync({ ...pageScriptOptions(), write: false });
  return result.outputFiles[0].text;
}

/** Writes the bundled script to `outfile` (the build step: dist/lib/logontracer/page/graph-page.bundle.js). */
export function writePageScript(outfile: string): void {
  const build = createRequire(import.meta.url)("esbuild") as typeof esbuild;
  build.buildSync({ ...pageScriptOptions(), outfile });
}
