/**
 * serve's queue worker: back to back while there is work, a batch at a time as the host hands
 * them. The polling interval is ten minutes here, so a worker that slept between batches would not
 * get through the queue.
 */
import { describe, expect, it, vi } from "vitest";
import { startQueueWorker } from "../../lib/local/queue-worker.js";
import type { QueueSettings } from "../../lib/local/host-settings.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const SETTINGS: QueueSettings = {
  maxDequeueCount: 5,
  visibilityTimeoutSeconds: 30,
  batchSize: 8,
  pollingIntervalMs: 10 * 60_000,
  messageEncoding: "base64",
};

describe("serve's queue worker (Azurite)", () => {
  it("handles every waiting message back to back, a batch at once, without waiting between batches", async () => {
    const storage = await freshStorage(azurite());
    const queue = storage.queue("findings");
    for (let i = 0; i < 20; i++) await queue.sendMessage(Buffer.from(JSON.stringify({ n: i })).toString("base64"));
    const handled: number[] = [];
    let inFlight = 0;
    let mostAtOnce = 0;
    const worker = startQueueWorker(queue, storage.queue("poison"), SETTINGS, async (message) => {
      inFlight++;
      mostAtOnce = Math.max(mostAtOnce, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      handled.push((message as { n: number }).n);
      inFlight--;
    });
    await vi.waitFor(() => expect(handled).toHaveLength(20), { timeout: 60_000, interval: 50 });
    await worker.stop();
    expect([...handled].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(mostAtOnce).toBeGreaterThan(1);
    expect((await queue.receiveMessages()).receivedMessageItems).toEqual([]);
  }, 90_000);
});
