/** `hunts exceptions`: add, list and remove benign verdicts in the app's storage, as ops would from a terminal. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useAzurite } from "../helpers/azurite.js";

const run = promisify(execFile);
const azurite = useAzurite();
const root = new URL("../../", import.meta.url);

function hunts(args: string[]) {
  return run(process.execPath, ["--import", "tsx", "bin/hunts.ts", ...args], {
    cwd: root,
    env: {
      ...process.env,
      AzureWebJobsStorage: azurite().connectionString,
      STATE_TABLE_PREFIX: `cli${process.pid}`,
      HUNT_SOURCE: "local",
      LOCAL_DATA_PATHS: "data/samples",
    },
  });
}

describe("hunts exceptions", () => {
  it("adds, lists and removes an exception; a bad one is refused naming the field", async () => {
    const added = await hunts([
      "exceptions",
      "add",
      "--pattern",
      "10.20.*",
      "--type",
      "ip",
      "--hunt",
      "rare-device-connections",
      "--reason",
      "backup network",
      "--author",
      "ops",
      "--days",
      "30",
      "--json",
    ]);
    const exception = JSON.parse(added.stdout) as { id: string; origin: string; pattern: string };
    expect(exception).toMatchObject({ origin: "cli", pattern: "10.20.*" });
    const listed = JSON.parse((await hunts(["exceptions", "list", "--json"])).stdout) as { id: string }[];
    expect(listed.map((e) => e.id)).toContain(exception.id);
    expect((await hunts(["exceptions", "remove", exception.id])).stdout).toContain(`removed ${exception.id}`);
    expect(JSON.parse((await hunts(["exceptions", "list", "--json"])).stdout)).toEqual([]);
    await expect(
      hunts(["exceptions", "add", "--pattern", "x", "--reason", "ok reason", "--author", "me", "--days", "900"]),
    ).rejects.toThrow(/expiresAt: at most a year ahead/);
  }, 120_000);
});
