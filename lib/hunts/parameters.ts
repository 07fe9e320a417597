/**
 * Parameter overrides from settings (HUNT_PARAMETERS) are bound into a hunt's KQL as `let`
 * statements, so only the hunt's declared parameters may be overridden, each with the type it
 * declares: an undeclared name could redefine a table (`SecurityEvent`) and blind the hunt.
 */
import type { Hunt, ParameterValue } from "./schema.js";

function kindOf(value: ParameterValue): string {
  if (Array.isArray(value)) return value.every((v) => typeof v === "number") ? "list of numbers" : "list of strings";
  return typeof value === "number" ? "number" : "string";
}

/** The problems with a hunt's overrides, each naming the parameter; empty when they are fine. */
export function parameterProblems(hunt: Hunt, overrides: Record<string, ParameterValue>): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    const declared = hunt.parameters[name];
    if (declared === undefined) {
      const known = Object.keys(hunt.parameters);
      problems.push(`${hunt.id}.${name}: not a parameter of this hunt (it has ${known.length ? known.join(", ") : "none"})`);
      continue;
    }
    const expected = kindOf(declared);
    const given = kindOf(value);
    // An empty list fits either list type.
    if (expected !== given && !(Array.isArray(value) && value.length === 0 && Array.isArray(declared)))
      problems.push(`${hunt.id}.${name}: expected a ${expected}, got a ${given}`);
    if (typeof value === "number" && !Number.isFinite(value)) problems.push(`${hunt.id}.${name}: expected a finite number`);
  }
  return problems;
}
