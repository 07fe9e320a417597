/**
 * Replay speed: the realistic organisation (1,500 users, 400 workstations, 12 servers, 14 days)
 * replayed through every hunt by `hunts backtest`'s path (lib/runs/backtest.ts, the scheduled
 * runner per window) against Azurite. Per seed and per hunt: wall and CPU seconds of this process,
 * Azurite's CPU seconds, and storage round trips (HTTP requests) per window, counted on Node's
 * own http client channel. The target is a replay of at most 20 s per seed.
 * `npm run bench replay-speed -- --seeds=1,2` picks the seeds (default 1); `--hunt-by-hunt` times each hunt.
 */
import { createHash } from "node:crypto";
import diagnostics from "node:diagnostics_channel";
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { BaselineStore } from "../lib/baselines/store.js";
import { builtInHunts } from "../lib/hunts/catalog.js";
import { warmUpParser, type Table } from "../lib/kql/index.js";
import { startAzurite } from "../lib/local/azurite.js";
import { backtest } from "../lib/runs/backtest.js";
import { servicesFor } from "../lib/runs/runner.js";
import { LocalSource } from "../lib/sources/local.js";
import { Storage } from "../lib/state/storage.js";
import { generatedTables, generateOrgLogs } from "../lib/synth/org.js";
import { peakRssMiB, type BenchSection } from "./measure.js";

/** The target: replaying the organisation through every hunt in at most this long, on 2 cores. */
export const REPLAY_TARGET_SECONDS = 20;
/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const CLOCK_TICKS = 100;

function seedsFromArgs(): number[] {
  const arg = process.argv.find((a) => a.startsWith("--seeds="));
  if (!arg) return [1];
  const seeds = arg.slice("--seeds=".length).split(",").map(Number);
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s))) throw new Error(`--seeds: expected integers like 1,2, got '${arg}'`);
  return seeds;
}

/** CPU seconds of this process's Azurite children so far (Linux /proc); undefined elsewhere. */
function azuriteCpuSeconds(): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  let ticks = 0;
  let found = false;
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command name (which may hold spaces): state ppid ... utime(14) stime(15).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== process.pid || !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("azurite")) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
      found = true;
    } catch {
      // The process ended meanwhile.
    }
  }
  return found ? ticks / CLOCK_TICKS : undefined;
}

/** Counts every HTTP request this process starts (all of them go to Azurite here), by method and table or queue. */
function countRequests(): { total: () => number; byKind: () => Record<string, number>; stop: () => void } {
  const counts = new Map<string, number>();
  const onStart = (message: unknown) => {
    const request = (message as { request: { method: string; path: string } }).request;
    const resource = decodeURIComponent(request.path.split("?")[0])
      .split("/")
      .slice(2)
      .join("/")
      .replace(/\(\)$/, " query")
      .replace(/\(.+\)$/, " entity");
    const kind = `${request.method} ${resource}`;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  };
  diagnostics.subscribe("http.client.request.start", onStart);
  return {
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    byKind: () => Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])),
    stop: () => diagnostics.unsubscribe("http.client.request.start", onStart),
  };
}

const seconds = (value: number) => Number(value.toFixed(2));

/** A seed's organisation as tables, and the period it covers. */
function generated(seed: number): { tables: Record<string, Table>; period: { start: number; end: number } } {
  const logs = generateOrgLogs({ seed, days: 14, profile: "realistic" });
  return { tables: generatedTables(logs), period: { start: logs.start, end: logs.end } };
}

