/**
 * XXH64 (seed 0), the algorithm Kusto's hash() and hash_xxhash64() use. Written from the published
 * xxHash specification; BigInt keeps the 64-bit arithmetic exact. Not @node-rs/xxhash: a native addon
 * cannot go into the esbuild bundle the engine's worker threads run, and hash() must stay synchronous.
 */
const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK;
const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK;
const add = (a: bigint, b: bigint): bigint => (a + b) & MASK;

function round(acc: bigint, lane: bigint): bigint {
  return mul(rotl(add(acc, mul(lane, P2)), 31n), P1);
}

function mergeRound(acc: bigint, lane: bigint): bigint {
  return add(mul(acc ^ round(0n, lane), P1), P4);
}

/** The unsigned 64-bit XXH64 digest of the bytes. */
export function xxhash64(bytes: Uint8Array, seed = 0n): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes.length;
  let offset = 0;
  let h: bigint;
  if (length >= 32) {
    let v1 = add(add(seed, P1), P2);
    let v2 = add(seed, P2);
    let v3 = seed;
    let v4 = (seed - P1) & MASK;
    for (; offset + 32 <= length; offset += 32) {
      v1 = round(v1, view.getBigUint64(offset, true));
      v2 = round(v2, view.getBigUint64(offset + 8, true));
      v3 = round(v3, view.getBigUint64(offset + 16, true));
      v4 = round(v4, view.getBigUint64(offset + 24, true));
    }
    h = add(add(rotl(v1, 1n), rotl(v2, 7n)), add(rotl(v3, 12n), rotl(v4, 18n)));
    for (const v of [v1, v2, v3, v4]) h = mergeRound(h, v);
  } else {
    h = add(seed, P5);
  }
  h = add(h, BigInt(length));
  for (; offset + 8 <= length; offset += 8) h = add(mul(rotl(h ^ round(0n, view.getBigUint64(offset, true)), 27n), P1), P4);
  if (offset + 4 <= length) {
    h = add(mul(rotl(h ^ mul(BigInt(view.getUint32(offset, true)), P1), 23n), P2), P3);
    offset += 4;
  }
  for (; offset < length; offset++) h = mul(rotl(h ^ mul(BigInt(bytes[offset]), P5), 11n), P1);
  h = mul(h ^ (h >> 33n), P2);
  h = mul(h ^ (h >> 29n), P3);
  return h ^ (h >> 32n);
}
