/** Detection quality (recall, false positives) on labelled generated logs and the real samples; also written to bench/quality.json. */
import { writeFileSync } from "node:fs";
import { startAzurite } from "../lib/local/azurite.js";
import { qualityTotals } from "../lib/quality/evaluate.js";
import { checkRealSample, evaluateGenerated } from "../lib/quality/run.js";
import { BUNDLED_SAMPLES } from "../lib/synth/local-dataset.js";
import { Storage } from "../lib/state/storage.js";
import type { BenchSection } from "./measure.js";

export async function benchQuality(): Promise<BenchSection> {
  const azurite = await startAzurite({ inMemory: true });
  try {
    const storage = (prefix: string) => {
      const s = new Storage({ kind: "connection-string", connectionString: azurite.connectionString, tablePrefix: prefix });
      return s.ensure().then(() => s);
    };
    const generated = await evaluateGenerated(await storage("q1"), { seed: 42, days: 14 });
    const samples = [
      await checkRealSample(
        await storage("q2"),
        `${BUNDLED_SAMPLES}/Microsoft_Security_Events_Authentication_IngestedLogs.small.csv`,
        "password-spray-by-source",
        (k) => k === "66.90.100.200",
        "azure-sentinel CSV export: brute force from 66.90.100.200",
      ),
      await checkRealSample(
        await storage("q3"),
        `${BUNDLED_SAMPLES}/purplesharp_ad_playbook_I_2020-10-22042947.logon.jsonl`,
        "password-spray-by-source",
        (k) => /purplesharp\.exe$/i.test(k),
        "Mordor purplesharp: password spray",
      ),
    ];
    const { labels, found, falsePositives } = qualityTotals(generated);
    const result = {
      generated: { seed: 42, days: 14, hunts: generated },
      totals: { labels, found, falsePositives },
      realSamples: samples,
      measuredAt: new Date().toISOString(),
    };
    writeFileSync(new URL("./quality.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
    console.log(
      `quality: ${result.totals.found}/${result.totals.labels} labelled attacks found, ${result.totals.falsePositives} false positives; real samples ${samples.filter((s) => s.found).length}/${samples.length}`,
    );
    return {
      totals: result.totals,
      realSamples: samples.map((s) => ({ sample: s.sample, found: s.found })),
      details: "bench/quality.json",
    };
  } finally {
    await azurite.stop();
  }
}
