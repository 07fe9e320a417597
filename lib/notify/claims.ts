/**
 * Delivery claims (table `<prefix>deliveries`): before a message goes to a destination, the
 * notifier claims (message, destination) with a conditional insert. The Functions host hands a
 * batch of queue messages to the function at once and a crashed enqueue can leave duplicates, so
 * two invocations may hold the same notice: only the one that claims it sends it.
 *   PartitionKey <destination key>  RowKey <message id>   status sending | sent, since
 * A claim left `sending` by a crashed sender is taken over once it is older than the lease.
 */
import { createHash } from "node:crypto";
import type { TableClient } from "@azure/data-tables";
import { encodeKey } from "../state/keys.js";
import { deleteWhere, epochMsLiteral, getEntityOrUndefined, isConflict, type TimeBudget } from "../state/tables.js";
import type { Destination } from "./destinations.js";

/** A send that has not finished after this long is taken to have died with its process. */
export const CLAIM_LEASE_MS = 5 * 60_000;

export type ClaimResult = "claimed" | "sent" | "in-progress";

/** A destination is its URL: a new URL under the same name is a new destination. */
export function destinationKey(destination: Destination): string {
  return `${destination.id}~${createHash("sha256").update(destination.url).digest("hex").slice(0, 16)}`;
}

export class DeliveryClaims {
  constructor(private readonly client: TableClient) {}

  async claim(destination: Destination, messageId: string, now: number): Promise<ClaimResult> {
    const partitionKey = encodeKey(destinationKey(destination));
    const rowKey = encodeKey(messageId);
    try {
      await this.client.createEntity({ partitionKey, rowKey, status: "sending", since: now });
      return "claimed";
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
    const current = await getEntityOrUndefined<{ status: string; since: number }>(this.client, partitionKey, rowKey);
    if (!current) return this.claim(destination, messageId, now);
    if (current.status === "sent") return "sent";
    if (now - Number(current.since) < CLAIM_LEASE_MS) return "in-progress";
    try {
      await this.client.updateEntity({ partitionKey, rowKey, status: "sending", since: now }, "Replace", { etag: current.etag });
      return "claimed";
    } catch (error) {
      if (isConflict(error)) return "in-progress";
      throw error;
    }
  }

  async markSent(destination: Destination, messageId: string, now: number): Promise<void> {
    await this.client.upsertEntity(
      { partitionKey: encodeKey(destinationKey(destination)), rowKey: encodeKey(messageId), status: "sent", since: now },
      "Replace",
    );
  }

  /**
   * Deletes claims last written before `before`; returns how many. The queue keeps a message at
   * most 7 days, so a claim older than that has no message left that could ask for it again.
   */
  prune(before: number, budget?: TimeBudget): Promise<number> {
    return deleteWhere(this.client, `since lt ${epochMsLiteral(before)}`, { mode: "transactions", budget });
  }

  /** The send failed: let a retry claim it again. */
  async release(destination: Destination, messageId: string): Promise<void> {
    try {
      await this.client.deleteEntity(encodeKey(destinationKey(destination)), encodeKey(messageId));
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
}
