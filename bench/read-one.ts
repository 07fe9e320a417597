/**
 * Child process of the reader bench: streams files through a reader and reports throughput and
 * this process's peak RSS as JSON on stdout (a separate process so RSS is the reader's own).
 *   read-one.ts PATH FORMAT                      one file through readLogFile
 *   read-one.ts --evtx THREADS PASSES PATH...   EVTX files to rows, PASSES times; THREADS 0 = this thread only
 */
import { statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { evtxFileBatches } from "../lib/readers/evtx-rows.js";
import { LogFormatSchema, readLogFile } from "../lib/readers/index.js";
import { readEvtxFilesParallel } from "../lib/readers/parallel.js";

function report(fields: Record<string, unknown>, events: number, bytes: number, started: number, cpu: NodeJS.CpuUsage) {
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  process.stdout.write(
    JSON.stringify({
      ...fields,
      events,
      fileMiB: Number((bytes / 2 ** 20).toFixed(1)),
      seconds: Number(seconds.toFixed(2)),
      eventsPerSecond: Math.round(events / seconds),
      cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(2)),
      // Every thread of the process counts: on a machine shared with other work this is the reader's own cost.
      eventsPerCpuSecond: Math.round(events / ((used.user + used.system) / 1e6)),
      mibPerSecond: Number((bytes / 2 ** 20 / seconds).toFixed(1)),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
}

const args = process.argv.slice(2);
const started = performance.now();
const cpu = process.cpuUsage();
let events = 0;
let issues = 0;
if (args[0] === "--evtx") {
  const [threads, passes] = [Number(args[1]), Number(args[2])];
  const paths = args.slice(3);
  // One pool for every pass, so starting the workers is paid once, as it is when reading a folder.
  const work = Array.from({ length: passes }, () => paths).flat();
  if (threads > 0) {
    for await (const batch of readEvtxFilesParallel(work, threads)) {
      if (batch.error) issues++;
      for (const item of batch.items) {
        if ("issue" in item) issues++;
        else events++;
      }
    }
  } else {
    for (const path of work)
      for await (const batch of evtxFileBatches(path))
        for (const item of batch) {
          if ("issue" in item) issues++;
          else events++;
        }
  }
  const bytes = paths.reduce((n, p) => n + statSync(p).size, 0) * passes;
  report({ format: "evtx", files: paths.length, passes, threads, issues }, events, bytes, started, cpu);
} else {
  const [path, formatArg] = args;
  const format = LogFormatSchema.parse(formatArg);
  for await (const item of readLogFile(path, { format })) {
    if ("issue" in item) issues++;
    else events++;
  }
  report({ format, issues }, events, statSync(path).size, started, cpu);
}
