import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runDemo } from "../../lib/local/demo.js";

describe("npm start, end to end", () => {
  it("starts Azurite, replays the local dataset, delivers verified alerts and a digest, and finds every injected attack", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "hunts-start-"));
    const lines: string[] = [];
    const result = await runDemo({ outDir, log: (m) => lines.push(m) });
    expect(result.recall).toBe(1);
    expect(result.falsePositives).toBe(0);
    expect(result.alerts).toBeGreaterThan(5);
    // Alerts come as incidents: at least one notice per incident, never more than one per alert.
    expect(result.incidents).toBeGreaterThan(0);
    expect(result.incidents).toBeLessThanOrEqual(result.alerts);
    expect(result.delivered).toBeGreaterThanOrEqual(result.incidents);
    expect(result.delivered).toBeLessThanOrEqual(result.alerts);
    const received = readdirSync(join(outDir, "received")).map(
      (f) =>
        JSON.parse(readFileSync(join(outDir, "received", f), "utf8")) as {
          path: string;
          verified: boolean | null;
          body: { type?: string };
        },
    );
    const webhooks = received.filter((r) => r.path === "/webhook");
    expect(webhooks.length).toBeGreaterThan(0);
    expect(webhooks.every((r) => r.verified === true)).toBe(true);
    expect(webhooks.some((r) => r.body.type === "digest.created")).toBe(true);
    expect(received.some((r) => r.path === "/teams")).toBe(true);
    const digest = JSON.parse(readFileSync(join(outDir, "digest.json"), "utf8")) as { findings: { score: number }[]; responder: unknown[] };
    expect(digest.findings.map((f) => f.score)).toEqual([...digest.findings.map((f) => f.score)].sort((a, b) => b - a));
    expect(digest.responder.length).toBeGreaterThan(0);
    expect(lines.some((l) => /recall 100%, 0 false positive/.test(l))).toBe(true);
    rmSync(outDir, { recursive: true, force: true });
  }, 300_000);
});
