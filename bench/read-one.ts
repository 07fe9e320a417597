/**
 * Child process of the reader bench: streams one file through a reader and reports throughput
 * and this process's peak RSS as JSON on stdout (a separate process so RSS is the reader's own).
 */
import { statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { LogFormatSchema, readLogFile } from "../lib/readers/index.js";

const [path, formatArg] = process.argv.slice(2);
const format = LogFormatSchema.parse(formatArg);
const started = performance.now();
let events = 0;
let issues = 0;
for await (const item of readLogFile(path, { format })) {
  if ("issue" in item) issues++;
  else events++;
}
const seconds = (performance.now() - started) / 1000;
const bytes = statSync(path).size;
process.stdout.write(
  JSON.stringify({
    format,
    events,
    issues,
    fileMiB: Math.round(bytes / 2 ** 20),
    seconds: Number(seconds.toFixed(2)),
    eventsPerSecond: Math.round(events / seconds),
    mibPerSecond: Number((bytes / 2 ** 20 / seconds).toFixed(1)),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