async function replaySeed(seed: number, huntByHunt: boolean) {
  let started = performance.now();
  // Only the tables and the period outlive this: `hunts backtest` holds the tables it read, not the
  // generator's records as well (keeping them alive made every collection of the old generation longer).
  const { tables, period } = generated(seed);
  const generateSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  // As `hunts backtest` does: the Kusto parser's one-time start while Azurite starts (outside the replay's time).
  const azurite = await startAzurite({ inMemory: true, whileStarting: warmUpParser });
  const startSeconds = (performance.now() - started) / 1000;
  try {
    const storage = new Storage({ kind: "connection-string", connectionString: azurite.connectionString, tablePrefix: "replay" });
    await storage.ensure();
    // As `hunts backtest` has it: the private Azurite is the baseline store's alone.
    const services = servicesFor(storage, new LocalSource(tables, "generated"), {
      baselines: new BaselineStore(storage.table("baselines"), { soleWriter: true }),
    });
    const hunts = builtInHunts();
    const requests = countRequests();
    const perHunt = new Map(hunts.map((h) => [h.id, { wall: 0, cpu: 0, azuriteCpu: 0, requests: 0 }]));
    const mark = () => ({
      wall: performance.now(),
      cpu: process.cpuUsage(),
      azuriteCpu: azuriteCpuSeconds() ?? 0,
      requests: requests.total(),
    });
    const first = mark();
    let last = first;
    started = performance.now();
    // Side by side (what `hunts backtest` does), a stretch of time belongs to no one hunt: only
    // `--hunt-by-hunt` replays them one after the other, where each callback closes one hunt's stretch.
    const report = await backtest(
      hunts,
      services,
      period,
      // Side by side nothing is timed per hunt, and marking reads /proc: the measured run carries none of it.
      !huntByHunt
        ? undefined
        : (huntId) => {
            const now = mark();
            const own = perHunt.get(huntId)!;
            const cpu = process.cpuUsage(last.cpu);
            own.wall += (now.wall - last.wall) / 1000;
            own.cpu += (cpu.user + cpu.system) / 1e6;
            own.azuriteCpu += now.azuriteCpu - last.azuriteCpu;
            own.requests += now.requests - last.requests;
            last = now;
          },
      { huntByHunt },
    );
    const end = mark();
    requests.stop();
    const cpu = process.cpuUsage(first.cpu);
    const windows = report.runs.length;
    const azuriteCpu = azuriteCpuSeconds() === undefined ? null : seconds(end.azuriteCpu - first.azuriteCpu);
    return {
      seed,
      rows: Object.fromEntries(Object.entries(tables).map(([name, t]) => [name, t.rows.length])),
      generateSeconds: seconds(generateSeconds),
      // Azurite's start, with the parser's warm-up done meanwhile.
      startSeconds: seconds(startSeconds),
      windows,
      findings: report.findings.length,
      alerts: report.findings.filter((f) => f.alert).length,
      failures: report.failures,
      // Two replays that score alike print the same report: compare this across versions.
      reportSha256: createHash("sha256").update(JSON.stringify(report)).digest("hex"),
      wallSeconds: seconds((end.wall - first.wall) / 1000),
      cpuSeconds: seconds((cpu.user + cpu.system) / 1e6),
      azuriteCpuSeconds: azuriteCpu,
      requests: end.requests - first.requests,
      requestsPerWindow: Number(((end.requests - first.requests) / windows).toFixed(1)),
      requestsByKind: requests.byKind(),
      // The data, its time index and what the baseline store remembers all live in this process.
      peakRssMiB: peakRssMiB(),
      huntByHunt,
      hunts: hunts.map((h) => {
        const own = perHunt.get(h.id)!;
        const huntWindows = report.runs.filter((r) => r.huntId === h.id).length;
        if (!huntByHunt) return { huntId: h.id, windows: huntWindows };
        return {
          huntId: h.id,
          windows: huntWindows,
          wallSeconds: seconds(own.wall),
          cpuSeconds: seconds(own.cpu),
          azuriteCpuSeconds: azuriteCpu === null ? null : seconds(own.azuriteCpu),
          requestsPerWindow: huntWindows ? Number((own.requests / huntWindows).toFixed(1)) : 0,
        };
      }),
    };
  } finally {
    await azurite.stop();
  }
}

export async function benchReplaySpeed(): Promise<BenchSection> {
  const seeds = [];
  const huntByHunt = process.argv.includes("--hunt-by-hunt");
  for (const seed of seedsFromArgs()) {
    console.log(`  realistic org, seed ${seed}${huntByHunt ? ", hunt by hunt" : ""}...`);
    const result = await replaySeed(seed, huntByHunt);
    seeds.push(result);
    console.log(
      `    ${result.windows} windows: ${result.wallSeconds} s wall, ${result.cpuSeconds} s CPU (Azurite ${result.azuriteCpuSeconds ?? "?"} s), ${result.requestsPerWindow} requests per window`,
    );
    for (const h of result.hunts)
      if ("cpuSeconds" in h)
        console.log(
          `      ${h.huntId.padEnd(30)} ${String(h.windows).padStart(4)} windows ${String(h.cpuSeconds).padStart(7)} s CPU ${String(h.requestsPerWindow).padStart(7)} requests/window`,
        );
  }
  const worst = Math.max(...seeds.map((s) => s.wallSeconds));
  return {
    profile: "realistic",
    days: 14,
    seeds,
    target: { wallSecondsPerSeed: REPLAY_TARGET_SECONDS, worstWallSeconds: worst, met: worst <= REPLAY_TARGET_SECONDS },
    note: "Hunts replay side by side as `hunts backtest` runs them (--hunt-by-hunt: one after the other, timed per hunt). CPU is this process's (user + system) during the replay, generation excluded; Azurite runs as a child process and is counted apart. Wall time swings with the machine's load.",
  };
}
