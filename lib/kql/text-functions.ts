/** String functions beyond the basics: hashes, encodings, extract_all, and parsers of paths, CSV and command lines. */
import { createHash } from "node:crypto";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { rowwise, type CallSite, type ScalarFunction } from "./call.js";
import { compileRegex } from "./text.js";
import type { KqlType, Value } from "./types.js";
import { KUSTO_EPOCH_DATETIME, plainText, toKqlString, toNumber } from "./values.js";
import { xxhash64 } from "./xxhash64.js";

const text = (call: CallSite, values: Value[], i: number): string => {
  const v = values[i];
  return typeof v === "string" ? v : toKqlString(v ?? null, call.args[i]?.type ?? "string");
};

function hashing(algorithm: "sha256" | "sha1" | "md5"): ScalarFunction {
  return rowwise((v, call) =>
    createHash(algorithm)
      .update(text(call, v, 0), "utf8")
      .digest("hex"),
  );
}

/**
 * The bytes hash() digests for a value, as Kusto lays them out: a string's UTF-8, a datetime's or
 * timespan's .NET ticks and a long as little-endian int64, an int as int32, a real as a double, a
 * bool as one byte, anything else (dynamic, guid) as its text.
 */
function hashInput(value: Value, type: KqlType): Uint8Array {
  const eight = (write: (view: DataView) => void) => {
    const bytes = new Uint8Array(8);
    write(new DataView(bytes.buffer));
    return bytes;
  };
  if (typeof value === "number") {
    switch (type) {
      case "datetime":
        // Kusto's ticks since 0001-01-01, as tolong(datetime) gives them (exact: the epoch offset is an integer a double holds).
        return eight((d) => d.setBigInt64(0, BigInt(Math.round(value)) - BigInt(KUSTO_EPOCH_DATETIME), true));
      case "timespan":
      case "long":
        return eight((d) => d.setBigInt64(0, BigInt(Math.round(value)), true));
      case "int": {
        const bytes = new Uint8Array(4);
        new DataView(bytes.buffer).setInt32(0, value, true);
        return bytes;
      }
      case "real":
      case "decimal":
        return eight((d) => d.setFloat64(0, value, true));
    }
  }
  if (typeof value === "boolean") return Uint8Array.of(value ? 1 : 0);
  return new TextEncoder().encode(typeof value === "string" ? value : toKqlString(value, type));
}

/**
 * hash(source [, mod]): XXH64 of the value; with mod, the unsigned hash modulo mod (0..mod-1,
 * exact). Without mod the signed 64-bit hash is exact up to 2^53 and rounded beyond, as every long here.
 */
const hashFunction: ScalarFunction = rowwise((v, call) => {
  if (v[0] === null) return null;
  const digest = xxhash64(hashInput(v[0], call.args[0].type));
  if (v.length < 2 || v[1] === null) return Number(BigInt.asIntN(64, digest));
  const mod = toNumber(v[1]);
  if (mod === null || mod <= 0) return null;
  return Number(digest % BigInt(Math.trunc(mod)));
});

/** url_encode: application/x-www-form-urlencoded, as Kusto writes it (lower-case hex, `+` for a space). */
function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)
    .replace(/%20/g, "+")
    .replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
}

/** parse_path: Scheme, RootPath, DirectoryPath, DirectoryName, Filename, Extension, AlternateDataStreamName. */
function parsePath(path: string): Value {
  let rest = path;
  let scheme = "";
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]+):\/\//.exec(rest);
  if (schemeMatch) {
    scheme = schemeMatch[1];
    rest = rest.slice(schemeMatch[0].length);
  }
  const root = /^[a-zA-Z]:/.exec(rest)?.[0] ?? "";
  const separator = Math.max(rest.lastIndexOf("\\"), rest.lastIndexOf("/"));
  const directoryPath = separator >= 0 ? rest.slice(0, separator) : "";
  let filename = rest.slice(separator + 1);
  let stream = "";
  const colon = filename.indexOf(":");
  if (colon >= 0) {
    stream = filename.slice(colon + 1);
    filename = filename.slice(0, colon);
  }
  const dot = filename.lastIndexOf(".");
  return {
    Scheme: scheme,
    RootPath: root,
    DirectoryPath: directoryPath,
    DirectoryName: directoryPath.split(/[\\/]/).pop() ?? "",
    Filename: filename,
    Extension: dot >= 0 ? filename.slice(dot + 1) : "",
    AlternateDataStreamName: stream,
  };
}

