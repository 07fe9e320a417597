/**
 * Exceptions ("close as benign"): an entity value or pattern that a hunt, or every hunt, must not
 * alert on, with a reason, an author and an expiry. Excepted findings are kept and listed in the
 * digest as suppressed, with why; they never alert.
 */
import { z } from "zod";
import type { Finding } from "../findings/finding.js";
import { SharedEntityType } from "../hunts/entities.js";

/** Exceptions last at most a year: a benign verdict must be looked at again. */
export const MAX_EXCEPTION_MS = 366 * 86_400_000;

export const ExceptionInput = z
  .object({
    /** A hunt id, or `*` for every hunt. */
    huntId: z
      .string()
      .regex(/^(\*|[a-z0-9]+(-[a-z0-9]+)*)$/, "a hunt id, or * for all hunts")
      .default("*"),
    /** Which entity the pattern is matched against: the finding's own key, or one of its IPs, accounts or hosts. */
    entityType: z.union([SharedEntityType, z.literal("key")]).default("key"),
    /** An exact value, or a glob with * and ? (case-insensitive). */
    pattern: z.string().trim().min(1).max(300),
    reason: z.string().trim().min(3).max(500),
    author: z.string().trim().min(1).max(200),
    expiresAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export type ExceptionInput = z.input<typeof ExceptionInput>;

export const ExceptionSchema = ExceptionInput.extend({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/),
  createdAt: z.iso.datetime(),
  /** Where it came from: the repository's file, the CLI, the HTTP API, or a Teams card's "Mark benign". */
  origin: z.enum(["file", "cli", "api", "teams"]),
});
export type Exception = z.infer<typeof ExceptionSchema>;

/** Case-insensitive glob match (`*` any run, `?` one character), linear in practice, no regex built from input. */
export function globMatch(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === "?" || p[pi] === t[ti])) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === "*") {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}

export function isActive(exception: Exception, now: number): boolean {
  return Date.parse(exception.expiresAt) > now;
}

/** The first active exception that covers a finding of this hunt about this entity. */
export function exceptionFor(
  exceptions: readonly Exception[],
  finding: Pick<Finding, "huntId" | "entity" | "entities">,
  now: number,
): Exception | undefined {
  return exceptions.find((e) => {
    if (!isActive(e, now) || (e.huntId !== "*" && e.huntId !== finding.huntId)) return false;
    if (e.entityType === "key") return globMatch(e.pattern, finding.entity.key);
    return finding.entities.some((x) => x.type === e.entityType && globMatch(e.pattern, x.value));
  });
}

export function describeException(e: Exception): string {
  return `excepted: ${e.reason} (${e.author}, until ${e.expiresAt.slice(0, 10)}, exception ${e.id})`;
}

/** The finding as an exception leaves it: kept, never alerting, saying which exception and why. */
export function applyException(finding: Finding, exception: Exception): Finding {
  const why = describeException(exception);
  return { ...finding, alert: false, digestOnly: why, exceptionId: exception.id, reasons: [...finding.reasons, why] };
}
