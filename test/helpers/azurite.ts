import { afterAll, beforeAll } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../lib/local/azurite.js";
import { Storage } from "../../lib/state/storage.js";

/** Starts a private in-memory Azurite on free ports for this test file and stops it afterwards. */
export function useAzurite(): () => AzuriteInstance {
  let instance: AzuriteInstance | undefined;
  beforeAll(async () => {
    instance = await startAzurite({ inMemory: true });
  }, 60_000);
  afterAll(async () => {
    await instance?.stop();
  });
  return () => {
    if (!instance) throw new Error("Azurite is not running");
    return instance;
  };
}

let counter = 0;

/** Tables and queues under a fresh prefix, so tests in one file do not see each other's state. */
export async function freshStorage(azurite: AzuriteInstance): Promise<Storage> {
  const storage = new Storage({
    kind: "connection-string",
    connectionString: azurite.connectionString,
    tablePrefix: `t${process.pid}x${++counter}`,
  });
  await storage.ensure();
  return storage;
}
