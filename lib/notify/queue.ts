/**
 * The queue notifier's work for one message from the `findings` queue. A message that is not a
 * finding can never succeed: it goes straight to the poison queue (nothing is lost) instead of
 * being retried.
 */
import type { QueueClient } from "@azure/storage-queue";
import { decodeFindingMessage } from "../findings/message.js";
import { notifyFinding, type NotifierDeps, type SendResult } from "./notifier.js";

export async function handleFindingMessage(
  notifier: NotifierDeps,
  poison: QueueClient,
  message: unknown,
): Promise<SendResult[] | { poisoned: string }> {
  let finding;
  try {
    finding = decodeFindingMessage(message);
  } catch (error) {
    const text = typeof message === "string" ? message : JSON.stringify(message);
    await poison.sendMessage(Buffer.from(text, "utf8").toString("base64"));
    return { poisoned: `not a finding: ${(error as Error).message.slice(0, 300)}` };
  }
  return notifyFinding(finding, notifier);
}
