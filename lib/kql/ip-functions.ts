/**
 * IPv4 and IPv6 functions. Addresses may carry an IP-prefix (`10.1.2.3/24`): comparisons then look
 * only at the prefix's bits (the shorter of both sides' prefixes and an explicit mask argument).
 */
import ipaddr from "ipaddr.js";
import { rowwise, type CallSite, type ScalarFunction } from "./call.js";
import type { Value } from "./types.js";
import { plainText, toKqlString, toNumber } from "./values.js";

export function parseIpv4(text: string): number | null {
  const m = /^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\s*$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** An IPv4 address with its prefix length (32 without one); null when the text is not one. */
function ipv4WithPrefix(text: string): { address: number; bits: number } | null {
  const [base, bitsText] = text.trim().split("/");
  const address = parseIpv4(base);
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (address === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return null;
  return { address, bits };
}

const maskOf = (bits: number): number => (bits === 0 ? 0 : bits >= 32 ? 0xffffffff : ~((1 << (32 - bits)) - 1) >>> 0);

/**
 * format_ipv4's address (a number, or text with an optional `/prefix` of one or two digits) masked
 * to the shorter of its own prefix and `bits` (32 when absent); undefined when either is not valid.
 */
function maskedIpv4(value: Value, bits: Value): { address: number; bits: number } | undefined {
  let n: number | null;
  let prefix = 32;
  if (typeof value === "number") n = value;
  else {
    const [ip, own] = plainText(value ?? "")
      .trim()
      .split("/");
    n = parseIpv4(ip);
    if (own !== undefined) prefix = /^\d{1,2}$/.test(own) ? Number(own) : -1;
  }
  const b = Math.min(prefix, bits === undefined || bits === null ? 32 : Number(bits));
  if (n === null || n < 0 || n > 0xffffffff || !(b >= 0 && b <= 32)) return undefined;
  return { address: (n & maskOf(b)) >>> 0, bits: b };
}

const dottedIpv4 = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");

function ipv4InRange(ip: string, range: string): boolean | null {
  const address = ipv4WithPrefix(ip);
  const network = ipv4WithPrefix(range);
  if (!address || !network) return null;
  const mask = maskOf(network.bits);
  return (address.address & mask) >>> 0 === (network.address & mask) >>> 0;
}

/** -1, 0 or 1 comparing two IPv4 addresses over the bits both prefixes (and the mask) keep. */
function ipv4Compare(a: string, b: string, maskBits?: number): number | null {
  const x = ipv4WithPrefix(a);
  const y = ipv4WithPrefix(b);
  if (!x || !y) return null;
  const mask = maskOf(Math.min(x.bits, y.bits, maskBits ?? 32));
  const [p, q] = [(x.address & mask) >>> 0, (y.address & mask) >>> 0];
  return p === q ? 0 : p > q ? 1 : -1;
}

/** An IPv4 or IPv6 address (with an optional prefix) as 16 bytes and a prefix length over 128 bits. */
function ipv6WithPrefix(text: string): { bytes: number[]; bits: number } | null {
  const [base, bitsText] = text.trim().split("/");
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(base);
  } catch {
    return null;
  }
  const v4 = address.kind() === "ipv4";
  const bytes = v4 ? (address as ipaddr.IPv4).toIPv4MappedAddress().toByteArray() : address.toByteArray();
  const given = bitsText === undefined ? undefined : Number(bitsText);
  if (given !== undefined && (!Number.isInteger(given) || given < 0 || given > (v4 ? 32 : 128))) return null;
  const bits = given === undefined ? 128 : v4 ? 96 + given : given;
  return { bytes, bits };
}

function maskedBytes(bytes: number[], bits: number): number[] {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & (keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff);
  });
}

function ipv6Compare(a: string, b: string, maskBits?: number): number | null {
  const x = ipv6WithPrefix(a);
  const y = ipv6WithPrefix(b);
  if (!x || !y) return null;
  const bits = Math.min(x.bits, y.bits, maskBits ?? 128);
  const [p, q] = [maskedBytes(x.bytes, bits), maskedBytes(y.bytes, bits)];
  for (let i = 0; i < 16; i++) if (p[i] !== q[i]) return p[i] > q[i] ? 1 : -1;
  return 0;
}

/** parse_ipv6: the canonical, fully written form (IPv4 as IPv4-mapped), prefix applied; "" when not an address. */
function canonicalIpv6(text: string): string {
  const parsed = ipv6WithPrefix(text);
  if (!parsed) return "";
  const bytes = maskedBytes(parsed.bytes, parsed.bits);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16).padStart(4, "0"));
  return groups.join(":");
}

/** The IPv4 addresses written in a text, delimited by anything but letters, digits and dots. */
function ipv4Tokens(text: string): string[] {
  return text.match(/(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])/g) ?? [];
}

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

const text = (call: CallSite, values: Value[], i: number): string => {
  const v = values[i];
  return typeof v === "string" ? v : toKqlString(v, call.args[i]?.type ?? "string");
};

