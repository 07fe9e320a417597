/**
 * Detection quality, written to bench/quality.json:
 *  - the realistic organisation (1,500 users, 400 workstations, 14 days, the benign phenomena and
 *    ten attacks) over several seeds, each with its own proportions: per hunt and in total, attacks
 *    found in the top 5 and false alerts per 1,000 entity-windows scored on the attack day, what
 *    raised them, and the replay's time;
 *  - the small demo organisation and the real samples, as before.
 * `npm run bench quality -- --seeds=1,2,3` picks the seeds.
 */
import { writeFileSync } from "node:fs";
import { startAzurite } from "../lib/local/azurite.js";
import { qualityTotals, type HuntQuality } from "../lib/quality/evaluate.js";
import { checkRealSample, measureGenerated, type GeneratedQuality } from "../lib/quality/run.js";
import { BUNDLED_SAMPLES } from "../lib/synth/local-dataset.js";
import { Storage } from "../lib/state/storage.js";
import type { BenchSection } from "./measure.js";

const DEFAULT_SEEDS = [1, 2, 3];

function seedsFromArgs(): number[] {
  const arg = process.argv.find((a) => a.startsWith("--seeds="));
  if (!arg) return DEFAULT_SEEDS;
  const seeds = arg.slice("--seeds=".length).split(",").map(Number);
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s))) throw new Error(`--seeds: expected integers like 1,2,3, got '${arg}'`);
  return seeds;
}

/** One hunt on one seed, small enough to read: the causes keep their five most frequent reasons. */
function huntSummary(h: HuntQuality) {
  return {
    huntId: h.huntId,
    attacks: h.labels.length,
    found: h.labels.filter((l) => l.found).length,
    entityWindows: h.entityWindows,
    falseAlerts: h.falseAlerts,
    falseAlertsPer1000: h.falseAlertsPer1000,
    cappedRuns: h.cappedRuns,
    labels: h.labels,
    highestBenignScore: h.highestBenignScore,
    causes: h.causes.map((c) => ({ ...c, reasons: c.reasons.slice(0, 5) })),
  };
}

function seedSummary(seed: number, q: GeneratedQuality) {
  return { seed, rows: q.rows, seconds: q.seconds, phenomena: q.phenomena, totals: q.totals, hunts: q.hunts.map(huntSummary) };
}

/** Per hunt over all seeds: the rate is pooled (all false alerts over all entity-windows), not averaged. */
function acrossSeeds(results: readonly GeneratedQuality[]) {
  const huntIds = results[0]?.hunts.map((h) => h.huntId) ?? [];
  const hunts = huntIds.map((huntId) => {
    const own = results.map((r) => r.hunts.find((h) => h.huntId === huntId)!);
    const totals = qualityTotals(own);
    return {
      huntId,
      attacks: totals.labels,
      found: totals.found,
      entityWindows: totals.entityWindows,
      falseAlerts: totals.falseAlerts,
      falseAlertsPer1000: totals.falseAlertsPer1000,
    };
  });
  const totals = qualityTotals(results.flatMap((r) => r.hunts));
  return {
    hunts,
    totals: {
      attacks: totals.labels,
      found: totals.found,
      entityWindows: totals.entityWindows,
      falseAlerts: totals.falseAlerts,
      falseAlertsPer1000: totals.falseAlertsPer1000,
    },
  };
}

export async function benchQuality(): Promise<BenchSection> {
  const azurite = await startAzurite({ inMemory: true });
  try {
    let prefixes = 0;
    const storage = async () => {
      const s = new Storage({ kind: "connection-string", connectionString: azurite.connectionString, tablePrefix: `q${++prefixes}` });
      await s.ensure();
      return s;
    };
    const seeds = seedsFromArgs();
    const realistic: GeneratedQuality[] = [];
    const write = (result: object) => writeFileSync(new URL("./quality.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
    for (const seed of seeds) {
      console.log(`  realistic org, seed ${seed}...`);
      const q = await measureGenerated(await storage(), { seed, days: 14, profile: "realistic" });
      realistic.push(q);
      // A seed takes minutes: keep what is measured even if a later seed is interrupted.
      const done = seeds.slice(0, realistic.length);
      write({ realistic: { days: 14, partial: true, ...acrossSeeds(realistic), seeds: realistic.map((r, i) => seedSummary(done[i], r)) } });
      console.log(
        `    ${q.totals.found}/${q.totals.labels} attacks in the top 5, ${q.totals.falseAlerts} false alerts over ${q.totals.entityWindows} entity-windows (${q.totals.falseAlertsPer1000} per 1,000); generate ${q.seconds.generate} s, replay ${q.seconds.replay} s wall (${q.seconds.replayCpu} s CPU)`,
      );
    }
    const small = await measureGenerated(await storage(), { seed: 42, days: 14 });
    const samples = [
      await checkRealSample(
        await storage(),
        `${BUNDLED_SAMPLES}/Microsoft_Security_Events_Authentication_IngestedLogs.small.csv`,
        "password-spray-by-source",
        (k) => k === "66.90.100.200",
        "azure-sentinel CSV export: brute force from 66.90.100.200",
      ),
      await checkRealSample(
        await storage(),
        `${BUNDLED_SAMPLES}/purplesharp_ad_playbook_I_2020-10-22042947.logon.jsonl`,
        "password-spray-by-source",
        (k) => /purplesharp\.exe$/i.test(k),
        "Mordor purplesharp: password spray",
      ),
    ];
    const overall = acrossSeeds(realistic);
    const replay = realistic.map((q, i) => ({ seed: seeds[i], rows: q.rows, ...q.seconds }));
    const result = {
      realistic: { days: 14, profile: "realistic", ...overall, replay, seeds: realistic.map((q, i) => seedSummary(seeds[i], q)) },
      small: { seed: 42, days: 14, totals: small.totals, hunts: small.hunts.map(huntSummary) },
      realSamples: samples,
      measuredAt: new Date().toISOString(),
    };
    write(result);
    console.log(
      `quality: realistic org over seeds ${seeds.join(", ")}: ${overall.totals.found}/${overall.totals.attacks} attacks in the top 5, ${overall.totals.falseAlertsPer1000} false alerts per 1,000 entity-windows; small org ${small.totals.found}/${small.totals.labels}, ${small.totals.falseAlerts} false alerts; real samples ${samples.filter((s) => s.found).length}/${samples.length}`,
    );
    return {
      realistic: { seeds, hunts: overall.hunts, totals: overall.totals, replay },
      small: small.totals,
      realSamples: samples.map((s) => ({ sample: s.sample, found: s.found })),
      details: "bench/quality.json",
    };
  } finally {
    await azurite.stop();
  }
}
