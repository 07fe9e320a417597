/**
 * Exceptions in Table Storage (table `<prefix>exceptions`): PartitionKey `exception`, RowKey <id>.
 * The repository's exceptions file is loaded into the same table when the app starts (its entries
 * keep their ids, so a redeploy updates them instead of adding copies).
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { TableClient } from "@azure/data-tables";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { encodeKey } from "../state/keys.js";
import { ExceptionInput, ExceptionSchema, isActive, MAX_EXCEPTION_MS, type Exception } from "./exception.js";

export class ExceptionError extends Error {}

function problems(error: z.ZodError, received: unknown): string {
  return error.issues
    .map((i) => {
      const field = i.path.join(".");
      const value =
        field && received && typeof received === "object" ? (received as Record<string, unknown>)[String(i.path[0])] : undefined;
      return `${field || "(exception)"}: ${i.message}${value !== undefined ? ` (got ${JSON.stringify(value)})` : ""}`;
    })
    .join("; ");
}

/** Checks an exception from outside (CLI, API, file): its fields, and an expiry in the future and within a year. */
export function parseException(raw: unknown, origin: Exception["origin"], now: number, id?: string): Exception {
  const parsed = ExceptionInput.safeParse(raw);
  if (!parsed.success) throw new ExceptionError(problems(parsed.error, raw));
  const expires = Date.parse(parsed.data.expiresAt);
  if (expires <= now) throw new ExceptionError(`expiresAt: must be in the future (got ${parsed.data.expiresAt})`);
  if (expires - now > MAX_EXCEPTION_MS) throw new ExceptionError(`expiresAt: at most a year ahead (got ${parsed.data.expiresAt})`);
  return ExceptionSchema.parse({
    ...parsed.data,
    expiresAt: new Date(expires).toISOString(),
    id: id ?? `ex-${randomBytes(6).toString("hex")}`,
    createdAt: new Date(now).toISOString(),
    origin,
  });
}

const ExceptionsFile = z.object({ exceptions: z.array(z.object({ id: z.string() }).loose()).default([]) });

/** How long one instance keeps the stored list before reading it again (its own changes apply at once). */
export const EXCEPTIONS_CACHE_MS = 60_000;

export class ExceptionStore {
  private cached?: { at: number; all: Promise<Exception[]> };

  constructor(private readonly client: TableClient) {}

  async add(exception: Exception): Promise<Exception> {
    this.cached = undefined;
    await this.client.upsertEntity(
      {
        partitionKey: "exception",
        rowKey: encodeKey(exception.id),
        json: JSON.stringify(exception),
        expiresAt: new Date(exception.expiresAt),
      },
      "Replace",
    );
    return exception;
  }

  /** Removes an exception; false when there was none with that id. */
  async remove(id: string): Promise<boolean> {
    this.cached = undefined;
    try {
      await this.client.deleteEntity("exception", encodeKey(id));
      return true;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return false;
      throw error;
    }
  }

  /**
   * Every stored exception (active at `now` only, unless asked). Read at most once a minute per
   * instance: every window of every run consults them, and another instance's change may take
   * that long to apply here.
   */
  async list(now: number, options: { includeExpired?: boolean } = {}): Promise<Exception[]> {
    if (!this.cached || Date.now() - this.cached.at > EXCEPTIONS_CACHE_MS) {
      const all = this.readAll();
      this.cached = { at: Date.now(), all };
      all.catch(() => (this.cached = undefined));
    }
    const all = await this.cached.all;
    return all.filter((e) => options.includeExpired || isActive(e, now));
  }

  private async readAll(): Promise<Exception[]> {
    const out: Exception[] = [];
    for await (const entity of this.client.listEntities<{ json: string }>({ queryOptions: { filter: "PartitionKey eq 'exception'" } }))
      out.push(ExceptionSchema.parse(JSON.parse(entity.json)));
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /**
   * Loads the repository's exceptions file: each entry checked on its own (a bad one is reported
   * with its id and field, the others still load). Returns what loaded and what did not.
   */
  async seedFromFile(path: string, now: number): Promise<{ loaded: number; problems: string[] }> {
    const file = ExceptionsFile.safeParse(parseYaml(await readFile(path, "utf8")) ?? {});
    if (!file.success) return { loaded: 0, problems: [`${path}: ${problems(file.error, undefined)}`] };
    let loaded = 0;
    const issues: string[] = [];
    for (const entry of file.data.exceptions) {
      const { id, ...fields } = entry;
      try {
        await this.add(parseException(fields, "file", now, id));
        loaded++;
      } catch (error) {
        issues.push(`${path}: exception '${id}': ${(error as Error).message}`);
      }
    }
    return { loaded, problems: issues };
  }
}
