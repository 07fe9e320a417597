/**
 * Child process of the reader bench: streams files through a reader and reports throughput and
 * this process's peak RSS as JSON on stdout (a separate process so RSS is the reader's own).
 *   read-one.ts PATH FORMAT                               one file through readLogFile
 *   read-one.ts --evtx THREADS PASSES DECODER [--per-file N] PATH...
 *                                                        EVTX files to rows, PASSES times; THREADS 0 = this thread only;
 *                                                        DECODER "direct" (what the readers use) or "tree" (the previous decoding);
 *                                                        with --per-file (this thread), N more passes after them time each file
 *   read-one.ts --load THREADS PASSES PATH...            loadLogs over the files listed PASSES times (tables built), on
 *                                                        THREADS threads (this one included) in one call; with THREADS 0,
 *                                                        on this thread, a call per pass (steady state: passes after the first quarter)
 */
import { readFileSync, statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { evtxFileBatches } from "../lib/readers/evtx-rows.js";
import { TREE_EVENTS } from "../lib/readers/evtx.js";
import { loadLogs, LogFormatSchema, readLogFile } from "../lib/readers/index.js";
import { readEvtxFilesParallel } from "../lib/readers/parallel.js";

const cpuSeconds = (used: NodeJS.CpuUsage) => (used.user + used.system) / 1e6;

/** CPU seconds of this process's main thread alone (Linux; undefined elsewhere): what one core did, without the JIT and GC helper threads. */
function mainThreadCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * The passes after the first `warmPasses` (once the code is compiled), measured from the first of
 * them to the end of the last in one reading each: the thread's CPU time counts in clock ticks (10 ms),
 * so adding up pass by pass readings of passes shorter than a tick lost most of it.
 */
class SteadyState {
  private passes = 0;
  private events = 0;
  private cpu?: NodeJS.CpuUsage;
  private mainCpu?: number;

  constructor(private readonly warmPasses: number) {}

  passStarts(pass: number): void {
    if (pass !== this.warmPasses) return;
    this.cpu = process.cpuUsage();
    this.mainCpu = mainThreadCpuSeconds();
  }

  passEnded(pass: number, events: number): void {
    if (pass < this.warmPasses) return;
    this.passes++;
    this.events += events;
  }

  /** The figures, read right after the last pass. */
  figures() {
    const used = cpuSeconds(process.cpuUsage(this.cpu));
    const mainNow = mainThreadCpuSeconds();
    const main = mainNow === undefined || this.mainCpu === undefined ? undefined : mainNow - this.mainCpu;
    return {
      passes: this.passes,
      events: this.events,
      cpuSeconds: Number(used.toFixed(3)),
      eventsPerCpuSecond: this.passes ? Math.round(this.events / used) : undefined,
      ...(main === undefined || !this.passes
        ? {}
        : { mainThreadCpuSeconds: Number(main.toFixed(2)), eventsPerMainThreadCpuSecond: Math.round(this.events / main) }),
    };
  }
}

/** The run's figures so far: `fields`, then throughput over the time and CPU since `started`. */
function figures(fields: Record<string, unknown>, events: number, bytes: number, started: number, cpu: NodeJS.CpuUsage, mainCpu?: number) {
  const seconds = (performance.now() - started) / 1000;
  const used = cpuSeconds(process.cpuUsage(cpu));
  const mainNow = mainThreadCpuSeconds();
  const main = mainCpu === undefined || mainNow === undefined ? undefined : mainNow - mainCpu;
  return {
    ...fields,
    events,
    fileMiB: Number((bytes / 2 ** 20).toFixed(1)),
    seconds: Number(seconds.toFixed(2)),
    eventsPerSecond: Math.round(events / seconds),
    cpuSeconds: Number(used.toFixed(2)),
    // Every thread of the process counts: on a machine shared with other work this is the reader's own cost.
    eventsPerCpuSecond: Math.round(events / used),
    ...(main === undefined ? {} : { mainThreadCpuSeconds: main, eventsPerMainThreadCpuSecond: Math.round(events / main) }),
    mibPerSecond: Number((bytes / 2 ** 20 / seconds).toFixed(1)),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

function report(...args: Parameters<typeof figures>) {
  process.stdout.write(JSON.stringify(figures(...args)));
}

const args = process.argv.slice(2);
const started = performance.now();
const cpu = process.cpuUsage();
const mainCpu = mainThreadCpuSeconds();
let events = 0;
let issues = 0;
if (args[0] === "--load") {
  const [threads, passes] = [Number(args[1]), Number(args[2])];
  const paths = args.slice(3);
  const extra: Record<string, unknown> = {};
  if (threads > 0) {
    // One call over the files PASSES times, so starting the workers is paid once, as it is when loading a folder.
    const loaded = await loadLogs(Array.from({ length: passes }, () => paths).flat(), { threads });
    for (const table of Object.values(loaded.tables)) events += table.rows.length;
    issues = loaded.issues.length;
  } else {
    // The folder loaded PASSES times over, each a load of its own (tables built, then dropped), timed pass by pass.
    const steady = new SteadyState(Math.floor(passes / 4));
    for (let pass = 0; pass < passes; pass++) {
      steady.passStarts(pass);
      const loaded = await loadLogs(paths, { threads: 0 });
      let rows = 0;
      for (const table of Object.values(loaded.tables)) rows += table.rows.length;
      events += rows;
      issues += loaded.issues.length;
      steady.passEnded(pass, rows);
    }
    extra.steadyState = steady.figures();
  }
  const bytes = paths.reduce((n, p) => n + statSync(p).size, 0) * passes;
  report(
    { format: "evtx", mode: "loadLogs", files: paths.length, passes, threads, issues, ...extra },
    events,
    bytes,
    started,
    cpu,
    mainCpu,
  );
} else if (args[0] === "--evtx") {
  const [threads, passes] = [Number(args[1]), Number(args[2])];
  const decoderName = args[3];
  if (decoderName !== "direct" && decoderName !== "tree") throw new Error(`decoder must be "direct" or "tree", not ${decoderName}`);
  // "direct" is the readers' own decoding (no decoder given): what a load or a convert runs.
  const decoder = decoderName === "tree" ? TREE_EVENTS : undefined;
  const perFilePasses = args[4] === "--per-file" ? Number(args[5]) : 0;
  const paths = args.slice(perFilePasses ? 6 : 4);
  const extra: Record<string, unknown> = {};
  /** Reads one file; with `perFile`, adds its rows, Security rows and CPU seconds there (timing a file costs two system calls). */
  const readFile = async (path: string, perFile?: { events: number; cpuSeconds: number; securityRows: number }) => {
    const before = perFile && process.cpuUsage();
    let fileEvents = 0;
    let securityRows = 0;
    for await (const batch of evtxFileBatches(path, decoder))
      for (const item of batch) {
        if ("issue" in item) issues++;
        else {
          fileEvents++;
          if (item.table === "SecurityEvent") securityRows++;
        }
      }
    if (perFile) {
      perFile.cpuSeconds += cpuSeconds(process.cpuUsage(before));
      perFile.events += fileEvents;
      perFile.securityRows += securityRows;
    }
    return fileEvents;
  };
  if (threads > 0) {
    // One pool for every pass, so starting the workers is paid once, as it is when reading a folder.
    const work = Array.from({ length: passes }, () => paths).flat();
    for await (const batch of readEvtxFilesParallel(work, threads)) {
      if (batch.error) issues++;
      for (const item of batch.items) {
        if ("issue" in item) issues++;
        else events++;
      }
    }
  } else {
    // Rows and CPU seconds of the passes after the first quarter (once the code is compiled: the steady state), pass by
    // pass: files are timed one by one only in the passes that follow, which no figure but the per-file ones counts.
    const steady = new SteadyState(Math.floor(passes / 4));
    for (let pass = 0; pass < passes; pass++) {
      steady.passStarts(pass);
      let passEvents = 0;
      for (const path of paths) passEvents += await readFile(path);
      events += passEvents;
      steady.passEnded(pass, passEvents);
    }
    extra.steadyState = steady.figures();
  }
  const measured = figures(
    { format: "evtx", decoder: decoderName, files: paths.length, passes, threads, issues, ...extra },
    events,
    paths.reduce((n, p) => n + statSync(p).size, 0) * passes,
    started,
    cpu,
    mainCpu,
  );
  if (perFilePasses > 0 && threads === 0) {
    const perFile = paths.map(() => ({ events: 0, cpuSeconds: 0, securityRows: 0 }));
    for (let pass = 0; pass < perFilePasses; pass++) for (const [i, path] of paths.entries()) await readFile(path, perFile[i]);
    Object.assign(measured, {
      perFilePasses,
      perFile: paths.map((path, i) => ({
        file: path.split("/").pop(),
        eventsPerPass: perFile[i].events / perFilePasses,
        securityShare: perFile[i].events ? Number((perFile[i].securityRows / perFile[i].events).toFixed(2)) : 0,
        cpuMicrosecondsPerPass: Math.round((perFile[i].cpuSeconds / perFilePasses) * 1e6),
        eventsPerCpuSecond: Math.round(perFile[i].events / perFile[i].cpuSeconds),
      })),
    });
  }
  process.stdout.write(JSON.stringify(measured));
} else {
  const [path, formatArg] = args;
  const format = LogFormatSchema.parse(formatArg);
  for await (const item of readLogFile(path, { format })) {
    if ("issue" in item) issues++;
    else events++;
  }
  report({ format, issues }, events, statSync(path).size, started, cpu, mainCpu);
}
