/**
 * Notification state in Table Storage (table `<prefix>suppression`):
 *   PartitionKey `s~<destination>`  RowKey <hunt|entity>   sent; suppressed until `until`
 *   PartitionKey `disabled`         RowKey <destination>   the destination answered 410 Gone
 * and the digest watermark (table `<prefix>digests`): PartitionKey `digest`, RowKey <channel>.
 */
import { RestError, type TableClient } from "@azure/data-tables";
import { encodeKey } from "../state/keys.js";

export class NotifyState {
  constructor(
    private readonly suppression: TableClient,
    private readonly digests: TableClient,
  ) {}

  async isSuppressed(destinationId: string, key: string, now: number): Promise<boolean> {
    try {
      const entity = await this.suppression.getEntity<{ until: number }>(`s~${encodeKey(destinationId)}`, encodeKey(key));
      return Number(entity.until) > now;
    } catch (error) {
      if ((error as RestError).statusCode === 404) return false;
      throw error;
    }
  }

  async suppress(destinationId: string, key: string, until: number): Promise<void> {
    await this.suppression.upsertEntity({ partitionKey: `s~${encodeKey(destinationId)}`, rowKey: encodeKey(key), until }, "Replace");
  }

  async isDisabled(destinationId: string): Promise<boolean> {
    try {
      await this.suppression.getEntity("disabled", encodeKey(destinationId));
      return true;
    } catch (error) {
      if ((error as RestError).statusCode === 404) return false;
      throw error;
    }
  }

  async disable(destinationId: string, reason: string): Promise<void> {
    await this.suppression.upsertEntity({ partitionKey: "disabled", rowKey: encodeKey(destinationId), reason, at: new Date() }, "Replace");
  }

  async lastDigest(channel: string): Promise<number | undefined> {
    try {
      const entity = await this.digests.getEntity<{ until: number }>("digest", encodeKey(channel));
      return Number(entity.until);
    } catch (error) {
      if ((error as RestError).statusCode === 404) return undefined;
      throw error;
    }
  }

  async recordDigest(channel: string, until: number, count: number): Promise<void> {
    await this.digests.upsertEntity({ partitionKey: "digest", rowKey: encodeKey(channel), until, count }, "Replace");
  }
}
