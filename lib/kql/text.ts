/** Kusto's term matching (`has` and friends) and regular expressions. */
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

const regexCache = new Map<string, RegExp>();

/**
 * Kusto uses RE2. JavaScript's engine accepts RE2's common syntax; RE2's inline flags such as
 * `(?i)` at the start are translated to JS flags.
 */
export function compileRegex(pattern: string, ctx: CompileContext, node: SyntaxNode, extraFlags = ""): RegExp {
  const cacheKey = `${extraFlags}/${pattern}`;
  let re = regexCache.get(cacheKey);
  if (!re) {
    let source = pattern;
    let flags = extraFlags;
    const inline = /^\(\?([imsU]+)\)/.exec(source);
    if (inline) {
      source = source.slice(inline[0].length);
      for (const flag of inline[1]) if (flag !== "U" && !flags.includes(flag)) flags += flag;
    }
    try {
      re = new RegExp(source, flags);
    } catch (error) {
      throw errorAt(ctx.query, node, `Invalid regular expression '${pattern}': ${(error as Error).message}`);
    }
    regexCache.set(cacheKey, re);
  }
  return re;
}
