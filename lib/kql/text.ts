/** Kusto's term matching (`has` and friends) and regular expressions. */
import { RE2JS } from "re2js";
import type { CompileContext } from "./context.js";
import { errorAt, type SyntaxNode } from "./kusto.js";

/**
 * Kusto splits text into terms: maximal runs of alphanumeric characters. `has` is true when the
 * needle lines up with term boundaries; a needle that starts or ends with punctuation needs no
 * boundary on that side.
 */
export function isTermChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code > 127;
}

export function hasTerm(haystack: string, needle: string, mode: "whole" | "prefix" | "suffix"): boolean {
  if (needle.length === 0) return true;
  const needStart = mode !== "suffix" && isTermChar(needle.charCodeAt(0));
  const needEnd = mode !== "prefix" && isTermChar(needle.charCodeAt(needle.length - 1));
  let from = 0;
  for (;;) {
    const at = haystack.indexOf(needle, from);
    if (at < 0) return false;
    const end = at + needle.length;
    const startOk = !needStart || at === 0 || !isTermChar(haystack.charCodeAt(at - 1));
    const endOk = !needEnd || end === haystack.length || !isTermChar(haystack.charCodeAt(end));
    if (startOk && endOk) return true;
    from = at + 1;
  }
}

export function hasAnyTerm(haystackLower: string, termsLower: readonly string[]): boolean {
  return termsLower.some((term) => hasTerm(haystackLower, term, "whole"));
}

export function hasAllTerms(haystackLower: string, termsLower: readonly string[]): boolean {
  return termsLower.every((term) => hasTerm(haystackLower, term, "whole"));
}

/** One match: the matched text, then each group (undefined for groups that did not take part), and named groups by name. */
export type RegexMatch = (string | undefined)[] & { groups?: Record<string, string | undefined> };

/** A compiled KQL regular expression: RE2 semantics, matched in time linear in the input. */
export interface KqlRegex {
  readonly source: string;
  test(text: string): boolean;
  /** The match and its groups (undefined for groups that did not take part), or null. */
  exec(text: string): (string | undefined)[] | null;
  /** Every non-overlapping match, in order. */
  execAll(text: string): RegexMatch[];
  /** Every match replaced; `\\1` or `$1` in the replacement name groups, as in Kusto's replace_regex. */
  replaceAll(text: string, replacement: string): string;
  /** How many non-overlapping matches the text has. */
  count(text: string): number;
}

const regexCache = new Map<string, KqlRegex>();

/** Characters with a meaning in a regular expression. */
const REGEX_SYNTAX = /[.*+?^${}()|[\]\\]/g;

/** `text` as a pattern that matches it literally. */
export const escapeRegex = (text: string) => text.replace(REGEX_SYNTAX, "\\$&");

/** Whether a pattern holds no regex syntax, so that it matches only itself. */
export const isPlainPattern = (pattern: string) => pattern.search(REGEX_SYNTAX) < 0;

/**
 * Kusto uses RE2, which never backtracks: `(a+)+$` on a long name takes linear time. RE2JS is a
 * JavaScript port of RE2 with the same syntax (inline flags such as `(?i)` included), but some
 * fifty times slower per match than V8's engine. So RE2JS checks every pattern (its syntax and
 * errors are Kusto's), and matching uses V8 only for patterns that cannot backtrack
 * catastrophically: no repeated group that itself repeats or alternates, no back-references.
 */
export function compileRegex(pattern: string, ctx: CompileContext, node: SyntaxNode): KqlRegex {
  let re = regexCache.get(pattern);
  if (!re) {
    let compiled: RE2JS;
    try {
      compiled = RE2JS.compile(pattern);
    } catch (error) {
      throw errorAt(ctx.query, node, `Invalid regular expression '${pattern}': ${(error as Error).message}`);
    }
    re = backtrackSafe(pattern) ?? wrap(pattern, compiled);
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

/**
 * The pattern as a V8 RegExp when that is safe and means the same: a leading `(?i)`/`(?s)`/`(?m)`
 * becomes a flag; anything else V8 reads differently from RE2, or a quantified group containing a
 * quantifier or an alternation (the shape of exponential backtracking), stays with RE2JS.
 */
function backtrackSafe(pattern: string): KqlRegex | undefined {
  let source = pattern;
  let flags = "";
  const inline = /^\(\?([ims]+)\)/.exec(source);
  if (inline) {
    source = source.slice(inline[0].length);
    flags = [...new Set(inline[1])].join("");
  }
  if (/\(\?[^:]|\\[0-9pPzQECAx]|\[\[:/.test(source) || !quantifiedGroupsAreSimple(source)) return undefined;
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch {
    return undefined;
  }
  const global = new RegExp(source, `${flags}g`);
  return {
    source: pattern,
    test: (text) => re.test(text),
    exec: (text) => {
      const m = re.exec(text);
      return m ? [...m] : null;
    },
    execAll: (text) =>
      [...text.matchAll(global)].map((m) => Object.assign([...m] as RegexMatch, m.groups ? { groups: { ...m.groups } } : {})),
    count: (text) => {
      let n = 0;
      global.lastIndex = 0;
      for (let m = global.exec(text); m; m = global.exec(text)) {
        n++;
        if (m[0] === "") global.lastIndex++;
      }
      return n;
    },
    replaceAll: (text, replacement) =>
      text.replace(
        global,
        replacement
          .replace(/\$/g, "$$$$")
          .replace(/\\0/g, "$$&")
          .replace(/\\(\d)/g, "$$$1"),
      ),
  };
}

/** False when a group that is repeated (`*`, `+`, `{n,}`) contains a quantifier or an alternation. */
function quantifiedGroupsAreSimple(source: string): boolean {
  const open: { start: number; risky: boolean }[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") open.push({ start: i, risky: false });
    else if (c === "|" || c === "*" || c === "+" || (c === "{" && /^\{\d*,?\d*\}/.test(source.slice(i)))) {
      if (open.length) open[open.length - 1].risky = true;
    } else if (c === ")") {
      const group = open.pop();
      const next = source[i + 1];
      const repeated = next === "*" || next === "+" || (next === "{" && /^\{\d+,\d*\}/.test(source.slice(i + 1)));
      if (group?.risky && repeated) return false;
      if (group?.risky && open.length) open[open.length - 1].risky = true;
    }
  }
  return true;
}

function wrap(source: string, compiled: RE2JS): KqlRegex {
  return {
    source,
    test: (text) => compiled.matcher(text).find(),
    exec: (text) => {
      const matcher = compiled.matcher(text);
      if (!matcher.find()) return null;
      const groups: (string | undefined)[] = [];
      for (let i = 0; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? undefined);
      return groups;
    },
    execAll: (text) => {
      const matcher = compiled.matcher(text);
      const names = Object.entries(compiled.namedGroups());
      const out: RegexMatch[] = [];
      while (matcher.find()) {
        const match: RegexMatch = [];
        for (let i = 0; i <= matcher.groupCount(); i++) match.push(matcher.group(i) ?? undefined);
        if (names.length) match.groups = Object.fromEntries(names.map(([name, index]) => [name, match[index]]));
        out.push(match);
      }
      return out;
    },
    count: (text) => {
      const matcher = compiled.matcher(text);
      let n = 0;
      while (matcher.find()) n++;
      return n;
    },
    replaceAll: (text, replacement) => compiled.matcher(text).replaceAll(replacement.replace(/\\(\d)/g, "$$$1")),
  };
}
