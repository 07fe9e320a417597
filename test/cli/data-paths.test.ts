/** `hunts <cmd> --data PATH` with paths that do not exist, as a user meets it in a terminal. */
import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { scratchDir } from "../helpers/scratch.js";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url);

async function hunts(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "bin/hunts.ts", ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("hunts --data with missing paths", () => {
  const dir = scratchDir("cli-data-");
  const good = join(dir, "a.ndjson");
  writeFileSync(good, JSON.stringify({ Type: "SecurityEvent", TimeGenerated: "2024-01-01T00:00:00Z", EventID: 4625, Computer: "h" }));
  const missing = join(dir, "no-such-export.csv");

  it("one missing among good ones: a warning naming it, and the rest is read", async () => {
    const out = join(dir, "out-1");
    const result = await hunts(["convert", "--data", missing, "--data", good, "--out", out]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: ${missing}:0: no such file or folder`);
    expect(result.stdout).toMatch(/SecurityEvent\.ndjson {2}1 SecurityEvent rows/);
  }, 60_000);

  it("all missing: exit 1 with a message naming each path, not a raw ENOENT, and nothing written", async () => {
    const out = join(dir, "out-2");
    const other = join(dir, "logs");
    const result = await hunts(["convert", "--data", missing, "--data", other, "--out", out]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`${missing}: no such file or folder; ${other}: no such file or folder`);
    expect(result.stderr).not.toMatch(/ENOENT/);
    expect(existsSync(join(out, "SecurityEvent.ndjson"))).toBe(false);
  }, 60_000);

  it("backtest with no data there fails the same way", async () => {
    const result = await hunts(["backtest", "--data", missing]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`${missing}: no such file or folder`);
  }, 60_000);
});
