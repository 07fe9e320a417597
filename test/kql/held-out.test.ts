/**
 * Features a sample of Azure-Sentinel queries outside the vendored corpus needed: each checked
 * against the examples in Microsoft's documentation (dataexplorer-docs) or the parser's own naming.
 */
import { describe, expect, it } from "vitest";
import { validateQuery } from "../../lib/kql/index.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { columnsOf, q } from "./helpers.js";

describe("hash()", () => {
  it("is XXH64 of the value, as the documented examples give it", () => {
    const [row] = q(`print s = hash("World"), m = hash("World", 100), d = hash(datetime("2015-01-01"), 1000), e = hash("")`);
    // Documented: hash("World") = 1846988464401551951 (a long beyond 2^53 is held as the nearest double).
    expect(row.s).toBe(Number(1846988464401551951n));
    expect(row.m).toBe(51);
    // Documented: hash(datetime("2015-01-01")) = 1380966698541616202, so modulo 1000 it is 202.
    expect(row.d).toBe(202);
    // XXH64 of no bytes is 0xef46db3751d8e999, a negative long.
    expect(row.e).toBe(Number(BigInt.asIntN(64, 0xef46db3751d8e999n)));
  });

  it("samples rows by a column's hash bucket, as the documentation uses it", () => {
    const rows = q(`range i from 1 to 200 step 1 | extend k = strcat("key", i) | where hash(k, 10) == 3 | count`);
    expect(rows[0].Count).toBeGreaterThan(5);
    expect(rows[0].Count).toBeLessThan(40);
  });
});

describe("IPv6 ranges", () => {
  it("ipv6_is_in_any_range: the documented example", () => {
    const rows = q(`let LocalNetworks = dynamic(["a5e:f127:8a9d:146d:e102:b5d3:c755:f6cd/112", "0:0:0:0:0:ffff:c0a8:ac/60"]);
      datatable(IP:string) ["a5e:f127:8a9d:146d:e102:b5d3:c755:abcd", "a5e:f127:8a9d:146d:e102:b5d3:c755:abce",
        "a5e:f127:8a9d:146d:e102:b5d3:c755:abcf", "a5e:f127:8a9d:146d:e102:b5d3:c756:abd1"]
      | extend IsLocal = ipv6_is_in_any_range(IP, LocalNetworks)`);
    expect(rows.map((r) => r.IsLocal)).toEqual([true, true, true, false]);
  });

  it("ipv6_is_in_range takes IPv4 too, and is null for what is not an address", () => {
    const [row] =
      q(`print a = ipv6_is_in_range("a5e:f127:8a9d::1", "a5e:f127:8a9d::/48"), b = ipv6_is_in_range("a5e:f128::1", "a5e:f127::/32"),
      c = ipv6_is_in_range("192.168.1.7", "::ffff:192.168.1.0/120"), d = ipv6_is_in_range("nope", "::/0"),
      e = ipv6_is_in_any_range("::1", "fe80::/10", "::1/128")`);
    expect(row).toEqual({ a: true, b: false, c: true, d: null, e: true });
  });
});

describe("window functions over serialized rows", () => {
  it("row_cumsum, with and without restart (documented)", () => {
    const even = q(`datatable (a:long) [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] | where a % 2 == 0 | serialize cs = row_cumsum(a)`);
    expect(even.map((r) => r.cs)).toEqual([2, 6, 12, 20, 30]);
    const salaries =
      q(`datatable (name:string, month:int, salary:long) ["Alice", 1, 1000, "Bob", 1, 1000, "Alice", 2, 2000, "Bob", 2, 1950, "Alice", 3, 1400, "Bob", 3, 1450]
      | order by name asc, month asc | extend total = row_cumsum(salary, name != prev(name))`);
    expect(salaries.map((r) => [r.name, r.total])).toEqual([
      ["Alice", 1000],
      ["Alice", 3000],
      ["Alice", 4400],
      ["Bob", 1000],
      ["Bob", 2950],
      ["Bob", 4400],
    ]);
  });

  it("row_rank_dense and row_rank_min (documented), row_rank as the dense rank's former name", () => {
    const rows =
      q(`datatable (Airport:string, Airline:string, Departures:long) ["SEA", "LH", 3, "SEA", "LY", 100, "SEA", "UA", 3, "SEA", "BA", 2, "SEA", "EL", 3]
      | sort by Departures asc | extend Dense = row_rank_dense(Departures), Min = row_rank_min(Departures), Old = row_rank(Departures)`);
    expect(rows.map((r) => [r.Departures, r.Dense, r.Min, r.Old])).toEqual([
      [2, 1, 1, 1],
      [3, 2, 2, 2],
      [3, 2, 2, 2],
      [3, 2, 2, 2],
      [100, 3, 5, 3],
    ]);
    const partitioned =
      q(`datatable(Category:string, Item:string, Value:int) ["A", "item1", 10, "A", "item2", 10, "A", "item3", 5, "A", "item4", 20, "B", "item2", 5, "B", "item1", 7]
      | sort by Category asc, Value asc | extend rank = row_rank_min(Value, Category != prev(Category))`);
    expect(partitioned.map((r) => [r.Item, r.rank])).toEqual([
      ["item3", 1],
      ["item1", 2],
      ["item2", 2],
      ["item4", 4],
      ["item2", 1],
      ["item1", 2],
    ]);
  });
});

