/**
 * The Functions worker's runtime is built from the app settings on first use. A start that failed
 * (a bad setting, storage not reachable yet) must not be kept: once the setting is fixed the next
 * invocation starts, without a worker restart. Its own file: the worker's runtime is module state.
 */
import { afterEach, describe, expect, it } from "vitest";
import { getRuntime } from "../../functions/runtime-instance.js";
import { useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const saved = { ...process.env };

afterEach(() => {
  process.env = { ...saved };
});

describe("the worker's runtime", () => {
  it("a failed start is not cached: the next invocation starts again with the fixed settings", async () => {
    process.env = {
      ...saved,
      HUNT_SOURCE: "local",
      LOCAL_DATA_PATHS: "data/samples",
      AzureWebJobsStorage: "DefaultEndpointsProtocol=http;nonsense",
    };
    await expect(getRuntime()).rejects.toThrow(/AzureWebJobsStorage: not a storage connection string/);
    // Still wrong: the start is tried again (and fails again), not answered from the first failure.
    process.env.INCIDENT_WINDOW = "soon";
    await expect(getRuntime()).rejects.toThrow(/INCIDENT_WINDOW="soon"/);

    process.env = { ...saved, HUNT_SOURCE: "local", LOCAL_DATA_PATHS: "data/samples", AzureWebJobsStorage: azurite().connectionString };
    const runtime = await getRuntime();
    expect(runtime.settings.HUNT_SOURCE).toBe("local");
    // A started runtime is kept.
    expect(await getRuntime()).toBe(runtime);
  });
});
