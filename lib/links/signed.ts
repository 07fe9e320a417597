/**
 * Expiring signed links, so the people who receive a Teams card can open what it points at (an
 * incident, a run) and mark an entity benign without a function key or an Azure sign-in. A token
 * is the claims as base64url JSON, a dot, and their HMAC-SHA256 under the app's link key
 * (LINK_SIGNING_KEY, a Key Vault secret in Azure). The app checks signature and expiry on every use.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { SharedEntity } from "../hunts/entities.js";

export const LinkClaims = z.discriminatedUnion("action", [
  z.object({ action: z.literal("incident"), incidentId: z.string(), exp: z.number() }),
  z.object({ action: z.literal("run"), runId: z.string(), exp: z.number() }),
  z.object({ action: z.literal("benign"), huntId: z.string(), entity: SharedEntity, incidentId: z.string().optional(), exp: z.number() }),
]);
export type LinkClaims = z.infer<typeof LinkClaims>;
type Unsigned<T> = T extends unknown ? Omit<T, "exp"> : never;

/** Links on a card stay valid this long. */
export const LINK_LIFETIME_MS = 14 * 86_400_000;

export class LinkError extends Error {}

export class LinkSigner {
  private readonly key: Buffer;

  /** `key` is base64 of at least 32 random bytes; without one, a key for this process only (local runs). */
  constructor(key?: string) {
    this.key = key ? Buffer.from(key, "base64") : randomBytes(32);
    if (this.key.length < 32) throw new LinkError("the link signing key must be at least 32 bytes (base64)");
  }

  private mac(payload: string): Buffer {
    return createHmac("sha256", this.key).update(payload).digest();
  }

  sign(claims: Unsigned<LinkClaims>, now: number): string {
    const payload = Buffer.from(JSON.stringify({ ...claims, exp: now + LINK_LIFETIME_MS })).toString("base64url");
    return `${payload}.${this.mac(payload).toString("base64url")}`;
  }

  /** The claims of a valid, unexpired token; a LinkError that says what is wrong otherwise. */
  verify(token: string, now: number): LinkClaims {
    const [payload, signature, extra] = token.split(".");
    if (!payload || !signature || extra !== undefined || token.length > 4096) throw new LinkError("not a link token");
    const expected = this.mac(payload);
    const given = Buffer.from(signature, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new LinkError("the link's signature does not match");
    let claims: LinkClaims;
    try {
      claims = LinkClaims.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
    } catch {
      throw new LinkError("the link's content is not valid");
    }
    if (claims.exp <= now) throw new LinkError(`the link expired at ${new Date(claims.exp).toISOString()}`);
    return claims;
  }
}

/** Where card links point: the app's public base URL and its signer. */
export interface CardLinks {
  baseUrl: string;
  signer?: LinkSigner;
  /** The Log Analytics workspace's resource id, for "Open in Log Analytics" links. */
  workspaceResourceId?: string;
}

export function signedUrl(links: CardLinks, claims: Unsigned<LinkClaims>, now: number): string | undefined {
  if (!links.signer) return undefined;
  return `${links.baseUrl.replace(/\/$/, "")}/api/links/${links.signer.sign(claims, now)}`;
}
