/**
 * Notification destinations and their validation. Destination URLs come from settings (Key Vault
 * references in Azure); they are checked so a mistyped or malicious setting cannot turn the app
 * into a proxy into the private network (SSRF): https only, and only public unicast addresses,
 * in literal form or as DNS answers. The DNS check happens when the connection is made
 * (`connectLookup`): the address checked is the address connected to, so a resolver that answers
 * differently the second time (DNS rebinding) gains nothing. Local development may relax this.
 *
 * Destination URLs are secrets (a Teams Workflows URL carries its `sig=`): errors name the
 * destination and the host, never the URL.
 */
import { lookup } from "node:dns/promises";
import type { LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

export type DestinationKind = "teams" | "webhook";

export interface Destination {
  id: string;
  kind: DestinationKind;
  url: string;
  /** Standard Webhooks secret (`whsec_...`) for generic webhooks. */
  secret?: string;
}

export class DestinationError extends Error {
  constructor(
    readonly kind: DestinationKind,
    /** What is wrong, without the destination's name: settings errors put the setting's name in front. */
    readonly reason: string,
  ) {
    super(`${kind} destination: ${reason}`);
    this.name = "DestinationError";
  }
}

/** Office 365 connector ("incoming webhook") URLs: retired by Microsoft; Teams now takes Workflows webhooks. */
const RETIRED_CONNECTOR = /(^|\.)webhook\.office\.com$|^outlook\.office(365)?\.com$/i;

/** Global unicast IPv6 (2000::/3); everything outside it (including IPv4-compatible `::a.b.c.d` and NAT64) is refused. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR("2000::/3");

/**
 * Only public unicast addresses: not private, loopback, link-local, CGNAT, multicast or reserved,
 * and no IPv6 form that carries an IPv4 address (mapped `::ffff:7f00:1`, compatible `::7f00:1`,
 * 6to4, Teredo, NAT64), which a URL's host may be written as to slip past a check on the IPv4 form.
 * An allowlist, so a form nobody thought of is refused rather than let through.
 */
export function isPublicAddress(ip: string): boolean {
  if (!isIP(ip)) return false;
  let address = ipaddr.parse(ip);
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) address = address.toIPv4Address();
  if (address instanceof ipaddr.IPv6 && !address.match(GLOBAL_UNICAST_V6)) return false;
  return address.range() === "unicast";
}

export function isPrivateAddress(ip: string): boolean {
  return isIP(ip) !== 0 && !isPublicAddress(ip);
}

export interface UrlPolicy {
  allowInsecure: boolean;
  /** DNS lookup; injectable so tests can name public hosts without a network, or answer differently each time. */
  resolve?: (host: string) => Promise<string[]>;
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

/** The URL's host without IPv6 brackets or the root's trailing dot (`localhost.` is `localhost`). */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
}

/**
 * What can be checked without DNS: a URL, http(s), https unless insecure is allowed, not a retired
 * connector, not a loopback name or a non-public literal address.
 */
export function parseDestinationUrl(kind: DestinationKind, raw: string, policy: Pick<UrlPolicy, "allowInsecure">): URL {
  if (raw !== raw.trim()) throw new DestinationError(kind, "the URL has leading or trailing whitespace (a newline?)");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DestinationError(kind, "not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new DestinationError(kind, `must be an https URL, not ${url.protocol}`);
  }
  if (kind === "teams" && RETIRED_CONNECTOR.test(url.hostname)) {
    throw new DestinationError(
      kind,
      `${url.hostname} is an Office 365 connector URL, and those connectors are retired. Create a Teams Workflows webhook ("Post to a channel when a webhook request is received") and use its URL.`,
    );
  }
  if (policy.allowInsecure) return url;
  if (url.protocol !== "https:") throw new DestinationError(kind, `'${url.origin}' must use https`);
  const host = bareHost(url);
  if (host === "localhost" || host.endsWith(".localhost")) throw new DestinationError(kind, `${host} is a loopback host`);
  if (isIP(host)) checkAddresses(kind, host, [host]);
  return url;
}

function checkAddresses(kind: DestinationKind, host: string, addresses: readonly string[]): void {
  if (!addresses.length) throw new DestinationError(kind, `${host} has no address`);
  const bad = addresses.find((a) => !isPublicAddress(a));
  if (bad === host) throw new DestinationError(kind, `${host} is a private, loopback, link-local or reserved address`);
  if (bad) throw new DestinationError(kind, `${host} resolves to ${bad}, a private, loopback, link-local or reserved address`);
}

/** Resolves a host name and checks every answer (any non-public one refuses the host). */
async function resolveChecked(kind: DestinationKind, host: string, policy: UrlPolicy): Promise<string[]> {
  const addresses = isIP(host) ? [host] : await (policy.resolve ?? defaultResolve)(host);
  if (!policy.allowInsecure) checkAddresses(kind, host, addresses);
  return addresses;
}

/**
 * An early check with a clear error before anything is sent. It does not protect the connection
 * by itself (DNS may answer differently later): `connectLookup` does.
 */
export async function validateDestinationUrl(kind: DestinationKind, raw: string, policy: UrlPolicy): Promise<URL> {
  const url = parseDestinationUrl(kind, raw, policy);
  if (!policy.allowInsecure) await resolveChecked(kind, bareHost(url), policy);
  return url;
}

/**
 * The `lookup` for an http(s) request to a destination: resolves the host, refuses any non-public
 * answer, and hands the checked addresses to the socket, so the connection goes where the check
 * looked. (Node calls it only for names; literal addresses are checked by `parseDestinationUrl`.)
 */
export function connectLookup(kind: DestinationKind, policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : (options.family ?? 0);
    resolveChecked(kind, hostname, policy).then(
      (all) => {
        const addresses: LookupAddress[] = all
          .map((address) => ({ address, family: isIP(address) }))
          .filter((a) => !family || a.family === family);
        if (!addresses.length) return callback(new DestinationError(kind, `${hostname} has no IPv${family} address`), "", 0);
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (error: Error) => callback(error, "", 0),
    );
  };
}