describe("names older queries use", () => {
  it("arraylength, datepart, parseurl, extractall, totime, columnifexists give what their current names give", () => {
    const [row] = q(`print a = arraylength(dynamic([1, 2, 3])), d = datepart("Hour", datetime(2024-10-18 09:30)),
      h = tostring(parseurl("https://contoso.com:8080/p?q=1").Host), x = extractall(@"(\\d+)", "a1b22"), t = totime("1.02:00:00"),
      c = columnifexists("NoSuchColumn", "fallback")`);
    expect(row).toEqual({ a: 3, d: 9, h: "contoso.com", x: ["1", "22"], t: "1.02:00:00", c: "fallback" });
  });

  it("typed literals take their value quoted: datetime(\"...\"), timespan('...')", () => {
    const [row] = q(`print d = datetime("2015-01-01"), t = timespan('01:30:00'), g = guid("74be27de-1e4e-49d9-b579-fe0b331d3642")`);
    expect(row).toEqual({ d: "2015-01-01T00:00:00.0000000Z", t: "01:30:00", g: "74be27de-1e4e-49d9-b579-fe0b331d3642" });
  });
});

describe("operators", () => {
  it("invoke calls a let-defined function with the piped table as its first argument (documented shape)", () => {
    const rows = q(`let scale = (T:(x:long), factor:long, offset:long = 1) { T | extend y = x * factor + offset };
      datatable(x:long) [1, 2, 3] | invoke scale(10)`);
    expect(rows).toEqual([
      { x: 1, y: 11 },
      { x: 2, y: 21 },
      { x: 3, y: 31 },
    ]);
  });

  it("invoke with a schema-free (*) table parameter reads columns named by argument", () => {
    const rows = q(`let count_by = (T:(*), col:string) { T | summarize n = count() by key = tostring(column_ifexists(col, "")) };
      datatable(User:string, Host:string) ["a", "h1", "b", "h1", "a", "h2"] | invoke count_by("User") | order by key asc`);
    expect(rows).toEqual([
      { key: "a", n: 2 },
      { key: "b", n: 1 },
    ]);
  });

  it("mv-expand of a property path fills the column Kusto names after the path", () => {
    const rows = q(`datatable(values:dynamic) [dynamic({"properties": {"addressPrefixes": ["10.0.0.0/8", "2001:db8::/32"]}})]
      | mv-expand values.properties.addressPrefixes | project p = tostring(values_properties_addressPrefixes)`);
    expect(rows).toEqual([{ p: "10.0.0.0/8" }, { p: "2001:db8::/32" }]);
  });

  it("a join on a column of an empty watchlist (which bag_unpack gave no columns) matches nothing rather than failing", () => {
    const rows = q(`_GetWatchlist('TerminatedEmployees') | join kind=innerunique (datatable(UserPrincipalName:string)["bob@contoso.com"])
      on $left.['User Principal Name'] == $right.UserPrincipalName | where isnotempty(['Termination date'])`);
    expect(rows).toEqual([]);
  });

  it("a join names a clashing right column past every name either side has, as the parser does", () => {
    const text = `let L = datatable(A:string, B:long) ["x", 1]; let R = datatable(A:string, A1:string, C:long) ["x", "y", 2]; L | join kind=inner R on A`;
    expect(columnsOf(text)).toEqual(["A:string", "B:long", "A2:string", "A1:string", "C:long"]);
    expect(q(text)).toEqual([{ A: "x", B: 1, A2: "x", A1: "y", C: 2 }]);
  });
});

