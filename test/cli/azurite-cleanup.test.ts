/**
 * A CLI command that starts its private Azurite stops it on every way out: a settings error, and
 * the command being killed outright. Azurite processes are found by a mark in their environment
 * (inherited from the command), so Azurites of other test files running at the same time are not
 * counted, and any this test leaks are stopped by their pid.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const MARK = "HUNTS_TEST_AZURITE_MARK";

/** Azurite processes whose environment carries this mark. */
function markedAzurites(mark: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8");
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (environ.split("\0").includes(`${MARK}=${mark}`) && cmdline.includes("azurite")) pids.push(Number(entry));
    } catch {
      // The process ended while being read, or is not ours to read.
    }
  }
  return pids;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

const marks: string[] = [];
afterEach(() => {
  for (const pid of marks.splice(0).flatMap(markedAzurites)) process.kill(pid, "SIGKILL");
});

/** `hunts <args>` in a clean environment (no storage setting: it starts its private Azurite). */
function hunts(args: string[], env: Record<string, string>) {
  const mark = randomUUID();
  marks.push(mark);
  const child = spawn(process.execPath, ["--import", "tsx", "bin/hunts.ts", ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", [MARK]: mark, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, mark, exited, output: () => ({ stdout, stderr }) };
}

describe.skipIf(process.platform !== "linux")("the CLI's private Azurite does not outlive the command", () => {
  it("`hunts digest` with a malformed setting exits 1 and leaves no Azurite behind", async () => {
    const run = hunts(["digest"], { HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "data/samples", NOTIFY_WEBHOOK_URL: "javascript:alert(1)" });
    const { code } = await run.exited;
    expect(run.output().stderr).toContain("NOTIFY_WEBHOOK_URL: must be an https URL, not javascript:");
    expect(code).toBe(1);
    expect(await waitFor(() => markedAzurites(run.mark).length === 0, 15_000)).toBe(true);
  }, 60_000);

  it("`hunts serve` killed with SIGKILL (no handler runs) still takes its Azurite with it", async () => {
    const run = hunts(["serve", "--data", "data/samples", "--port", "0"], {});
    try {
      expect(await waitFor(() => run.output().stdout.includes("serving the API"), 45_000)).toBe(true);
      expect(markedAzurites(run.mark).length).toBe(1);
    } finally {
      run.child.kill("SIGKILL");
    }
    expect((await run.exited).signal).toBe("SIGKILL");
    expect(await waitFor(() => markedAzurites(run.mark).length === 0, 15_000)).toBe(true);
  }, 90_000);
});
