/**
 * `npm run bench [section ...]`: runs the benchmarks and merges their results into
 * bench/results.json (machine-readable; each section keeps its last run).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { benchEngine } from "./engine.js";
import { benchReaders } from "./readers.js";
import { benchBaselines } from "./baselines.js";
import { benchQuality } from "./quality.js";
import { benchReplaySpeed } from "./replay-speed.js";
import { benchGraph } from "./graph.js";
import { benchSentinelCorpus } from "./sentinel-corpus.js";
import type { BenchSection } from "./measure.js";

const SECTIONS: Record<string, () => Promise<BenchSection>> = {
  engine: () => benchEngine([100_000, 1_000_000]),
  readers: () => benchReaders(1_000_000),
  baselines: () => benchBaselines(100_000),
  quality: () => benchQuality(),
  "replay-speed": () => benchReplaySpeed(),
  graph: () => benchGraph(10_000),
  "sentinel-corpus": () => benchSentinelCorpus(),
};

const RESULTS = new URL("./results.json", import.meta.url);

async function main() {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const names = wanted.length ? wanted : Object.keys(SECTIONS);
  const results: Record<string, unknown> = existsSync(RESULTS)
    ? (JSON.parse(readFileSync(RESULTS, "utf8")) as Record<string, unknown>)
    : {};
  for (const name of names) {
    const section = SECTIONS[name];
    if (!section) throw new Error(`Unknown bench section '${name}'. Known: ${Object.keys(SECTIONS).join(", ")}`);
    console.log(`== ${name}`);
    results[name] = { ...(await section()), measuredAt: new Date().toISOString() };
  }
  results.machine = {
    nodeFlags: process.execArgv.filter((a) => a.startsWith("--max")),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${RESULTS.pathname}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
