/**
 * `npm start`: the whole product on one machine, with nothing to set up. Starts Azurite, builds
 * the local dataset, replays it day by day so baselines build up, runs every hunt, delivers
 * alerts and a digest to a local receiver (which verifies the webhook signatures and writes what
 * it got to out/), scores the real samples as a responder would, and prints the ranked digest.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { consoleLogger, lineLogger, silentLogger } from "../log.js";
import { handleQueueMessage } from "../notify/queue.js";
import { createRuntime } from "../runtime.js";
import type { Finding } from "../findings/finding.js";
import { builtInHunts } from "../hunts/catalog.js";
import { sendDigest } from "../notify/notifier.js";
import { warmUpParser } from "../kql/index.js";
import { evaluate, qualityTotals } from "../quality/evaluate.js";
import { loadLogs, logFilesUnder } from "../readers/index.js";
import { replay } from "../runs/replay.js";
import { runOnDemand, servicesFor } from "../runs/runner.js";
import { LocalSource } from "../sources/local.js";
import { Storage } from "../state/storage.js";
import { ensureLocalDataset, REPO_ROOT } from "../synth/local-dataset.js";
import { startAzurite } from "./azurite.js";
import { readQueueSettings } from "./host-settings.js";
import { drainQueue } from "./queue-worker.js";
import { startReceiver } from "./receiver.js";

const DAY = 86_400_000;

export interface DemoResult {
  alerts: number;
  /** Incidents the alerts formed (each alert belongs to exactly one). */
  incidents: number;
  /** Incident notices delivered from the queue: one when an incident opens, one each time it is raised. */
  delivered: number;
  digest: Finding[];
  outDir: string;
  recall: number;
  falsePositives: number;
}

function line(f: Finding, rank: number): string {
  return `${String(rank).padStart(2)}. ${String(f.score).padStart(3)}  ${f.huntId.padEnd(27)} ${f.entity.key.slice(0, 60).padEnd(60)} ${f.reasons[0] ?? ""}`;
}