/**
 * parse_csv: the fields of the first CSV record (double quotes enclose a field, line breaks too; a
 * doubled quote is a quote). A line break outside quotes ends the record: the rest is not read.
 */
function parseCsvRecord(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === "\n" || (c === "\r" && line[i + 1] === "\n")) break;
    else if (c === ",") {
      fields.push(field);
      field = "";
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/**
 * parse_command_line(x, "windows"): the arguments as CommandLineToArgvW splits them. Whitespace
 * separates arguments outside quotes; `2n` backslashes before a quote are `n` backslashes and the
 * quote toggles quoting, `2n+1` are `n` and a literal quote; other backslashes are literal. The first
 * argument (the program) ends at the first whitespace or closing quote, backslashes literal.
 */
function parseWindowsCommandLine(line: string): string[] {
  const args: string[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r";
  while (i < n && isSpace(line[i])) i++;
  if (i >= n) return args;
  let program = "";
  if (line[i] === '"') {
    i++;
    while (i < n && line[i] !== '"') program += line[i++];
    i++;
  } else while (i < n && !isSpace(line[i])) program += line[i++];
  args.push(program);
  for (;;) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) return args;
    let arg = "";
    let quoted = false;
    while (i < n && (quoted || !isSpace(line[i]))) {
      if (line[i] === "\\") {
        let slashes = 0;
        while (line[i] === "\\") {
          slashes++;
          i++;
        }
        if (line[i] === '"') {
          arg += "\\".repeat(Math.floor(slashes / 2));
          if (slashes % 2) {
            arg += '"';
            i++;
          }
        } else arg += "\\".repeat(slashes);
      } else if (line[i] === '"') {
        if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
        } else {
          quoted = !quoted;
          i++;
        }
      } else arg += line[i++];
    }
    args.push(arg);
  }
}

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  textNodeName: "#text",
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseAttributeValue: false,
  numberParseOptions: { hex: false, leadingZeros: false },
});

/** Empty elements are null in Kusto's conversion (`<e/>` is `{"e": null}`). */
function emptyToNull(value: unknown): Value {
  if (value === "") return null;
  if (Array.isArray(value)) return value.map(emptyToNull);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, emptyToNull(v)]));
  return value as Value;
}

/** parse_xml: elements as properties, attributes as `@name`, text beside children as `#text`, repeated elements as arrays; null for invalid XML or over 1 MB. */
function parseXml(xml: string): Value {
  if (Buffer.byteLength(xml, "utf8") > 1_048_576 || XMLValidator.validate(xml) !== true) return null;
  return emptyToNull(xmlParser.parse(xml));
}

/** Units of format_bytes, each 1024 times the one before. */
const BYTE_UNITS = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"];

