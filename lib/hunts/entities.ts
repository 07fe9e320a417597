/**
 * The entities a finding names (IP addresses, accounts, hosts), in one normal form, so findings of
 * different hunts and tables meet: `CONTOSO\alice`, `alice@contoso.com` and `ALICE` are one account,
 * `WS-12.contoso.com` and `ws-12` one host. Incidents group alerts that share one of these.
 */
import ipaddr from "ipaddr.js";
import { LRUCache } from "lru-cache";
import { z } from "zod";

export const SHARED_ENTITY_TYPES = ["ip", "account", "host"] as const;
export const SharedEntityType = z.enum(SHARED_ENTITY_TYPES);
export type SharedEntityType = z.infer<typeof SharedEntityType>;

export const SharedEntity = z.object({ type: SharedEntityType, value: z.string() });
export type SharedEntity = z.infer<typeof SharedEntity>;

/** Where a hunt's rows name entities: columns holding one value or a list of them. */
export const EntityMapping = z.object({ type: SharedEntityType, columns: z.array(z.string()).min(1) });
export type EntityMapping = z.infer<typeof EntityMapping>;

/** Accounts that name no person: they would join every incident on a host. */
const SYSTEM_ACCOUNTS = new Set(["", "-", "system", "local service", "network service", "anonymous logon", "n/a"]);

/**
 * Normal forms already worked out, by type and raw text: every window names mostly the entities of
 * the window before, and parsing an address (twice: checked, then read) was a real share of scoring.
 * An empty text (never a normal form) stands for a value that is no entity.
 */
const normalForms = new LRUCache<string, string>({ max: 50_000 });

export function normalizeEntity(type: SharedEntityType, raw: string): string | undefined {
  const key = `${type}\u0000${raw}`;
  const known = normalForms.get(key);
  if (known !== undefined) return known || undefined;
  const value = normalFormOf(type, raw);
  normalForms.set(key, value ?? "");
  return value;
}

function normalFormOf(type: SharedEntityType, raw: string): string | undefined {
  const text = raw.trim();
  switch (type) {
    case "ip": {
      if (!ipaddr.isValid(text)) return undefined;
      const address = ipaddr.process(text);
      return address.range() === "loopback" || address.range() === "unspecified" ? undefined : address.toString();
    }
    case "account": {
      const name = text.toLowerCase().split("\\").pop()!.split("@")[0];
      return SYSTEM_ACCOUNTS.has(name) || name.endsWith("$") ? undefined : name;
    }
    case "host": {
      const name = text.toLowerCase();
      if (!name || name === "-" || name.includes(" ")) return undefined;
      // An address is an IP entity, not a host. A name is compared by its first label; a name without one (".contoso.com") names no host.
      return ipaddr.isValid(name) ? undefined : name.split(".")[0] || undefined;
    }
  }
}

function valuesOf(cell: unknown): string[] {
  if (Array.isArray(cell)) return cell.flatMap(valuesOf);
  if (typeof cell === "string") return [cell];
  if (typeof cell === "number") return [String(cell)];
  return [];
}

/** At most this many entities per finding: a spray's hundred targets must not join everything. */
export const MAX_ENTITIES_PER_FINDING = 60;

/** The entities a row names, first the finding's own, without repeats. */
export function entitiesOf(mappings: readonly EntityMapping[], row: Record<string, unknown>): SharedEntity[] {
  const out: SharedEntity[] = [];
  const seen = new Set<string>();
  for (const mapping of mappings) {
    for (const column of mapping.columns) {
      for (const raw of valuesOf(row[column])) {
        const value = normalizeEntity(mapping.type, raw);
        const key = `${mapping.type}:${value}`;
        if (value === undefined || seen.has(key)) continue;
        seen.add(key);
        out.push({ type: mapping.type, value });
        if (out.length >= MAX_ENTITIES_PER_FINDING) return out;
      }
    }
  }
  return out;
}

export const entityLabel = (e: SharedEntity) => `${e.type}:${e.value}`;