describe("geospatial distance", () => {
  it("geo_distance_2points measures on the sphere Kusto uses (documented Seattle-Los Angeles), null for an invalid coordinate", () => {
    const [row] = q(
      `print d = geo_distance_2points(-122.407628, 47.578557, -118.275287, 34.019056), bad = geo_distance_2points(300, 1, 1, 1)`,
    );
    expect(row.d).toBeCloseTo(1546754.35197381, 6);
    expect(row.bad).toBeNull();
  });

  it("impossible travel: consecutive sign-ins per user, distance over time", () => {
    const rows = q(`datatable(User:string, T:datetime, Lon:real, Lat:real) [
        "a", datetime(2024-10-18 09:00), -122.407628, 47.578557, "a", datetime(2024-10-18 10:00), -118.275287, 34.019056,
        "b", datetime(2024-10-18 09:00), 2.35, 48.85, "b", datetime(2024-10-18 12:00), 2.36, 48.86]
      | sort by User asc, T asc
      | extend PrevLon = prev(Lon), PrevLat = prev(Lat), PrevT = prev(T), PrevUser = prev(User)
      | where User == PrevUser
      | extend Kmh = geo_distance_2points(PrevLon, PrevLat, Lon, Lat) / 1000 / ((T - PrevT) / 1h)
      | where Kmh > 900 | project User, Kmh = round(Kmh)`);
    expect(rows).toEqual([{ User: "a", Kmh: 1547 }]);
  });

  it("geo_point_in_circle: the documented places within 18 km of Seattle", () => {
    const rows = q(`datatable(longitude:real, latitude:real, place:string) [
        real(-122.317404), 47.609119, 'Seattle', real(-123.497688), 47.458098, 'Olympic National Forest', real(-122.201741), 47.677084, 'Kirkland',
        real(-122.443663), 47.247092, 'Tacoma', real(-122.121975), 47.671345, 'Redmond']
      | where geo_point_in_circle(longitude, latitude, -122.317404, 47.609119, 18000) | project place`);
    expect(rows.map((r) => r.place)).toEqual(["Seattle", "Kirkland", "Redmond"]);
    expect(q(`print c = geo_point_in_circle(-122.143564, 47.535677, -122.100896, 47.527351, 3500)`)[0].c).toBe(true);
  });
});