export const TEXT_FUNCTIONS: Record<string, ScalarFunction> = {
  // The characters a regular expression reads specially, escaped (regex_quote('(so$me.Te^xt)') is \(so\$me\.Te\^xt\)).
  regex_quote: rowwise((v, call) => text(call, v, 0).replace(/[\\.+*?()|[\]{}^$]/g, "\\$&")),
  /**
   * format_bytes(size[, precision[, units]]): the size in the given unit, or the largest the size
   * reaches (in steps of 1024), rounded to `precision` decimals (format_bytes(10332, 1) is "10.1 KB").
   */
  format_bytes: rowwise(([size, precision, units]) => {
    if (size === null || size === undefined) return "";
    const value = Number(size);
    const wanted = units === undefined || units === null ? "" : plainText(units);
    let unit = BYTE_UNITS.findIndex((u) => u.toLowerCase() === wanted.toLowerCase());
    if (unit < 0) {
      unit = 0;
      while (unit < BYTE_UNITS.length - 1 && Math.abs(value) >= 1024 ** (unit + 1)) unit++;
    }
    const digits = Math.max(0, Number(precision ?? 0));
    const scaled = value / 1024 ** unit;
    return `${Number(scaled.toFixed(digits))} ${BYTE_UNITS[unit]}`;
  }),
  hash: hashFunction,
  hash_sha256: hashing("sha256"),
  hash_sha1: hashing("sha1"),
  hash_md5: hashing("md5"),
  url_encode: rowwise((v, call) => formEncode(text(call, v, 0))),
  string_size: rowwise((v, call) => Buffer.byteLength(text(call, v, 0), "utf8")),
  isascii: rowwise((v, call) => [...text(call, v, 0)].every((c) => c.charCodeAt(0) < 128)),
  isutf8: rowwise((v, call) => !text(call, v, 0).includes("\ufffd")),
  base64_decode_toarray: rowwise((v, call) => [...Buffer.from(text(call, v, 0), "base64")]),
  base64_encode_fromarray: rowwise(([bytes]) =>
    Array.isArray(bytes) ? Buffer.from(bytes.map((b) => Number(toNumber(b) ?? 0) & 0xff)).toString("base64") : null,
  ),
  unicode_codepoints_from_string: rowwise((v, call) => [...text(call, v, 0)].map((c) => c.codePointAt(0) ?? 0)),
  make_string: rowwise((values) => {
    const points = values.flatMap((v) => (Array.isArray(v) ? v : [v])).map((v) => Number(toNumber(v) ?? 0));
    return String.fromCodePoint(...points);
  }),
  /** strcmp: -1, 0 or 1 by ordinal comparison. */
  strcmp: rowwise((v, call) => {
    const [a, b] = [text(call, v, 0), text(call, v, 1)];
    return a === b ? 0 : a < b ? -1 : 1;
  }),
  /** translate(search, replace, text): each character of search becomes the one at its place in replace (the last one past its end; none if replace is empty). */
  translate: rowwise((v, call) => {
    const search = [...text(call, v, 0)];
    const replacement = [...text(call, v, 1)];
    return [...text(call, v, 2)]
      .map((c) => {
        const at = search.indexOf(c);
        if (at < 0) return c;
        return replacement.length ? replacement[Math.min(at, replacement.length - 1)] : "";
      })
      .join("");
  }),
  /** extract_all(regex, [groups,] text): every match's groups (a value per match for one group, an array per match for several); null without a match. */
  extract_all: (call) => {
    const [regexIndex, groupsIndex, sourceIndex] = call.args.length > 2 ? [0, 1, 2] : [0, -1, 1];
    return rowwise((v) => {
      const re = compileRegex(text(call, v, regexIndex), call.ctx, call.argNodes[regexIndex]);
      const matches = re.execAll(text(call, v, sourceIndex));
      if (!matches.length) return null;
      const groupCount = matches[0].length - 1;
      const selected = groupsIndex >= 0 && Array.isArray(v[groupsIndex]) ? v[groupsIndex] : null;
      const groups = (selected ?? Array.from({ length: Math.max(1, groupCount) }, (_, i) => i + 1)).map((g) =>
        typeof g === "string" ? g : Number(g),
      );
      const pick = (m: ReturnType<typeof re.execAll>[number], g: number | string): Value =>
        (typeof g === "number" ? (groupCount ? m[g] : m[0]) : m.groups?.[g]) ?? "";
      return matches.map((m) => (groups.length === 1 ? pick(m, groups[0]) : groups.map((g) => pick(m, g))));
    })(call);
  },
  parse_path: rowwise((v, call) => parsePath(text(call, v, 0))),
  parse_xml: rowwise((v, call) => parseXml(text(call, v, 0))),
  parse_csv: rowwise((v, call) => parseCsvRecord(text(call, v, 0).replace(/\r?\n$/, ""))),
  parse_command_line: rowwise((v, call) =>
    plainText(v[1] ?? "windows").toLowerCase() === "windows" ? parseWindowsCommandLine(text(call, v, 0)) : null,
  ),
};
