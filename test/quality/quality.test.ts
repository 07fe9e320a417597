import { describe, expect, it } from "vitest";
import { checkRealSample, evaluateGenerated } from "../../lib/quality/run.js";
import { dataset } from "../fixtures.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();

describe("detection quality", () => {
  it("on labelled generated logs: every injected attack is among its hunt's top findings, and no benign entity alerts", async () => {
    const quality = await evaluateGenerated(await freshStorage(azurite()), { seed: 42, days: 14 });
    for (const hunt of quality) {
      expect(hunt.labels.length, hunt.huntId).toBeGreaterThan(0);
      expect(hunt.recall, `${hunt.huntId}: ${JSON.stringify(hunt.labels)}`).toBe(1);
      expect(hunt.falsePositives, `${hunt.huntId}: ${hunt.falsePositiveEntities.join(", ")}`).toBe(0);
      expect(hunt.highestBenignScore).toBeLessThan(hunt.alertScore);
    }
  }, 300_000);

  it("holds with another seed and org size", async () => {
    const quality = await evaluateGenerated(await freshStorage(azurite()), { seed: 7, days: 10, users: 60, workstations: 60 });
    for (const hunt of quality) {
      expect(hunt.recall, `${hunt.huntId}: ${JSON.stringify(hunt.labels)}`).toBe(1);
      expect(hunt.falsePositives, `${hunt.huntId}: ${hunt.falsePositiveEntities.join(", ")}`).toBe(0);
    }
  }, 300_000);

  it("finds the network brute force in the real Sentinel CSV export (66.90.100.200)", async () => {
    const check = await checkRealSample(
      await freshStorage(azurite()),
      dataset("azure-sentinel/Microsoft_Security_Events_Authentication_IngestedLogs.small.csv"),
      "password-spray-by-source",
      (key) => key === "66.90.100.200",
      "sentinel-csv",
    );
    expect(check).toMatchObject({ found: true, rank: 1 });
  });

  it("finds the PurpleSharp password spray in the real Mordor sample", async () => {
    const check = await checkRealSample(
      await freshStorage(azurite()),
      dataset("security-datasets/purplesharp_ad_playbook_I_2020-10-22042947.logon.jsonl"),
      "password-spray-by-source",
      (key) => /purplesharp\.exe$/i.test(key),
      "purplesharp",
    );
    expect(check).toMatchObject({ found: true, rank: 1 });
  });
});
