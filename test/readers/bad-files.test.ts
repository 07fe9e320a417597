/** One bad log file never stops the others: its problem names the file (and the line), the rest load. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadLogs } from "../../lib/readers/index.js";
import { scratchDir } from "../helpers/scratch.js";

describe("a folder with a bad file among good ones", () => {
  it("loads the good files, and reports the broken EVTX by name and the bad NDJSON line by name and number", async () => {
    const dir = scratchDir("bad-files-");
    const event = (computer: string, second: number) =>
      JSON.stringify({ Type: "SecurityEvent", TimeGenerated: `2024-01-01T00:00:0${second}Z`, EventID: 4625, Computer: computer });
    writeFileSync(join(dir, "a.ndjson"), [event("a1", 0), event("a2", 1)].join("\n"));
    writeFileSync(join(dir, "b.evtx"), "ElfFile\0 not really");
    writeFileSync(join(dir, "c.ndjson"), [event("c1", 2), "{broken json", event("c3", 3)].join("\n"));

    const { tables, issues } = await loadLogs([dir]);
    const computer = tables.SecurityEvent.columns.findIndex((c) => c.name === "Computer");
    expect(tables.SecurityEvent.rows.map((r) => r[computer]).sort()).toEqual(["a1", "a2", "c1", "c3"]);
    expect(issues.map((i) => [i.source, i.at])).toEqual(
      expect.arrayContaining([
        [join(dir, "b.evtx"), 0],
        [join(dir, "c.ndjson"), 2],
      ]),
    );
    expect(issues).toHaveLength(2);
    expect(issues.find((i) => i.source.endsWith("b.evtx"))!.message).toMatch(/b\.evtx: truncated inside its file header/);
  });
});

describe("--data paths that do not exist", () => {
  const event = JSON.stringify({ Type: "SecurityEvent", TimeGenerated: "2024-01-01T00:00:00Z", EventID: 4625, Computer: "host-1" });

  it("a missing path is reported by name, in words, and the paths that exist still load", async () => {
    const dir = scratchDir("missing-paths-");
    writeFileSync(join(dir, "a.ndjson"), event);
    const missing = join(dir, "not-there");
    const { tables, issues } = await loadLogs([missing, join(dir, "a.ndjson")]);
    expect(tables.SecurityEvent.rows).toHaveLength(1);
    expect(issues).toEqual([{ source: missing, at: 0, message: "no such file or folder" }]);
  });

  it("when none of them exists there is nothing to read: an error naming each", async () => {
    const dir = scratchDir("missing-paths-");
    const [a, b] = [join(dir, "a.evtx"), join(dir, "logs")];
    const failure = await loadLogs([a, b]).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe(`${a}: no such file or folder; ${b}: no such file or folder`);
  });
});
