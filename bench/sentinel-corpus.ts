/**
 * The vendored Azure-Sentinel corpus (test/fixtures/sentinel-corpus): how many real hunting queries
 * and rules load, validate and run end to end on the local engine, as a share of all files.
 */
import { readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { composeQuery, durationMs } from "../lib/hunts/catalog.js";
import { loadSentinelFolder } from "../lib/hunts/sentinel.js";
import type { Table } from "../lib/kql/types.js";
import { validateQuery } from "../lib/kql/index.js";
import { TABLE_SCHEMAS } from "../lib/schemas/index.js";
import { LocalSource } from "../lib/sources/local.js";
import type { BenchSection } from "./measure.js";

export const CORPUS_DIR = fileURLToPath(new URL("../test/fixtures/sentinel-corpus/", import.meta.url));

export interface CorpusOutcome {
  file: string;
  stage: "load" | "validate" | "run" | "ok";
  message?: string;
}

/** Loads, validates and runs every corpus file over the given tables; one outcome per file. */
export async function runCorpus(tables: Record<string, Table>, now: number): Promise<CorpusOutcome[]> {
  const files = (await readdir(CORPUS_DIR, { recursive: true }))
    .map(String)
    .filter((f) => [".yaml", ".yml"].includes(extname(f)))
    .sort();
  const outcomes: CorpusOutcome[] = [];
  const source = new LocalSource(tables);
  const folders = new Map<string, Awaited<ReturnType<typeof loadSentinelFolder>>>();
  for (const file of files) {
    const folder = join(CORPUS_DIR, file, "..");
    if (!folders.has(folder)) folders.set(folder, await loadSentinelFolder(folder));
    const { hunts, issues } = folders.get(folder)!;
    const hunt = hunts.find((h) => h.reference?.endsWith(`(${join(CORPUS_DIR, file)})`));
    if (!hunt) {
      const own = issues.filter((i) => i.file === join(CORPUS_DIR, file) && i.severity !== "note");
      outcomes.push({ file, stage: "load", message: own.map((i) => i.message).join("; ") });
      continue;
    }
    const window = { start: now - durationMs(hunt.context ?? hunt.lookback), end: now };
    const text = composeQuery(hunt, window);
    const errors = validateQuery(text, TABLE_SCHEMAS).filter((d) => d.severity === "error" || d.code === "unsupported");
    if (errors.length) {
      outcomes.push({ file, stage: "validate", message: `${errors[0].message} (${errors[0].position.line}:${errors[0].position.column})` });
      continue;
    }
    try {
      const { table } = await source.query({ query: text, timespan: window, queryId: file });
      hunt.analyze?.(table, { windowStart: window.start, windowEnd: window.end, contextStart: window.start });
      outcomes.push({ file, stage: "ok" });
    } catch (error) {
      outcomes.push({ file, stage: "run", message: (error as Error).message });
    }
  }
  return outcomes;
}

export async function benchSentinelCorpus(): Promise<BenchSection> {
  const now = Date.UTC(2024, 9, 18, 12);
  const outcomes = await runCorpus({}, now);
  const ok = outcomes.filter((o) => o.stage === "ok").length;
  for (const o of outcomes.filter((x) => x.stage !== "ok")) console.log(`  ${o.stage.padEnd(8)} ${o.file}: ${o.message}`);
  console.log(`  ${ok}/${outcomes.length} run end to end`);
  return {
    files: outcomes.length,
    endToEnd: ok,
    endToEndShare: Math.round((ok / outcomes.length) * 1000) / 1000,
    failures: outcomes.filter((o) => o.stage !== "ok"),
  };
}
