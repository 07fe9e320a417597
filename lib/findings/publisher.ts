/** Puts alerting findings on the `findings` queue for the notifier, base64-encoded as the Functions trigger expects. */
import type { QueueClient } from "@azure/storage-queue";
import type { Finding } from "./finding.js";
import { encodeFindingMessage } from "./message.js";

export class FindingPublisher {
  constructor(private readonly queue: QueueClient) {}

  async publish(findings: readonly Finding[]): Promise<number> {
    for (const finding of findings) await this.queue.sendMessage(encodeFindingMessage(finding));
    return findings.length;
  }
}
