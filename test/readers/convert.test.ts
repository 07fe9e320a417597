import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runQuery, toJsonRecords } from "../../lib/kql/index.js";
import { convertLogs } from "../../lib/readers/convert.js";
import { loadLogs } from "../../lib/readers/index.js";
import { dataset } from "../fixtures.js";

const work = mkdtempSync(join(tmpdir(), "convert-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const INPUTS = [
  dataset("evtx-attack-samples/DE_RDP_Tunneling_4624.evtx"),
  new URL("../fixtures/evtx/evtx-attack-samples/DE_104_system_log_cleared.evtx", import.meta.url).pathname,
  dataset("security-datasets/purplesharp_ad_playbook_I_2020-10-22042947.logon.jsonl"),
];

describe("hunts convert: NDJSON, one file per table", () => {
  it("writes every row the readers produce, times exact to the tick, and reads back to the same tables", async () => {
    const out = join(work, "out");
    const { tables, issues } = await convertLogs(INPUTS, out);
    expect(issues).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(["Event.ndjson", "SecurityEvent.ndjson"]);
    const lines = readFileSync(join(out, "SecurityEvent.ndjson"), "utf8").trim().split("\n");
    expect(lines.length).toBe(tables.SecurityEvent.rows);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.every((r) => r.Type === "SecurityEvent" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/.test(String(r.TimeGenerated)))).toBe(
      true,
    );
    // The first EVTX row's time is the FILETIME to the tick (python-evtx's reference rounds it to the microsecond).
    expect(rows[0].TimeGenerated).toMatch(/^2019-02-13T15:14:52\.40973\d\dZ$/);

    const direct = await loadLogs(INPUTS);
    const back = await loadLogs([out]);
    expect(back.issues).toEqual([]);
    const summary = (t: typeof direct.tables) =>
      toJsonRecords(
        runQuery("SecurityEvent | summarize n = count(), a = dcount(Account), t = max(TimeGenerated) by EventID | order by EventID asc", {
          tables: t,
        }).table,
      );
    expect(summary(back.tables)).toEqual(summary(direct.tables));
    expect(back.tables.Event.rows).toEqual(direct.tables.Event.rows);
  });

  it("a file it cannot read is reported and the others are written", async () => {
    const out = join(work, "out2");
    const bad = join(work, "notes.json");
    writeFileSync(bad, "not a log\n");
    const { tables, issues } = await convertLogs([INPUTS[0], bad], out);
    expect(tables.SecurityEvent.rows).toBe(18);
    expect(issues).toEqual([expect.objectContaining({ at: 0, message: expect.stringMatching(/cannot tell the log format/) as unknown })]);
  });

  it("each line is the row as JSON.stringify writes it: quotes, backslashes, control characters, surrogate pairs and lone ones, nulls", async () => {
    const input = join(work, "tricky.ndjson");
    const rows = [
      {
        Type: "Event",
        TimeGenerated: "2024-10-18T10:00:00Z",
        Computer: 'say "hi" \\ back',
        RenderedDescription: "tab\tnew\nline\u0001bell",
      },
      { Type: "Event", TimeGenerated: "2024-10-18T10:00:01Z", Computer: "emoji 😀 and lone \ud800", RenderedDescription: null },
      { Type: "Event", TimeGenerated: "2024-10-18T10:00:02Z", Computer: "plain", EventData: "<Data Name='a'>x</Data>" },
    ];
    writeFileSync(input, rows.map((r) => JSON.stringify(r)).join("\n"));
    const out = join(work, "out3");
    await convertLogs([input], out);
    const lines = readFileSync(join(out, "Event.ndjson"), "utf8").trim().split("\n");
    // What the reader made of each line (for NDJSON, the row as it was), as JSON.stringify writes it.
    expect(lines).toEqual(rows.map((r) => JSON.stringify(r)));
    expect((JSON.parse(lines[1]) as { Computer: string }).Computer).toBe("emoji 😀 and lone \ud800");
  });
});
