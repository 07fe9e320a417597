/**
 * The queue notifier outside the Functions host: polls the `findings` queue in Azurite (or
 * Azure) with the host's rules from host.json: base64 messages, a visibility timeout while a
 * message is worked on, and after maxDequeueCount failed attempts the message moves to
 * `findings-poison` unchanged, so nothing is lost.
 */
import type { QueueClient } from "@azure/storage-queue";
import type { QueueSettings } from "./host-settings.js";

export interface QueueWorkerResult {
  handled: number;
  failed: number;
  poisoned: number;
}

export async function drainQueue(
  queue: QueueClient,
  poison: QueueClient,
  settings: QueueSettings,
  handle: (message: unknown) => Promise<unknown>,
  options: { log?: (m: string) => void; maxRounds?: number } = {},
): Promise<QueueWorkerResult> {
  const result: QueueWorkerResult = { handled: 0, failed: 0, poisoned: 0 };
  for (let round = 0; round < (options.maxRounds ?? Number.MAX_SAFE_INTEGER); round++) {
    const { receivedMessageItems } = await queue.receiveMessages({
      numberOfMessages: settings.batchSize,
      visibilityTimeout: settings.visibilityTimeoutSeconds,
    });
    if (!receivedMessageItems.length) break;
    for (const item of receivedMessageItems) {
      const text = settings.messageEncoding === "base64" ? Buffer.from(item.messageText, "base64").toString("utf8") : item.messageText;
      let payload: unknown = text;
      try {
        payload = JSON.parse(text);
      } catch {
        // Leave it as text: the handler decides what a non-JSON message means.
      }
      try {
        await handle(payload);
        await queue.deleteMessage(item.messageId, item.popReceipt);
        result.handled++;
      } catch (error) {
        result.failed++;
        options.log?.(`message ${item.messageId} failed (attempt ${item.dequeueCount}): ${(error as Error).message}`);
        if (item.dequeueCount >= settings.maxDequeueCount) {
          await poison.sendMessage(item.messageText);
          await queue.deleteMessage(item.messageId, item.popReceipt);
          result.poisoned++;
        }
      }
    }
  }
  return result;
}

/** Polls until stopped: the long-running form for `serve`. */
export function startQueueWorker(
  queue: QueueClient,
  poison: QueueClient,
  settings: QueueSettings,
  handle: (message: unknown) => Promise<unknown>,
  log?: (m: string) => void,
): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        await drainQueue(queue, poison, settings, handle, { log, maxRounds: 1 });
      } catch (error) {
        log?.(`queue worker: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, settings.pollingIntervalMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
