/**
 * The command line loads what a command uses when it runs: a value import of lib/ at the top of
 * bin/hunts.ts would load the whole app (the Azure SDKs, the Kusto parser) for every command.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { scratchDir } from "../helpers/scratch.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "bin/hunts.ts");

describe("hunts command line start-up", () => {
  it("imports no lib/ module up front, only types", () => {
    const source = readFileSync(CLI, "utf8");
    const valueImports = [...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+"(\.\.\/lib\/[^"]+)"/gm)].map((m) => m[1]);
    expect(valueImports).toEqual([]);
  });

  it("convert loads neither the Azure SDKs nor the Kusto parser", () => {
    const out = scratchDir("convert-startup-");
    const file = join(ROOT, "test/fixtures/evtx/evtx-attack-samples/DE_104_system_log_cleared.evtx");
    const record = join(out, "modules.txt");
    const run = spawnSync(
      process.execPath,
      ["--import", join(ROOT, "test/helpers/record-modules.mjs"), "--import", "tsx", CLI, "convert", "--data", file, "--out", out],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, RECORD_MODULES: record } },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\.ndjson {2}\d+ \w+ rows/);
    const loaded = readFileSync(record, "utf8").split("\n");
    // It did record what it loaded: the readers.
    expect(loaded.some((url) => url.endsWith("/lib/readers/convert.ts"))).toBe(true);
    expect(loaded.filter((url) => /node_modules\/@(azure|kusto)\//.test(url))).toEqual([]);
  });
});
