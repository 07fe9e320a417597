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

/** A compiled KQL regular expression: RE2 semantics, matched in time linear in the input. */
export interface KqlRegex {
  readonly source: string;
  test(text: string): boolean;
  /** The match and its groups (undefined for groups that did not take part), or null. */
  exec(text: string): (string | undefined)[] | null;
  /** Every match replaced; `\\1` or `$1` in the replacement name groups, as in Kusto's replace_regex. */
  replaceAll(text: string, replacement: string): string;
  /** How many non-overlapping matches the text has. */
  count(text: string): number;
}

const regexCache = new Map<string, KqlRegex>();

/**
 * Kusto uses RE2, which never backtracks: `(a+)+$` on a long name takes linear time. RE2JS is a
 * JavaScript port of RE2 with the same syntax (inline flags such as `(?i)` included).
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
    re = wrap(pattern, compiled);
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
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
    count: (text) => {
      const matcher = compiled.matcher(text);
      let n = 0;
      while (matcher.find()) n++;
      return n;
    },
    replaceAll: (text, replacement) => compiled.matcher(text).replaceAll(replacement.replace(/\\(\d)/g, "$$$1")),
  };
}
