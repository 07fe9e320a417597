import { describe, expect, it } from "vitest";
import { q } from "./helpers.js";

const T = `let T = datatable(g:string, n:long, s:string, t:datetime, b:dynamic)[
  "a", 1, "x", datetime(2024-01-01 01:00), dynamic({"k1": 1}),
  "a", 3, "y", datetime(2024-01-01 03:00), dynamic({"k2": 2}),
  "a", long(null), "x", datetime(2024-01-01 02:00), dynamic(null),
  "b", 10, "z", datetime(2024-01-02 00:00), dynamic({"k1": 9})
];`;

describe("aggregates", () => {
  it("count, countif, dcount, dcountif ignore nulls where Kusto says so", () => {
    expect(q(`${T} T | summarize c = count(), ci = countif(n > 1), d = dcount(s), di = dcountif(s, n >= 1) by g | order by g asc`)).toEqual(
      [
        { g: "a", c: 3, ci: 1, d: 2, di: 2 },
        { g: "b", c: 1, ci: 1, d: 1, di: 1 },
      ],
    );
  });

  it("sum, sumif, min, max, avg over longs and datetimes", () => {
    expect(
      q(
        `${T} T | summarize s = sum(n), si = sumif(n, s == "x"), lo = min(n), hi = max(n), a = avg(n), earliest = min(t), latest = max(t) by g | where g == "a"`,
      ),
    ).toEqual([
      { g: "a", s: 4, si: 1, lo: 1, hi: 3, a: 2, earliest: "2024-01-01T01:00:00.0000000Z", latest: "2024-01-01T03:00:00.0000000Z" },
    ]);
  });

  it("make_set, makeset, make_list, make_bag", () => {
    expect(
      q(
        `${T} T | where g == "a" | summarize set = make_set(s), old = makeset(s), lst = make_list(s), limited = make_set(s, 1), bag = make_bag(b)`,
      ),
    ).toEqual([{ set: ["x", "y"], old: ["x", "y"], lst: ["x", "y", "x"], limited: ["x"], bag: { k1: 1, k2: 2 } }]);
  });

  it("take_any picks a value; arg_max picks the row with the largest value", () => {
    const rows = q(`${T} T | where g == "b" | summarize any = take_any(s), arg_max(n, s)`);
    expect(rows).toEqual([{ any: "z", n: 10, s: "z" }]);
  });

  it("stdev and variance (sample)", () => {
    const rows = q(`datatable(v:real)[2, 4, 4, 4, 5, 5, 7, 9] | summarize sd = stdev(v), var = variance(v)`);
    expect(rows[0].var).toBeCloseTo(4.571428, 5);
    expect(rows[0].sd).toBeCloseTo(2.13809, 4);
  });
});
