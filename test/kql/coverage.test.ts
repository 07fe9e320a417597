/** Engine pieces added for real Sentinel queries, checked against Microsoft's documented examples or by hand. */
import { describe, expect, it } from "vitest";
import { KqlError } from "../../lib/kql/index.js";
import { columnsOf, q } from "./helpers.js";

describe("fixed wrong answers", () => {
  it("countof counts overlapping text matches and non-overlapping regex matches (docs: 3 and 2)", () => {
    expect(q(`print a = countof("aaaa", "aa"), b = countof("aaaa", "aa", "regex"), c = countof("The cat sat on the mat", "at")`)).toEqual([
      { a: 3, b: 2, c: 3 },
    ]);
  });

  it("a datetime literal for a day that does not exist is an error, not the next month", () => {
    expect(() => q(`print d = datetime(2024-02-30)`)).toThrow(KqlError);
    expect(q(`print d = datetime(2024-02-29)`)).toEqual([{ d: "2024-02-29T00:00:00.0000000Z" }]);
  });

  it("in() with strings against an int column converts them, as == does", () => {
    expect(q(`datatable(EventID:int)[4624, 4625, 4688] | where EventID in ("4624", "4625") | count`)).toEqual([{ Count: 2 }]);
  });

  it("a catastrophic pattern runs in linear time (RE2): (a+)+$ on 40 a's and a b", () => {
    const started = Date.now();
    expect(q(`print m = strcat(strrep("a", 40), "b") matches regex "^(a+)+$"`)).toEqual([{ m: false }]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("user-defined functions, table(), materialize", () => {
  it("scalar and tabular functions with parameters and lets in the body", () => {
    expect(q(`let f = (x:long) { x + 1 }; print y = f(41)`)).toEqual([{ y: 42 }]);
    const text = `let T = datatable(n:long)[1, 2, 3];
      let over = (threshold:long) { let limit = threshold; T | where n > limit };
      over(1) | count`;
    expect(q(text)).toEqual([{ Count: 2 }]);
  });

  it("table(name) inside a function reads the named let-bound or supplied table", () => {
    const text = `let A = datatable(x:string)["a", "b"];
      let f = (name:string) { table(name) | summarize c = count() };
      f("A")`;
    expect(q(text)).toEqual([{ c: 2 }]);
  });

  it("let X = materialize(...) is evaluated once and reused", () => {
    expect(q(`let M = materialize(datatable(x:long)[1, 2]); M | join kind=inner (M) on x | count`)).toEqual([{ Count: 2 }]);
  });
});

describe("operators", () => {
  it("mv-apply runs its sub-query per row and keeps the row's other columns (docs example: top 2 per row)", () => {
    const text = `datatable(id:string, l:dynamic)["a", dynamic([1, 5, 3]), "b", dynamic([4])]
      | mv-apply v = l to typeof(long) on (top 2 by v desc) | project id, v`;
    expect(q(text)).toEqual([
      { id: "a", v: 5 },
      { id: "a", v: 3 },
      { id: "b", v: 4 },
    ]);
  });

  it("parse extracts columns between literals; a row that does not fit gets empty columns", () => {
    const text = `datatable(s:string)["user=bob action=EDIT end", "nothing here"]
      | parse s with "user=" user " action=" action:string " end" *`;
    expect(q(text).map((r) => [r.user, r.action])).toEqual([
      ["bob", "EDIT"],
      ["", ""],
    ]);
  });

  it("top-nested keeps the top groups by an aggregate and names the aggregate column aggregated_X", () => {
    const text = `datatable(d:string, h:string)["x", "1", "x", "2", "y", "1", "z", "3", "z", "4", "z", "5"]
      | top-nested 2 of d by dcount(h) desc`;
    expect(q(text)).toEqual([
      { d: "z", aggregated_d: 3 },
      { d: "x", aggregated_d: 2 },
    ]);
  });

  it("make-series fills empty bins with the default and returns the bin times", () => {
    const text = `datatable(t:datetime, k:string)[datetime(2024-01-01 00:10), "a", datetime(2024-01-01 02:30), "a", datetime(2024-01-01 02:40), "a"]
      | make-series c = count() default = 0 on t from datetime(2024-01-01) to datetime(2024-01-01 04:00) step 1h by k`;
    const [row] = q(text);
    expect(row.c).toEqual([1, 0, 2, 0]);
    expect(row.t).toEqual([
      "2024-01-01T00:00:00.0000000Z",
      "2024-01-01T01:00:00.0000000Z",
      "2024-01-01T02:00:00.0000000Z",
      "2024-01-01T03:00:00.0000000Z",
    ]);
  });

  it("evaluate bag_unpack makes a column per key, typed by its values, and drops the bag", () => {
    const text = `datatable(id:long, b:dynamic)[1, dynamic({"x": 1}), 2, dynamic({"y": "z"})] | evaluate bag_unpack(b)`;
    // y holds strings: a string column, empty where the bag lacks it; x a long, null there.
    expect(q(text)).toEqual([
      { id: 1, x: 1, y: "" },
      { id: 2, x: null, y: "z" },
    ]);
  });
});

describe("functions", () => {
  it("strcat_array and array_slice (inclusive end, negative from the end)", () => {
    expect(q(`print s = strcat_array(array_slice(split("web1.corp.contoso.com", "."), 1, -1), ".")`)).toEqual([{ s: "corp.contoso.com" }]);
  });

  it("percentiles by nearest rank, one column per percentile", () => {
    expect(q(`datatable(v:long)[1, 2, 3, 4, 5, 6, 7, 8, 9, 10] | summarize percentiles(v, 50, 90)`)).toEqual([
      { percentile_v_50: 5, percentile_v_90: 9 },
    ]);
  });

  it("parse_url splits a URL into Kusto's named parts (docs example)", () => {
    const [row] = q(`print u = parse_url("scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v2#fragment")`);
    expect(row.u).toEqual({
      Scheme: "scheme",
      Host: "host",
      Port: "1234",
      Path: "/this/is/a/path",
      Username: "username",
      Password: "password",
      "Query Parameters": { k1: "v1", k2: "v2" },
      Fragment: "fragment",
    });
  });

  it("format_datetime with Kusto's specifiers", () => {
    expect(q(`print f = format_datetime(datetime(2017-01-29 09:00:05.1234567), "yy-MM-dd [HH:mm:ss.fff]")`)).toEqual([
      { f: "17-01-29 [09:00:05.123]" },
    ]);
  });

  it("row_window_session starts a new session after a gap or past the session's length", () => {
    const text = `datatable(t:datetime)[datetime(2024-01-01 00:00), datetime(2024-01-01 00:04), datetime(2024-01-01 00:20), datetime(2024-01-01 00:24), datetime(2024-01-01 00:28)]
      | sort by t asc | extend s = row_window_session(t, 6m, 5m) | project t, s`;
    expect(q(text).map((r) => r.s)).toEqual([
      "2024-01-01T00:00:00.0000000Z",
      "2024-01-01T00:00:00.0000000Z",
      "2024-01-01T00:20:00.0000000Z",
      "2024-01-01T00:20:00.0000000Z",
      "2024-01-01T00:28:00.0000000Z",
    ]);
  });

  it("a table no schema or data knows reads as empty (open), so union isfuzzy and joins still run", () => {
    expect(q(`NoSuchTable_CL | where Anything == "x" | count`)).toEqual([{ Count: 0 }]);
    expect(columnsOf(`union isfuzzy=true (datatable(a:long)[1]), (NoSuchTable_CL) | project a`)).toEqual(["a:long"]);
  });
});

describe("regular expressions", () => {
  it("RE2 syntax and answers, whichever engine matches: inline flags, groups, replace with \\1, counts", () => {
    expect(
      q(`print a = "Hello" matches regex "(?i)^hello$", b = extract("([a-z]+)@([a-z.]+)", 2, "bob@contoso.com"),
        c = replace_regex("a1b22", @"(\\d+)", @"<\\1>"), d = countof("a.b.c", @"\\.", "regex"),
        e = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" matches regex "^(a|aa)+$"`),
    ).toEqual([{ a: true, b: "contoso.com", c: "a<1>b<22>", d: 2, e: false }]);
  });
});
