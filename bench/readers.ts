/**
 * Reader throughput. Synthetic: 1M generated SecurityEvent rows written as EVTX and as NDJSON, each
 * streamed through its reader. Real: EVTX files Windows wrote to rows, on this thread (and, side by
 * side, with the previous decoding), and loaded as a folder on this thread and on every core: the
 * vendored fixtures (BENCH_EVTX_PASSES times over), and, when BENCH_EVTX_DIRS names folders of a
 * larger corpus (separated by the path delimiter; subfolders included; BENCH_EVTX_SOURCE says what it
 * is), that corpus too. Each measurement runs in its own process (events/s, CPU seconds, peak RSS).
 */
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { once } from "node:events";
import { availableParallelism, tmpdir as systemTmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { readdirSync, statSync } from "node:fs";
import { generateSecurityVolume, BENCH_SECURITY_COLUMNS } from "../lib/synth/security-volume.js";
import { writeEvtx, type EvtxEventInput } from "../lib/synth/evtx-writer.js";
import { datetimeToMs, formatDatetime } from "../lib/kql/values.js";
import type { BenchSection } from "./measure.js";

const DATA_NAMES = BENCH_SECURITY_COLUMNS.filter((c) => !["TimeGenerated", "Computer", "EventID"].includes(c.name)).map((c) => c.name);

export async function benchReaders(events: number): Promise<BenchSection> {
  const dir = mkdtempSync(join(systemTmpdir(), "bench-readers-"));
  try {
    const table = generateSecurityVolume({ seed: 3, rows: events, start: Date.UTC(2024, 9, 1), spanMs: 7 * 86_400_000 });
    const column = (name: string) => table.columns.findIndex((c) => c.name === name);
    const [time, computer, eventId] = ["TimeGenerated", "Computer", "EventID"].map(column);
    const dataIdx = DATA_NAMES.map(column);

    const evtxPath = join(dir, "security.evtx");
    const inputs = function* (): Generator<EvtxEventInput> {
      for (const row of table.rows) {
        yield {
          eventId: row[eventId] as number,
          time: datetimeToMs(row[time] as number),
          computer: row[computer] as string,
          channel: "Security",
          provider: "Microsoft-Windows-Security-Auditing",
          data: dataIdx.map((i) => {
            const v = row[i];
            return v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
          }),
        };
      }
    };
    await writeEvtx(evtxPath, DATA_NAMES, inputs());

    const ndjsonPath = join(dir, "SecurityEvent.ndjson");
    const out = createWriteStream(ndjsonPath);
    for (const row of table.rows) {
      const record: Record<string, unknown> = { Type: "SecurityEvent" };
      table.columns.forEach((c, i) => (record[c.name] = c.type === "datetime" ? formatDatetime(row[i] as number) : row[i]));
      if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");

    const evtx = readOne([evtxPath, "evtx"]);
    console.log(`evtx: ${JSON.stringify(evtx)}`);
    const ndjson = readOne([ndjsonPath, "ndjson"]);
    console.log(`ndjson: ${JSON.stringify(ndjson)}`);
    for (const result of [evtx, ndjson])
      if (result.events !== events) throw new Error(`${result.format} read ${result.events} of ${events} events`);
    // The small vendored files are read many times over so the run is long enough to time. With 200 passes the optimising
    // compiler was still at work in the measured ones (72,000-93,500 events per CPU second, every thread counted, against
    // 83,000-117,000 for the reading thread alone); from 400, 98,000-115,000 for both.
    const passes = Number(process.env.BENCH_EVTX_PASSES ?? 400);
    const real = benchRealEvtx(VENDORED_EVTX, passes, passes, "vendored fixtures (test/fixtures)");
    // A larger corpus of real files (not vendored), when given: decoded CORPUS_PASSES times over (the first quarter warm-up:
    // with fewer passes the optimising compiler is still at work in the passes measured, and figures swing by a third), loaded once.
    const corpus = process.env.BENCH_EVTX_DIRS
      ? benchRealEvtx(
          process.env.BENCH_EVTX_DIRS.split(delimiter),
          CORPUS_PASSES,
          CORPUS_LOAD_COPIES,
          process.env.BENCH_EVTX_SOURCE ?? "BENCH_EVTX_DIRS",
        )
      : undefined;
    return {
      events,
      evtx,
      ndjson,
      realEvtx: real,
      ...(corpus ? { realEvtxCorpus: corpus } : {}),
      note: "streamed through the readers in a child process each; peak RSS is that process's",
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ReadOneResult {
  format: string;
  events: number;
  eventsPerSecond: number;
  eventsPerCpuSecond: number;
  eventsPerMainThreadCpuSecond?: number;
  [key: string]: unknown;
}

function readOne(args: string[]): ReadOneResult {
  const output = execFileSync(
    process.execPath,
    ["--max-semi-space-size=64", "--import", "tsx", join(import.meta.dirname, "read-one.ts"), ...args],
    {
      encoding: "utf8",
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(output) as ReadOneResult;
}

/** Passes over a corpus given by BENCH_EVTX_DIRS (BENCH_EVTX_CORPUS_PASSES overrides). */
const CORPUS_PASSES = Number(process.env.BENCH_EVTX_CORPUS_PASSES ?? 12);
/** Copies of the corpus's file list in the one load timed on every core and on this thread (BENCH_EVTX_LOAD_COPIES overrides). */
const CORPUS_LOAD_COPIES = Number(process.env.BENCH_EVTX_LOAD_COPIES ?? 8);

const VENDORED_EVTX = [
  "../test/fixtures/evtx/rust-evtx",
  "../test/fixtures/evtx/evtx-attack-samples",
  "../test/fixtures/datasets/evtx-attack-samples",
].map((dir) => new URL(dir, import.meta.url).pathname);

/** The EVTX files under the folders, their subfolders included, in name order. */
function evtxFilesUnder(dirs: string[]): string[] {
  return dirs.flatMap((dir) =>
    (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.toLowerCase().endsWith(".evtx"))
      .sort()
      .map((f) => join(dir, f))
      .filter((p) => statSync(p).isFile()),
  );
}

interface SteadyState {
  eventsPerCpuSecond?: number;
  eventsPerMainThreadCpuSecond?: number;
}

interface PerFile {
  file: string;
  eventsPerPass: number;
  securityShare: number;
  cpuMicrosecondsPerPass: number;
  eventsPerCpuSecond: number;
}

/** Events per CPU second over a group of files (steady state), from a single-thread run's per-file figures. */
function groupRate(perFile: PerFile[], inGroup: (f: PerFile) => boolean) {
  const group = perFile.filter(inGroup);
  const events = group.reduce((n, f) => n + f.eventsPerPass, 0);
  const micros = group.reduce((n, f) => n + f.cpuMicrosecondsPerPass, 0);
  return { files: group.length, eventsPerPass: events, eventsPerCpuSecond: Math.round((events / micros) * 1e6) };
}

const MAX_FILES_LISTED = 50;

/**
 * Real EVTX files to rows: on this thread with the direct decoding (what the readers use) and with
 * the previous decoding (element trees, then flattened; same file reading and rows), then loaded into
 * tables as a folder is (loadLogs) on this thread alone and on every core. Each in its own process.
 */
function benchRealEvtx(dirs: string[], passes: number, loadPasses: number, source: string): Record<string, unknown> {
  const files = evtxFilesUnder(dirs);
  const threads = availableParallelism();
  // Files are timed one by one (for byFileType) in a quarter as many passes again, after those the other figures count.
  const perFile = ["--per-file", String(Math.max(1, Math.floor(passes / 4)))];
  const single = readOne(["--evtx", "0", String(passes), "direct", ...perFile, ...files]);
  console.log(`real evtx (${source}), this thread: ${JSON.stringify({ ...single, perFile: undefined })}`);
  const tree = readOne(["--evtx", "0", String(passes), "tree", ...perFile, ...files]);
  console.log(`real evtx (${source}), this thread, previous decoding: ${JSON.stringify({ ...tree, perFile: undefined })}`);
  // On this thread the folder is loaded `passes` times, each load on its own, for a steady state as well as a whole run.
  const loadSingle = readOne(["--load", "0", String(passes), ...files]);
  console.log(`real evtx (${source}), loadLogs on this thread: ${JSON.stringify(loadSingle)}`);
  // One load of the folder's files `loadPasses` times over, on every core and on this thread alone, each in a fresh process
  // (warm-up included, as a responder's one load is): what worker threads do to a large folder's wall time.
  const loadThreads = readOne(["--load", String(threads), String(loadPasses), ...files]);
  console.log(`real evtx (${source}), loadLogs on ${threads} threads: ${JSON.stringify(loadThreads)}`);
  const loadOneThread = readOne(["--load", "1", String(loadPasses), ...files]);
  console.log(`real evtx (${source}), one loadLogs on this thread: ${JSON.stringify(loadOneThread)}`);
  if (tree.events !== single.events) throw new Error(`the previous decoding read ${tree.events} events, not ${single.events}`);
  if (loadOneThread.events !== loadThreads.events)
    throw new Error(`one load on this thread kept ${loadOneThread.events} rows, on ${threads} threads ${loadThreads.events}`);
  if (loadThreads.events / loadPasses !== loadSingle.events / passes)
    throw new Error(
      `loadLogs on ${threads} threads kept ${loadThreads.events / loadPasses} rows a pass, not ${loadSingle.events / passes}`,
    );
  const steady = (r: ReadOneResult) => r.steadyState as SteadyState | undefined;
  const rates = (r: ReadOneResult) => ({
    eventsPerCpuSecond: r.eventsPerCpuSecond,
    eventsPerMainThreadCpuSecond: r.eventsPerMainThreadCpuSecond,
    steadyStateEventsPerCpuSecond: steady(r)?.eventsPerCpuSecond,
    steadyStateEventsPerMainThreadCpuSecond: steady(r)?.eventsPerMainThreadCpuSecond,
  });
  /** Whole run (warm-up included) and warmed (passes after the first quarter): every thread's CPU, and the reading thread's alone. */
  const oneCore = (r: ReadOneResult) => ({
    wholeRun: { eventsPerCpuSecond: r.eventsPerCpuSecond, eventsPerMainThreadCpuSecond: r.eventsPerMainThreadCpuSecond },
    warmed: { eventsPerCpuSecond: steady(r)?.eventsPerCpuSecond, eventsPerMainThreadCpuSecond: steady(r)?.eventsPerMainThreadCpuSecond },
  });
  const security = (f: PerFile) => f.securityShare >= 0.5;
  const byFileType = Object.fromEntries(
    (
      [
        ["securityChannel", security],
        ["otherChannels", (f: PerFile) => !security(f)],
        ["all", () => true],
      ] as const
    ).map(([name, inGroup]) => [
      name,
      { direct: groupRate(single.perFile as PerFile[], inGroup), previousTree: groupRate(tree.perFile as PerFile[], inGroup) },
    ]),
  );
  const loadRates = (r: ReadOneResult) => ({
    rows: r.events,
    eventsPerWallSecond: r.eventsPerSecond,
    eventsPerCpuSecond: r.eventsPerCpuSecond,
    eventsPerMainThreadCpuSecond: r.eventsPerMainThreadCpuSecond,
    ...(steady(r)
      ? {
          steadyStateEventsPerCpuSecond: steady(r)?.eventsPerCpuSecond,
          steadyStateEventsPerMainThreadCpuSecond: steady(r)?.eventsPerMainThreadCpuSecond,
        }
      : {}),
  });
  return {
    source,
    files: files.length,
    passes,
    loadPasses,
    events: single.events,
    threads,
    // On one core: events to rows (what a reader yields), and a folder loaded into tables (what the KQL engine queries).
    oneCore: { eventsToRows: oneCore(single), loadLogsToTables: oneCore(loadSingle) },
    sideBySide: {
      singleThread: { direct: rates(single), previousTree: rates(tree) },
      loadLogs: { thisThread: loadRates(loadSingle), [`${threads}Threads`]: loadRates(loadThreads) },
      oneLoad: {
        copiesOfFiles: loadPasses,
        MiB: loadThreads.fileMiB,
        thisThread: { wallSeconds: loadOneThread.seconds, cpuSeconds: loadOneThread.cpuSeconds },
        [`${threads}Threads`]: { wallSeconds: loadThreads.seconds, cpuSeconds: loadThreads.cpuSeconds },
        wallSpeedup: Math.round(((loadOneThread.seconds as number) / (loadThreads.seconds as number)) * 100) / 100,
      },
    },
    byFileType,
    // Per file only for a few files: a corpus's hundreds would swamp the results.
    singleThread: files.length > MAX_FILES_LISTED ? { ...single, perFile: undefined } : single,
    previousTree: files.length > MAX_FILES_LISTED ? { ...tree, perFile: undefined } : tree,
    loadLogsThisThread: loadSingle,
    loadLogsAllThreads: loadThreads,
    loadLogsOneCallThisThread: loadOneThread,
    note: "eventsPerCpuSecond divides by the CPU time of every thread of the reading process (the JIT compiler's and the garbage collector's too, start-up and warm-up included); eventsPerMainThreadCpuSecond by the reading thread's alone (one core); steadyState and warmed count the passes after the first quarter, once the code is compiled (with one pass, every pass counts: warm-up included); byFileType times each file in a quarter as many passes again, run after those (timing a file costs system calls no other figure should carry). loadLogs builds the tables as a folder load does (rows kept, values typed); on this thread each pass is a load of its own; with several threads (one load over the files loadPasses times) this thread reads files from the front of the list and worker threads from the back, and eventsPerWallSecond includes starting them; oneLoad times that one load against the same load on this thread alone, each in a fresh process (warm-up included). previousTree decodes each record to an element tree and flattens it (the decoding before the direct one), with the same file reading and rows.",
  };
}
