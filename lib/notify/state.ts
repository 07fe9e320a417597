/**
 * Notification state in Table Storage (table `<prefix>suppression`):
 *   PartitionKey `s~<destination>`  RowKey <hunt|entity>   sent; suppressed until `until`
 *   PartitionKey `disabled`         RowKey <destination>   the destination answered 410 Gone
 * and the digest watermark (table `<prefix>digests`): PartitionKey `digest`, RowKey <channel>.
 */
import type { TableClient } from "@azure/data-tables";
import { encodeKey } from "../state/keys.js";
import { getEntityOrUndefined } from "../state/tables.js";

export class NotifyState {
  constructor(
    private readonly suppression: TableClient,
    private readonly digests: TableClient,
  ) {}

  async isSuppressed(destinationId: string, key: string, now: number): Promise<boolean> {
    const entity = await getEntityOrUndefined<{ until: number }>(this.suppression, `s~${encodeKey(destinationId)}`, encodeKey(key));
    return entity !== undefined && Number(entity.until) > now;
  }

  async suppress(destinationId: string, key: string, until: number): Promise<void> {
    await this.suppression.upsertEntity({ partitionKey: `s~${encodeKey(destinationId)}`, rowKey: encodeKey(key), until }, "Replace");
  }

  async isDisabled(destinationId: string): Promise<boolean> {
    return (await getEntityOrUndefined(this.suppression, "disabled", encodeKey(destinationId))) !== undefined;
  }

  async disable(destinationId: string, reason: string): Promise<void> {
    await this.suppression.upsertEntity({ partitionKey: "disabled", rowKey: encodeKey(destinationId), reason, at: new Date() }, "Replace");
  }

  async lastDigest(channel: string): Promise<number | undefined> {
    const entity = await getEntityOrUndefined<{ until: number }>(this.digests, "digest", encodeKey(channel));
    return entity && Number(entity.until);
  }

  async recordDigest(channel: string, until: number, count: number): Promise<void> {
    await this.digests.upsertEntity({ partitionKey: "digest", rowKey: encodeKey(channel), until, count }, "Replace");
  }
}
