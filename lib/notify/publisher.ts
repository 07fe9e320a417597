/** Puts notices on the `findings` queue for the notifier, base64-encoded as the Functions trigger expects. */
import type { QueueClient } from "@azure/storage-queue";
import type { Notice } from "../incidents/store.js";
import { encodeQueueMessage } from "./queue-message.js";

export class NoticePublisher {
  constructor(private readonly queue: QueueClient) {}

  async publish(notices: readonly Notice[]): Promise<number> {
    for (const notice of notices)
      await this.queue.sendMessage(
        encodeQueueMessage({ kind: "incident", incidentId: notice.incidentId, notice: notice.kind, runId: notice.runId }),
      );
    return notices.length;
  }
}
