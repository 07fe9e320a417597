/** Functions over dynamic arrays and property bags that queries use to reshape JSON: zip, bag_merge, array_split, ... */
import { rowwise, type ScalarFunction } from "./call.js";
import type { Value } from "./types.js";
import { plainText, toNumber, valueIdentity } from "./values.js";

type Bag = { [key: string]: Value };

const isBag = (v: Value): v is Bag => !!v && typeof v === "object" && !Array.isArray(v);

/** A key or a `$.a.b` / `$['a']['b']` path, as the list of property names it walks. */
function pathOf(key: string): string[] {
  if (!key.startsWith("$")) return [key];
  const parts: string[] = [];
  const re = /\.([^.[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]/g;
  for (const m of key.slice(1).matchAll(re)) parts.push(m[1] ?? m[2] ?? m[3]);
  return parts;
}

function withoutPath(bag: Bag, path: string[]): Bag {
  const [head, ...rest] = path;
  if (!(head in bag)) return bag;
  const copy = { ...bag };
  if (!rest.length) delete copy[head];
  else if (isBag(copy[head])) copy[head] = withoutPath(copy[head], rest);
  return copy;
}

function withPath(bag: Bag, path: string[], value: Value): Bag {
  const [head, ...rest] = path;
  const copy = { ...bag };
  copy[head] = rest.length ? withPath(isBag(copy[head]) ? copy[head] : {}, rest, value) : value;
  return copy;
}

/** Shifts an array left (positive) or right (negative) by n places; vacated places take `fill`, or the array rotates. */
function shifted(array: Value[], n: number, fill: Value | undefined, rotate: boolean): Value[] {
  const length = array.length;
  if (!length) return [];
  return array.map((_, i) => {
    const from = i + n;
    if (rotate) return array[((from % length) + length) % length];
    return from >= 0 && from < length ? array[from] : (fill ?? null);
  });
}

export const DYNAMIC_FUNCTIONS: Record<string, ScalarFunction> = {
  /** zip(a, b, ...): one array per position across the arrays, null where an array is shorter. */
  zip: rowwise((arrays) => {
    if (!arrays.every(Array.isArray)) return null;
    const length = Math.max(0, ...arrays.map((a) => (a as Value[]).length));
    return Array.from({ length }, (_, i) => arrays.map((a) => (a as Value[])[i] ?? null));
  }),
  /** bag_merge: the bags' properties; a key several bags have keeps the leftmost bag's value. */
  bag_merge: rowwise((bags) => {
    const out: Bag = {};
    for (const bag of bags) if (isBag(bag)) for (const [k, v] of Object.entries(bag)) if (!(k in out)) out[k] = v;
    return out;
  }),
  bag_remove_keys: rowwise(([bag, keys]) => {
    if (!isBag(bag)) return null;
    return (Array.isArray(keys) ? keys : []).reduce<Bag>((b, key) => withoutPath(b, pathOf(plainText(key))), bag);
  }),
  bag_set_key: rowwise(([bag, key, value]) => (isBag(bag) ? withPath(bag, pathOf(plainText(key)), value ?? null) : null)),
  array_reverse: rowwise(([array]) => (Array.isArray(array) ? [...array].reverse() : null)),
  /** array_split(a, i) or array_split(a, [i, j, ...]): the pieces between the split positions (negative count from the end). */
  array_split: rowwise(([array, at]) => {
    if (!Array.isArray(array)) return null;
    const positions = (Array.isArray(at) ? at : [at])
      .map((p) => toNumber(p))
      .filter((p): p is number => p !== null)
      .map((p) => Math.max(0, Math.min(array.length, p < 0 ? array.length + p : p)));
    const bounds = [0, ...positions, array.length];
    return bounds.slice(1).map((end, i) => array.slice(bounds[i], Math.max(bounds[i], end)));
  }),
  array_sum: rowwise(([array]) => {
    if (!Array.isArray(array)) return null;
    let sum = 0;
    for (const v of array) {
      if (typeof v !== "number") return null;
      sum += v;
    }
    return sum;
  }),
  array_rotate_left: rowwise(([array, n]) => (Array.isArray(array) ? shifted(array, Number(n ?? 0), undefined, true) : null)),
  array_rotate_right: rowwise(([array, n]) => (Array.isArray(array) ? shifted(array, -Number(n ?? 0), undefined, true) : null)),
  array_shift_left: rowwise(([array, n, fill]) => (Array.isArray(array) ? shifted(array, Number(n ?? 0), fill, false) : null)),
  array_shift_right: rowwise(([array, n, fill]) => (Array.isArray(array) ? shifted(array, -Number(n ?? 0), fill, false) : null)),
  /** jaccard_index(a, b): distinct shared values over distinct values of either. */
  jaccard_index: rowwise(([a, b]) => {
    if (!Array.isArray(a) || !Array.isArray(b)) return null;
    const left = new Set(a.map(valueIdentity));
    const right = new Set(b.map(valueIdentity));
    const union = new Set([...left, ...right]);
    if (!union.size) return null;
    let shared = 0;
    for (const v of left) if (right.has(v)) shared++;
    return shared / union.size;
  }),
  /** dcount_hll over what hll()/hll_merge() return (the distinct values themselves). */
  dcount_hll: rowwise(([sketch]) => (Array.isArray(sketch) ? sketch.length : null)),
};