describe("what the local engine cannot run says what and why", () => {
  it("a plugin that calls an outside service is named with the reason, before anything runs", () => {
    const [python] = validateQuery("SigninLogs\n| evaluate python(typeof(*), 'result = df')", TABLE_SCHEMAS).filter(
      (d) => d.code === "unsupported",
    );
    expect(python.message).toBe(
      "The local engine cannot run the plugin 'python': it runs Python in the Kusto cluster's sandbox, which only Log Analytics or Azure Data Explorer can do",
    );
    expect(python.position).toEqual({ line: 2, column: 3 });
    const [diffpatterns] = validateQuery(
      'SigninLogs | extend Outcome = iff(ResultType == "0", "ok", "failed") | evaluate diffpatterns(Outcome, "ok", "failed")',
      TABLE_SCHEMAS,
    ).filter((d) => d.code === "unsupported");
    expect(diffpatterns.message).toMatch(/plugin 'diffpatterns' \(not implemented locally/);
  });

  it("geo_distance_2points on the spheroid is refused by name rather than measured on the sphere", () => {
    expect(() => q(`print d = geo_distance_2points(0, 0, 1, 1, true)`)).toThrow(/use_spheroid/);
  });
});

describe("weighted percentiles", () => {
  it("percentilesw counts each value weight times: the documented latency buckets give 20, 20 and 40", () => {
    // The documentation's example: 18 latencies pre-aggregated into buckets of 10, 20, 30 and 40 ms.
    const latencies = `datatable (ReqCount:long, LatencyBucket:long) [8, 10, 6, 20, 3, 30, 1, 40]`;
    expect(q(`${latencies} | summarize percentilesw(LatencyBucket, ReqCount, 50, 75, 99.9)`)).toEqual([
      { percentile_LatencyBucket_50: 20, percentile_LatencyBucket_75: 20, percentile_LatencyBucket_99_9: 40 },
    ]);
    expect(
      q(`${latencies} | summarize p = percentilew(LatencyBucket, ReqCount, 50), a = percentilesw_array(LatencyBucket, ReqCount, 50, 99.9)`),
    ).toEqual([{ p: 20, a: [20, 40] }]);
  });

  it("a weight of one for every row is percentiles(); rows weighted 0 or null count for nothing", () => {
    const values = `range x from 1 to 10 step 1`;
    expect(q(`${values} | summarize percentilesw(x, 1, 10, 50, 100)`)).toEqual(q(`${values} | summarize percentiles(x, 10, 50, 100)`));
    expect(q(`datatable(v:long, w:long) [1, 0, 5, 1, 9, long(null)] | summarize percentilew(v, w, 1), percentilew(v, w, 100)`)).toEqual([
      { percentile_v_1: 5, percentile_v_100: 5 },
    ]);
  });

  it("the nearest rank is exact: the 7th percentile of 1..100 is 7 (not the 8th, from 0.07 x 100 = 7.000000000000001)", () => {
    expect(
      q(`range x from 1 to 100 step 1 | summarize p7 = percentile(x, 7), p29 = percentile(x, 29), p57 = percentilew(x, 1, 57)`),
    ).toEqual([{ p7: 7, p29: 29, p57: 57 }]);
  });
});

describe("summarize (a, b) = arg_max(...)", () => {
  it("names each column an arg_max returns, as the parser types them", () => {
    const text = `datatable (k:string, c:long, d:long) ["a", 3, 10, "a", 5, 20, "b", 2, 30]
      | summarize (MostCount, MostDelta) = arg_max(c, d), Total = sum(c) by k | order by k asc`;
    expect(q(text)).toEqual([
      { k: "a", MostCount: 5, MostDelta: 20, Total: 8 },
      { k: "b", MostCount: 2, MostDelta: 30, Total: 2 },
    ]);
    expect(columnsOf(text)).toEqual(["k:string", "MostCount:long", "MostDelta:long", "Total:long"]);
  });
});

describe("AzureDiagnostics schema", () => {
  it("has the columns its reference page cut after its 200th row, TimeGenerated among them", () => {
    const typeOf = (column: string) => TABLE_SCHEMAS.AzureDiagnostics.find((c) => c.name === column)?.type;
    expect([typeOf("session_id_d"), typeOf("TimeGenerated"), typeOf("SourceSystem"), typeOf("workflowId_s"), typeOf("Tenant_g")]).toEqual([
      "real",
      "datetime",
      "string",
      "string",
      "guid",
    ]);
    const keyVault = `AzureDiagnostics | where TimeGenerated > ago(1d) and ResourceType =~ "VAULTS"
      | summarize make_set(OperationName) by bin(TimeGenerated, 1h), Resource`;
    expect(validateQuery(keyVault, TABLE_SCHEMAS).filter((d) => d.severity === "error")).toEqual([]);
  });
});

describe("toscalar() of a scalar", () => {
  it("is the value, computed once from other toscalar() lets (a quartile threshold, as DNS_HighPercentNXDomainCount computes one)", () => {
    const text = `let firstQ = toscalar(range x from 1 to 4 step 1 | summarize percentile(x, 25));
      let thirdQ = toscalar(range x from 1 to 4 step 1 | summarize percentile(x, 75));
      let threshold = toscalar(thirdQ + (1.5 * (thirdQ - firstQ)));
      range x from 1 to 10 step 1 | where x > threshold | count`;
    // Nearest rank: firstQ = 1, thirdQ = 3, so the threshold is 3 + 1.5 * 2 = 6 and 7..10 pass.
    expect(q(text)).toEqual([{ Count: 4 }]);
  });

  it("may not depend on a row", () => {
    expect(() => q(`range x from 1 to 3 step 1 | extend y = toscalar(x + 1)`)).toThrow();
  });
});

describe("rand() and new_guid()", () => {
  it("give a new value on every row (never folded into one constant); toscalar() of them takes one, as the documentation's example shows", () => {
    const rows = q(`range x from 1 to 50 step 1 | extend r = rand(), g = new_guid(), once = toscalar(new_guid())`);
    expect(new Set(rows.map((row) => row.r)).size).toBe(50);
    expect(new Set(rows.map((row) => row.g)).size).toBe(50);
    expect(new Set(rows.map((row) => row.once)).size).toBe(1);
    expect(q(`range x from 1 to 200 step 1 | where rand() < 0.5 | count`)[0].Count).toBeLessThan(200);
  });
});
