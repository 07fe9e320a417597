/**
 * The queue notifier outside the Functions host: polls the `findings` queue in Azurite (or
 * Azure) with the host's rules from host.json: base64 messages, a visibility timeout while a
 * message is worked on, and after maxDequeueCount failed attempts the message moves to
 * `findings-poison` unchanged, so nothing is lost. Like the host, it hands a whole batch to the
 * handler at once (up to `batchSize` messages in parallel), so the notifier's idempotency is
 * exercised locally as it is in Azure.
 */
import type { DequeuedMessageItem, QueueClient } from "@azure/storage-queue";
import type { Logger } from "../log.js";
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
  options: { log?: Logger; maxRounds?: number } = {},
): Promise<QueueWorkerResult> {
  const result: QueueWorkerResult = { handled: 0, failed: 0, poisoned: 0 };
  for (let round = 0; round < (options.maxRounds ?? Number.MAX_SAFE_INTEGER); round++) {
    const { receivedMessageItems } = await queue.receiveMessages({
      numberOfMessages: settings.batchSize,
      visibilityTimeout: settings.visibilityTimeoutSeconds,
    });
    if (!receivedMessageItems.length) break;
    const handleOne = async (item: DequeuedMessageItem) => {
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
        options.log?.warn(`message ${item.messageId} failed (attempt ${item.dequeueCount}): ${(error as Error).message}`);
        if (item.dequeueCount >= settings.maxDequeueCount) {
          await poison.sendMessage(item.messageText);
          await queue.deleteMessage(item.messageId, item.popReceipt);
          result.poisoned++;
        }
      }
    };
    await Promise.all(receivedMessageItems.map(handleOne));
  }
  return result;
}

/** Polls until stopped: the long-running form for `serve`. */
export function startQueueWorker(
  queue: QueueClient,
  poison: QueueClient,
  settings: QueueSettings,
  handle: (message: unknown) => Promise<unknown>,
  log?: Logger,
): { stop(): Promise<void> } {
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    // Back to back while there is work; when the queue is empty, wait longer each time up to the
    // host's maxPollingInterval, as the Functions host does.
    let idleMs = 0;
    while (!stopped) {
      let handled = 0;
      try {
        const round = await drainQueue(queue, poison, settings, handle, { log, maxRounds: 1 });
        handled = round.handled + round.failed;
      } catch (error) {
        log?.error(`queue worker: ${(error as Error).message}`);
      }
      if (handled) {
        idleMs = 0;
        continue;
      }
      idleMs = Math.min(settings.pollingIntervalMs, Math.max(100, idleMs * 2));
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, idleMs);
      });
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
