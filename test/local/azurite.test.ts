import { readdirSync, readFileSync } from "node:fs";
import { TableServiceClient } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { startAzurite } from "../../lib/local/azurite.js";

/** Process ids of this process's children running Azurite (Linux /proc). */
function azuriteChildren(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return parent === process.pid && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("azurite");
      } catch {
        return false; // The process ended meanwhile.
      }
    })
    .map(Number);
}

async function exited(pids: number[], withinMs: number): Promise<boolean> {
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50)))
    if (pids.every((pid) => !azuriteChildren().includes(pid))) return true;
  return false;
}

describe("startAzurite", () => {
  it("does the caller's set-up once Azurite is spawned, while it starts, and serves afterwards", async () => {
    const seen: number[][] = [];
    const azurite = await startAzurite({ inMemory: true, whileStarting: () => seen.push(azuriteChildren()) });
    try {
      expect(seen).toHaveLength(1);
      expect(seen[0]).toHaveLength(1);
      const service = TableServiceClient.fromConnectionString(azurite.connectionString, { allowInsecureConnection: true });
      await service.createTable("startedwhilewarming");
      const names: string[] = [];
      for await (const table of service.listTables()) names.push(table.name!);
      expect(names).toContain("startedwhilewarming");
    } finally {
      await azurite.stop();
    }
  }, 60_000);

  it("a set-up that throws fails the start with its error and stops the Azurite it spawned", async () => {
    let spawned: number[] = [];
    await expect(
      startAzurite({
        inMemory: true,
        whileStarting: () => {
          spawned = azuriteChildren();
          throw new Error("set-up failed");
        },
      }),
    ).rejects.toThrow("set-up failed");
    expect(spawned).toHaveLength(1);
    expect(await exited(spawned, 10_000)).toBe(true);
  }, 60_000);
});
