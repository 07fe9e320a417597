/** JSON lines, each checked against a zod schema, with issues that name the line and field. */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { z } from "zod";
import type { ReadIssue } from "./table-builder.js";

export function describeZodIssue(error: z.ZodError, value: unknown): { field?: string; message: string } {
  const issue = error.issues[0];
  const field = issue.path.join(".");
  let received: unknown = value;
  for (const key of issue.path)
    received = received && typeof received === "object" ? (received as Record<PropertyKey, unknown>)[key] : undefined;
  const shown = received === undefined ? "missing" : JSON.stringify(received)?.slice(0, 80);
  return { field: field || undefined, message: `${field || "record"}: ${issue.message} (got ${shown})` };
}

async function* jsonLines(path: string): AsyncGenerator<{ value: unknown; at: number } | { issue: ReadIssue }> {
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let at = 0;
  for await (const rawLine of lines) {
    at++;
    const line = at === 1 ? rawLine.replace(/^\uFEFF/, "") : rawLine;
    if (!line.trim()) continue;
    try {
      yield { value: JSON.parse(line), at };
    } catch (error) {
      yield { issue: { source: path, at, message: `not valid JSON: ${(error as Error).message}` } };
    }
  }
}

/** JSON lines checked against a zod schema: each line's value, or an issue naming the line and field. */
export async function* validatedJsonLines<T extends z.ZodType>(
  path: string,
  schema: T,
): AsyncGenerator<{ value: z.infer<T>; at: number } | { issue: ReadIssue }> {
  for await (const item of jsonLines(path)) {
    if ("issue" in item) {
      yield item;
      continue;
    }
    const parsed = schema.safeParse(item.value);
    if (parsed.success) yield { value: parsed.data, at: item.at };
    else yield { issue: { source: path, at: item.at, ...describeZodIssue(parsed.error, item.value) } };
  }
}
