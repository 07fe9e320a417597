/**
 * Notification state in Table Storage (table `<prefix>suppression`):
 *   PartitionKey `s~<destination>`  RowKey <hunt|entity>   sent; suppressed until `until`
 *   PartitionKey `disabled`         RowKey <destination>   the destination's URL answered 410 Gone
 * and the digest watermark (table `<prefix>digests`): PartitionKey `digest`, RowKey <channel>.
 *
 * 410 Gone is an answer about a URL, not about the name of a setting: a disabled row records a
 * fingerprint of the URL that answered it (a hash: the URL itself is a secret), and once the
 * setting points somewhere else the destination is enabled again.
 */
import { createHash } from "node:crypto";
import type { TableClient } from "@azure/data-tables";
import type { Logger } from "../log.js";
import { encodeKey } from "../state/keys.js";
import { deleteWhere, epochMsLiteral, getEntityOrUndefined, isLostRace, type TimeBudget } from "../state/tables.js";
import type { Destination } from "./destinations.js";

export interface NotifyStateOptions {
  /** The configured destinations: their URLs decide whether an earlier 410 still applies. */
  destinations: readonly Pick<Destination, "id" | "url">[];
  log?: Logger;
}

/** Tells URLs apart without storing them. */
export function urlFingerprint(url: string): string {
  return createHash("sha256").update(url).digest("hex").slice(0, 32);
}

export class NotifyState {
  private readonly urls: Map<string, string>;
  private readonly log?: Logger;

  constructor(
    private readonly suppression: TableClient,
    private readonly digests: TableClient,
    options: NotifyStateOptions,
  ) {
    this.urls = new Map(options.destinations.map((d) => [d.id, d.url]));
    this.log = options.log;
  }

  async isSuppressed(destinationId: string, key: string, now: number): Promise<boolean> {
    const entity = await getEntityOrUndefined<{ until: number }>(this.suppression, `s~${encodeKey(destinationId)}`, encodeKey(key));
    return entity !== undefined && Number(entity.until) > now;
  }

  async suppress(destinationId: string, key: string, until: number): Promise<void> {
    await this.suppression.upsertEntity({ partitionKey: `s~${encodeKey(destinationId)}`, rowKey: encodeKey(key), until }, "Replace");
  }

  /**
   * Deletes suppressions that ran out by `now` (they no longer hold anything back) and digest
   * watermarks older than `digestsBefore`; returns how many rows. Conditional on the listed etag:
   * a suppression renewed meanwhile stays.
   */
  async prune(now: number, digestsBefore: number, budget?: TimeBudget): Promise<{ suppression: number; digests: number }> {
    const expired = `PartitionKey ge 's~' and PartitionKey lt 's~~' and until lt ${epochMsLiteral(now)}`;
    return {
      suppression: await deleteWhere(this.suppression, expired, { mode: "unchanged", budget }),
      digests: await deleteWhere(this.digests, `PartitionKey eq 'digest' and until lt ${epochMsLiteral(digestsBefore)}`, {
        mode: "unchanged",
        budget,
      }),
    };
  }

  async isDisabled(destinationId: string): Promise<boolean> {
    const row = await getEntityOrUndefined<{ urlHash?: string }>(this.suppression, "disabled", encodeKey(destinationId));
    if (!row) return false;
    const url = this.urls.get(destinationId);
    if (url === undefined || row.urlHash === urlFingerprint(url)) return true;
    // The setting now names another URL (or the row predates fingerprints): the 410 was about the old one.
    try {
      // Only that row: if the new URL was disabled meanwhile, its row has another etag and stays.
      await this.suppression.deleteEntity("disabled", encodeKey(destinationId), { etag: row.etag });
    } catch (error) {
      if (!isLostRace(error)) throw error;
    }
    this.log?.info(`destination ${destinationId}: its URL changed since an earlier URL answered 410 Gone; enabled again`);
    return false;
  }

  async disable(destinationId: string, reason: string): Promise<void> {
    const url = this.urls.get(destinationId);
    await this.suppression.upsertEntity(
      {
        partitionKey: "disabled",
        rowKey: encodeKey(destinationId),
        reason,
        at: new Date(),
        ...(url === undefined ? {} : { urlHash: urlFingerprint(url) }),
      },
      "Replace",
    );
  }

  async lastDigest(channel: string): Promise<number | undefined> {
    const entity = await getEntityOrUndefined<{ until: number }>(this.digests, "digest", encodeKey(channel));
    return entity && Number(entity.until);
  }

  async recordDigest(channel: string, until: number, count: number): Promise<void> {
    await this.digests.upsertEntity({ partitionKey: "digest", rowKey: encodeKey(channel), until, count }, "Replace");
  }
}
