import { describe, expect, it } from "vitest";
import { DAMPING, logonPageRank } from "../../lib/logontracer/pagerank.js";

describe("logon graph PageRank with LogonTracer's damping", () => {
  it("uses 0.6 for privileged accounts, 0.85 for accounts, 0.8 for hosts", () => {
    expect(DAMPING).toEqual({ privileged: 0.6, account: 0.85, host: 0.8 });
  });

  it("ranks sum to 1 and a symmetric star gives its leaves equal rank", () => {
    const ranked = logonPageRank(
      [
        { account: "alice", host: "h1" },
        { account: "alice", host: "h2" },
        { account: "alice", host: "h3" },
      ],
      new Set(),
    );
    expect(ranked.reduce((s, n) => s + n.rank, 0)).toBeCloseTo(1, 10);
    const hosts = ranked.filter((n) => n.kind === "host").map((n) => n.rank);
    expect(hosts[0]).toBeCloseTo(hosts[1], 12);
    expect(hosts[1]).toBeCloseTo(hosts[2], 12);
  });

  it("solves a two-node graph by hand: r_a = (1-0.85)/2 + 0.85 r_h, r_h = (1-0.8)/2 + 0.8 r_a, normalised", () => {
    const ranked = logonPageRank([{ account: "a", host: "h" }], new Set());
    // Fixed point of the unnormalised system, then scaled to sum 1.
    const ra = (0.075 + 0.85 * 0.1) / (1 - 0.85 * 0.8);
    const rh = 0.1 + 0.8 * ra;
    const a = ranked.find((n) => n.id === "a")!;
    expect(a.rank).toBeCloseTo(ra / (ra + rh), 8);
  });

  it("an account touching many hosts outranks ordinary ones; privilege lowers the damping", () => {
    const edges = [];
    for (let i = 0; i < 10; i++) edges.push({ account: `user${i}`, host: `ws${i}` }, { account: `user${i}`, host: "file01" });
    for (let i = 0; i < 10; i++) edges.push({ account: "mover", host: `ws${i}` });
    const ranked = logonPageRank(edges, new Set());
    const mover = ranked.find((n) => n.id === "mover")!;
    const others = ranked.filter((n) => n.kind === "account" && n.id !== "mover");
    expect(mover.degree).toBe(10);
    expect(others.every((n) => n.rank < mover.rank)).toBe(true);
    const privileged = logonPageRank(edges, new Set(["mover"])).find((n) => n.id === "mover")!;
    expect(privileged.privileged).toBe(true);
    expect(privileged.rank).toBeLessThan(mover.rank);
  });
});
