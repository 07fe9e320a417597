/**
 * The queue notifier's work for one message from the `findings` queue. A message that is neither
 * an incident notice nor a finding can never succeed: it goes straight to the poison queue as it
 * came (nothing is lost, nothing re-encoded) instead of being retried.
 */
import type { QueueClient } from "@azure/storage-queue";
import { notifyQueueMessage, type NotifierDeps, type SendResult } from "./notifier.js";
import { decodeQueueMessage, type QueueMessage } from "./queue-message.js";

/** The message as it was on the queue: base64 text stays as it is, anything else is encoded as the queue would. */
function originalText(message: unknown): string {
  if (typeof message === "string") return /^[A-Za-z0-9+/=\s]+$/.test(message) ? message : Buffer.from(message, "utf8").toString("base64");
  try {
    return Buffer.from(JSON.stringify(message) ?? "", "utf8").toString("base64");
  } catch (error) {
    // Too deeply nested to write back as it came (the host decoded it): say so instead of failing again.
    return Buffer.from(JSON.stringify({ unreadable: (error as Error).message }), "utf8").toString("base64");
  }
}

export async function handleQueueMessage(
  notifier: NotifierDeps,
  poison: QueueClient,
  message: unknown,
): Promise<SendResult[] | { poisoned: string }> {
  let decoded: QueueMessage;
  try {
    decoded = decodeQueueMessage(message);
  } catch (error) {
    await poison.sendMessage(originalText(message));
    return { poisoned: `not a notice or a finding: ${(error as Error).message.slice(0, 300)}` };
  }
  return notifyQueueMessage(decoded, notifier);
}