export async function runDemo(options: { outDir?: string; log?: (m: string) => void } = {}): Promise<DemoResult> {
  const log = options.log ?? ((line: string) => consoleLogger.info(line));
  const outDir = options.outDir ?? join(REPO_ROOT, "out");
  rmSync(join(outDir, "received"), { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  log("Starting Azurite (in memory, free ports)...");
  const azurite = await startAzurite({ inMemory: true, whileStarting: warmUpParser });
  const secret = `whsec_${randomBytes(24).toString("base64")}`;
  const receiver = await startReceiver({ secret, outDir: join(outDir, "received") });
  try {
    log("Preparing the local dataset (generated organisation + bundled real samples)...");
    const dataset = await ensureLocalDataset(join(outDir, "dataset"));
    const env = {
      AzureWebJobsStorage: azurite.connectionString,
      HUNT_SOURCE: "local",
      LOCAL_DATA_PATHS: dataset.generatedLogs,
      NOTIFY_TEAMS_WEBHOOK_URL: `${receiver.url}/teams`,
      NOTIFY_WEBHOOK_URL: `${receiver.url}/webhook`,
      NOTIFY_WEBHOOK_SECRET: secret,
      NOTIFY_ALLOW_INSECURE: "true",
      PUBLIC_BASE_URL: "http://localhost:7071",
    };
    const app = await createRuntime(env, { log: silentLogger });
    const hunts = builtInHunts();

    const period = { start: dataset.start.getTime(), end: dataset.end.getTime() };
    log(`Replaying ${Math.round((period.end - period.start) / DAY)} days through ${hunts.length} hunts (baselines in Azurite)...`);
    let lastDay = 0;
    // Progress: a live counter in a terminal, a line a week in a log.
    const live = !options.log && process.stdout.isTTY;
    const { findings, failures } = await replay(hunts, app.services, period, (p) => {
      if (p.day === lastDay) return;
      lastDay = p.day;
      if (live) process.stdout.write(`\r  day ${p.day}/${p.days}${p.day === p.days ? "\n" : ""}`);
      else if (p.day % 7 === 0 || p.day === p.days) log(`  day ${p.day}/${p.days}`);
    });
    if (failures.length) throw new Error(`the replay failed: ${failures.map((f) => `${f.huntId}: ${f.error}`).join("; ")}`);
    const alerts = findings.filter((f) => f.alert);
    const incidents = new Set(alerts.map((f) => f.incidentId)).size;
    log(`  ${findings.length} findings, ${alerts.length} alerts in ${incidents} incident(s)`);

    log("Delivering incident notices from the queue (host.json dequeue and poison rules)...");
    const queued = await drainQueue(
      app.storage.queue("findings"),
      app.storage.queue("poison"),
      readQueueSettings(),
      (m) => handleQueueMessage(app.notifier, app.storage.queue("poison"), m),
      { log: lineLogger(log) },
    );
    log(`  ${queued.handled} delivered, ${queued.poisoned} poisoned`);

    log("Sending the digest...");
    const digest = await sendDigest(app.findings, app.notifier, {
      now: period.end + 60 * 60_000,
      lookbackMs: period.end - period.start + DAY,
    });
    const digestFindings = digest[0]?.findings ?? [];

    const quality = evaluate(hunts, dataset.labels, findings, { start: period.end - DAY, end: period.end });
    const { recall, falsePositives } = qualityTotals(quality);

    log("Scoring the real samples on demand, as a responder with exported logs would...");
    const responder: { sample: string; top: Finding[] }[] = [];
    // Separate tables: a responder's look at exported logs starts with no history.
    const responderStorage = new Storage({
      kind: "connection-string",
      connectionString: azurite.connectionString,
      tablePrefix: "responder",
    });
    await responderStorage.ensure();
    for (const sample of logFilesUnder(dataset.samples).files) {
      const { tables } = await loadLogs([sample]);
      const source = new LocalSource(tables, sample);
      const range = source.timeRange();
      if (!range) continue;
      const window = { start: range.start - 60_000, end: range.end + 60_000 };
      const services = servicesFor(responderStorage, source);
      for (const hunt of hunts) {
        if (!hunt.tables.some((name) => tables[name])) continue;
        const { findings: found } = await runOnDemand(hunt, services, { window, dryRun: true }, window.end);
        if (found.some((f) => f.alert)) responder.push({ sample, top: found.filter((f) => f.alert).slice(0, 3) });
      }
    }

    const ranked = [...digestFindings].sort((a, b) => b.score - a.score);
    log("");
    log(`Digest: ${ranked.length} alerting finding(s), ranked`);
    ranked.slice(0, 25).forEach((f, i) => log(line(f, i + 1)));
    if (ranked.length > 25) log(`    ...and ${ranked.length - 25} more`);
    log("");
    log("Real samples (on demand, no history):");
    for (const r of responder)
      for (const f of r.top)
        log(
          `  ${r.sample.split("/").slice(-1)[0].slice(0, 40).padEnd(40)} ${String(f.score).padStart(3)}  ${f.huntId}  ${f.entity.key.slice(0, 70)}`,
        );
    const verified = receiver.received.filter((r) => r.path === "/webhook" && r.verified === true).length;
    const teams = receiver.received.filter((r) => r.path === "/teams").length;
    log("");
    log(`Receiver: ${teams} Teams message(s), ${verified} signed webhook(s) verified, written to ${join(outDir, "received")}`);
    log(`Detection on the generated scenarios: recall ${(recall * 100).toFixed(0)}%, ${falsePositives} false positive(s)`);
    writeFileSync(join(outDir, "digest.json"), `${JSON.stringify({ findings: ranked, responder }, null, 2)}\n`);
    if (receiver.received.some((r) => r.verified === false)) throw new Error("the receiver got a webhook whose signature did not verify");
    return { alerts: alerts.length, incidents, delivered: queued.handled, digest: ranked, outDir, recall, falsePositives };
  } finally {
    await receiver.stop();
    await azurite.stop();
  }
}
