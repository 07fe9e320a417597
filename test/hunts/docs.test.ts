import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { huntsMarkdownTable, replaceHuntsSection } from "../../lib/hunts/docs.js";

describe("generated hunt docs", () => {
  it("the README's hunt table is the one generated from the catalog (run `npm run docs`)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    expect(replaceHuntsSection(readme)).toBe(readme);
  });

  it("lists every hunt with its schedule setting", () => {
    const table = huntsMarkdownTable();
    expect(table).toContain("`HUNT_LOGON_GRAPH_RANK_SCHEDULE`");
    expect(table.split("\n").length).toBe(2 + 6);
  });
});
