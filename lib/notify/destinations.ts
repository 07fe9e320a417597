/**
 * Notification destinations and their validation. Destination URLs come from settings (Key Vault
 * references in Azure); they are checked so a mistyped or malicious setting cannot turn the app
 * into a proxy into the private network (SSRF): https only, no loopback, private or link-local
 * addresses, in literal form or after DNS resolution. Local development may relax this.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

export type DestinationKind = "teams" | "webhook";

export interface Destination {
  id: string;
  kind: DestinationKind;
  url: string;
  /** Standard Webhooks secret (`whsec_...`) for generic webhooks. */
  secret?: string;
}

export class DestinationError extends Error {}

/** Office 365 connector ("incoming webhook") URLs: retired by Microsoft; Teams now takes Workflows webhooks. */
const RETIRED_CONNECTOR = /(^|\.)webhook\.office\.com$|^outlook\.office(365)?\.com$/i;

/**
 * Anything but a public unicast address: private, loopback, link-local, CGNAT, multicast,
 * reserved, and IPv6 forms that carry an IPv4 address (mapped `::ffff:7f00:1`, 6to4, NAT64),
 * which a URL's host may be written as to slip past a check on the IPv4 form.
 */
export function isPrivateAddress(ip: string): boolean {
  if (!isIP(ip)) return false;
  let address = ipaddr.parse(ip);
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) address = address.toIPv4Address();
  return address.range() !== "unicast";
}

export interface UrlPolicy {
  allowInsecure: boolean;
  /** DNS lookup; injectable so tests can name public hosts without a network. */
  resolve?: (host: string) => Promise<string[]>;
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

export async function validateDestinationUrl(kind: DestinationKind, raw: string, policy: UrlPolicy): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DestinationError(`${kind} destination: '${raw}' is not a URL`);
  }
  if (kind === "teams" && RETIRED_CONNECTOR.test(url.hostname)) {
    throw new DestinationError(
      `teams destination: ${url.hostname} is an Office 365 connector URL, and those connectors are retired. Create a Teams Workflows webhook ("Post to a channel when a webhook request is received") and use its URL.`,
    );
  }
  if (policy.allowInsecure) return url;
  if (url.protocol !== "https:") throw new DestinationError(`${kind} destination: '${url.origin}' must use https`);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) throw new DestinationError(`${kind} destination: ${host} is a loopback host`);
  const addresses = isIP(host) ? [host] : await (policy.resolve ?? defaultResolve)(host);
  const bad = addresses.find(isPrivateAddress);
  if (bad) throw new DestinationError(`${kind} destination: ${host} resolves to ${bad}, a private, loopback or link-local address`);
  return url;
}
