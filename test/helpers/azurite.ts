import { TableClient } from "@azure/data-tables";
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

/**
 * A second client of `client`'s table whose transactions first await `before` (given the $batch
 * body): a writer racing them, on the wire path every transaction takes.
 */
export function clientRacingTransactions(storage: Storage, client: TableClient, before: (body: string) => Promise<void>): TableClient {
  if (storage.config.kind !== "connection-string") throw new Error("tests use Azurite's connection string");
  const racing = TableClient.fromConnectionString(storage.config.connectionString, client.tableName, { allowInsecureConnection: true });
  racing.pipeline.addPolicy({
    name: "raceBeforeTransaction",
    async sendRequest(request, next) {
      if (request.method === "POST" && new URL(request.url).pathname.endsWith("/$batch"))
        await before(typeof request.body === "string" ? request.body : "");
      return next(request);
    },
  });
  return racing;
}
