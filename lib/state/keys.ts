/**
 * Table Storage keys: PartitionKey and RowKey may not contain `/ \ # ?` or control characters and
 * are at most 1 KiB. Entity keys come from log data (anything goes), so they are escaped here,
 * reversibly, and very long ones are shortened with a hash that keeps them unique.
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";

// \p{Cc}: the C0 and C1 control characters, U+0000-U+001F and U+007F-U+009F.
const UNSAFE = /[/\\#?%\p{Cc}]/gu;
const MAX_KEY = 512;

export function encodeKey(value: string): string {
  const escaped = value.replace(UNSAFE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
  if (escaped.length <= MAX_KEY) return escaped;
  const digest = createHash("sha256").update(value).digest("hex").slice(0, 32);
  return `${escaped.slice(0, MAX_KEY - 34)}~~${digest}`;
}

export function decodeKey(key: string): string {
  return key.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Hashes of keys seen lately: the same entities come back every window, and a lookup costs a tenth of hashing again. */
const keyHashes = new LRUCache<string, number>({
  max: 200_000,
  memoMethod: (value) => createHash("sha256").update(value).digest().readUInt32BE(0),
});

/** A stable bucket in [0, buckets) so one hunt's entities spread over several partitions. */
export function bucketOf(value: string, buckets: number): number {
  return keyHashes.memo(value) % buckets;
}

/** Table names: 3-63 alphanumeric characters, starting with a letter. */
export function tableName(prefix: string, name: string): string {
  return `${prefix}${name}`.replace(/[^A-Za-z0-9]/g, "").slice(0, 63);
}