/** The addresses a has_any_ipv4 call lists: further arguments, or one dynamic array. */
const listed = (values: Value[]): string[] => values.slice(1).flatMap((v) => (Array.isArray(v) ? v : [v]).map((x) => plainText(x)));

const mask = (values: Value[], i: number): number | undefined =>
  values[i] === undefined || values[i] === null ? undefined : (toNumber(values[i]) ?? undefined);

export const IP_FUNCTIONS: Record<string, ScalarFunction> = {
  ipv4_is_private: rowwise((v, call) => {
    const ip = text(call, v, 0);
    if (!ipv4WithPrefix(ip)) return null;
    return PRIVATE_RANGES.some((range) => ipv4InRange(ip, range));
  }),
  ipv4_is_in_range: rowwise((v, call) => ipv4InRange(text(call, v, 0), text(call, v, 1))),
  ipv4_is_in_any_range: rowwise((v, call) => {
    const ip = text(call, v, 0);
    if (!ipv4WithPrefix(ip)) return null;
    return listed(v).some((range) => ipv4InRange(ip, range) === true);
  }),
  ipv4_is_match: rowwise((v, call) => {
    const c = ipv4Compare(text(call, v, 0), text(call, v, 1), mask(v, 2));
    return c === null ? null : c === 0;
  }),
  ipv4_compare: rowwise((v, call) => ipv4Compare(text(call, v, 0), text(call, v, 1), mask(v, 2))),
  ipv4_netmask_suffix: rowwise((v, call) => ipv4WithPrefix(text(call, v, 0))?.bits ?? null),
  parse_ipv4: rowwise((v, call) => {
    const parsed = ipv4WithPrefix(text(call, v, 0));
    return parsed ? (parsed.address & maskOf(parsed.bits)) >>> 0 : null;
  }),
  parse_ipv4_mask: rowwise((v, call) => {
    const parsed = ipv4WithPrefix(text(call, v, 0));
    const bits = mask(v, 1);
    return parsed && bits !== undefined ? (parsed.address & maskOf(Math.min(bits, parsed.bits))) >>> 0 : null;
  }),
  format_ipv4: rowwise(([v, bits]) => {
    const masked = maskedIpv4(v, bits);
    return masked ? dottedIpv4(masked.address) : "";
  }),
  format_ipv4_mask: rowwise(([v, bits]) => {
    const masked = maskedIpv4(v, bits);
    return masked ? `${dottedIpv4(masked.address)}/${masked.bits}` : "";
  }),
  ipv6_compare: rowwise((v, call) => ipv6Compare(text(call, v, 0), text(call, v, 1), mask(v, 2))),
  ipv6_is_match: rowwise((v, call) => {
    const c = ipv6Compare(text(call, v, 0), text(call, v, 1), mask(v, 2));
    return c === null ? null : c === 0;
  }),
  ipv6_is_in_range: rowwise((v, call) => {
    const c = ipv6Compare(text(call, v, 0), text(call, v, 1));
    return c === null ? null : c === 0;
  }),
  ipv6_is_in_any_range: rowwise((v, call) => {
    const ip = text(call, v, 0);
    if (!ipv6WithPrefix(ip)) return null;
    const ranges = listed(v);
    if (ranges.some((range) => !ipv6WithPrefix(range))) return null;
    return ranges.some((range) => ipv6Compare(ip, range) === 0);
  }),
  parse_ipv6: rowwise((v, call) => canonicalIpv6(text(call, v, 0))),
  parse_ipv6_mask: rowwise((v, call) => canonicalIpv6(`${text(call, v, 0)}/${mask(v, 1) ?? 128}`)),
  has_ipv4: rowwise((v, call) => {
    const ip = text(call, v, 1);
    return parseIpv4(ip) === null ? false : ipv4Tokens(text(call, v, 0)).includes(ip.trim());
  }),
  has_ipv4_prefix: rowwise((v, call) => {
    const prefix = text(call, v, 1).trim();
    if (!/^\d{1,3}(\.\d{1,3}){0,2}\.$|^\d{1,3}(\.\d{1,3}){3}$/.test(prefix)) return false;
    return ipv4Tokens(text(call, v, 0)).some((ip) => (prefix.endsWith(".") ? ip.startsWith(prefix) : ip === prefix));
  }),
  // Only a valid address is ever found (`127.0.0.256` is not one, in the text or in the list).
  has_any_ipv4: rowwise((v, call) => {
    const found = new Set(ipv4Tokens(text(call, v, 0)));
    return listed(v).some((ip) => parseIpv4(ip.trim()) !== null && found.has(ip.trim()));
  }),
  has_any_ipv4_prefix: rowwise((v, call) => {
    const tokens = ipv4Tokens(text(call, v, 0));
    return listed(v).some((prefix) => tokens.some((ip) => (prefix.endsWith(".") ? ip.startsWith(prefix) : ip === prefix)));
  }),
  /**
   * geo_info_from_ip_address: Kusto looks the address up in a geolocation database the local engine
   * does not have; the bag is empty, so `tostring(geo.country)` reads "" rather than failing.
   */
  geo_info_from_ip_address: rowwise(() => ({})),
};
