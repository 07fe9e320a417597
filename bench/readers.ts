/**
 * Reader throughput at 1M events: the same generated SecurityEvent rows written as EVTX and as
 * NDJSON, each streamed through its reader in its own process (events/s, MiB/s, peak RSS).
 */
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSecurityVolume, BENCH_SECURITY_COLUMNS } from "../lib/synth/security-volume.js";
import { writeEvtx, type EvtxEventInput } from "../lib/synth/evtx-writer.js";
import { formatDatetime } from "../lib/kql/values.js";
import type { BenchSection } from "./measure.js";

const DATA_NAMES = BENCH_SECURITY_COLUMNS.filter((c) => !["TimeGenerated", "Computer", "EventID"].includes(c.name)).map((c) => c.name);

export async function benchReaders(events: number): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), "bench-readers-"));
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
          time: row[time] as number,
          computer: row[computer] as string,
          channel: "Security",
          provider: "Microsoft-Windows-Security-Auditing",
          data: dataIdx.map((i) => (row[i] === null ? "" : String(row[i]))),
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

    const run = (path: string, format: string) =>
      JSON.parse(
        execFileSync(
          process.execPath,
          ["--max-semi-space-size=64", "--import", "tsx", join(import.meta.dirname, "read-one.ts"), path, format],
          { encoding: "utf8", maxBuffer: 1 << 20 },
        ),
      );
    const evtx = run(evtxPath, "evtx");
    console.log(`evtx: ${JSON.stringify(evtx)}`);
    const ndjson = run(ndjsonPath, "ndjson");
    console.log(`ndjson: ${JSON.stringify(ndjson)}`);
    for (const result of [evtx, ndjson])
      if (result.events !== events) throw new Error(`${result.format} read ${result.events} of ${events} events`);
    return { events, evtx, ndjson, note: "streamed through readLogFile in a child process each; peak RSS is that process's" };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
