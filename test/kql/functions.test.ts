/**
 * Scalar functions, aggregates and operators added for real Sentinel queries, checked against the
 * outputs in Microsoft's documentation (dataexplorer-docs) or by hand.
 */
import { describe, expect, it } from "vitest";
import { runQuery, tableFromRecords, toJsonRecords } from "../../lib/kql/index.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { columnsOf, NOW, q } from "./helpers.js";

describe("strings", () => {
  it("extract_all: one group gives values, several give arrays, captureGroups picks (documented)", () => {
    const [row] = q(`print Id = "82b8be2d-dfa7-4bd1-8f63-24ad26d31449"
      | project a = extract_all(@"([\\da-f]{2})", Id), b = extract_all(@"(\\w)(\\w+)(\\w)", Id), c = extract_all(@"(\\w)(\\w+)(\\w)", dynamic([1,3]), Id),
        none = extract_all(@"(z)", Id)`);
    expect(row.a).toEqual(["82", "b8", "be", "2d", "df", "a7", "4b", "d1", "8f", "63", "24", "ad", "26", "d3", "14", "49"]);
    expect(row.b).toEqual([
      ["8", "2b8be2", "d"],
      ["d", "fa", "7"],
      ["4", "bd", "1"],
      ["8", "f6", "3"],
      ["2", "4ad26d3144", "9"],
    ]);
    expect(row.c).toEqual([
      ["8", "d"],
      ["d", "7"],
      ["4", "1"],
      ["8", "3"],
      ["2", "9"],
    ]);
    expect(row.none).toBeNull();
  });

  it("parse_path splits the documented paths", () => {
    const rows = q(
      `datatable(p:string)[@"C:\\temp\\file.txt", "file://C:/temp/file.txt:some.exe", @"\\\\shared\\users\\temp\\file.txt.gz"] | project parse_path(p)`,
    );
    expect(rows.map((r) => r.path_parts ?? r.Column1 ?? Object.values(r)[0])).toEqual([
      {
        Scheme: "",
        RootPath: "C:",
        DirectoryPath: "C:\\temp",
        DirectoryName: "temp",
        Filename: "file.txt",
        Extension: "txt",
        AlternateDataStreamName: "",
      },
      {
        Scheme: "file",
        RootPath: "C:",
        DirectoryPath: "C:/temp",
        DirectoryName: "temp",
        Filename: "file.txt",
        Extension: "txt",
        AlternateDataStreamName: "some.exe",
      },
      {
        Scheme: "",
        RootPath: "",
        DirectoryPath: "\\\\shared\\users\\temp",
        DirectoryName: "temp",
        Filename: "file.txt.gz",
        Extension: "gz",
        AlternateDataStreamName: "",
      },
    ]);
  });

  it("parse_command_line splits as CommandLineToArgvW does (documented, and the backslash rules)", () => {
    expect(
      q(
        `print a = parse_command_line("echo \\"hello world!\\"", "windows"), b = parse_command_line('C:\\\\x.exe a\\\\\\\\\\\\"b "c d" \\\\\\\\"e"', "windows")`,
      ),
    ).toEqual([{ a: ["echo", "hello world!"], b: ["C:\\x.exe", 'a\\"b', "c d", "\\e"] }]);
  });

  it("url_encode, translate, strcmp, hashes (documented values; SHA-256 of 'World' by the standard)", () => {
    expect(
      q(`print u = url_encode('https://www.bing.com/hello world'), t1 = translate("krasp", "otsku", "spark"), t2 = translate("abc", "x", "abc"),
        t3 = translate("abc", "", "ab"), c = strcmp("ABC", "ABD"), h = hash_sha256("World"), m = hash_md5("World")`),
    ).toEqual([
      {
        u: "https%3a%2f%2fwww.bing.com%2fhello+world",
        t1: "kusto",
        t2: "xxx",
        t3: "",
        c: -1,
        h: "78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524",
        m: "f5a7924e621e84c9280a9a27e1bcb7f6",
      },
    ]);
  });

  it("parse_xml follows the documented conversion table", () => {
    const [row] = q(`print a = parse_xml("<e/>"), b = parse_xml("<e>text</e>"), c = parse_xml("<e name='value'>text</e>"),
      d = parse_xml("<e> <a>text</a> <a>text</a> </e>"), e = parse_xml("<duration><value>118.0</value><min>100.0</min></duration>"), bad = parse_xml("<e>")`);
    expect(row).toEqual({
      a: { e: null },
      b: { e: "text" },
      c: { e: { "@name": "value", "#text": "text" } },
      d: { e: { a: ["text", "text"] } },
      e: { duration: { value: 118, min: 100 } },
      bad: null,
    });
  });

  it("parse_xml on Sysmon-style EventData reaches a Data element's attribute and text", () => {
    const xml = `<EventData><Data Name="RuleName">-</Data><Data Name="Image">C:\\\\Windows\\\\cmd.exe</Data></EventData>`;
    expect(
      q(`print d = parse_xml('${xml}') | project n = tostring(d.EventData.Data[1]["@Name"]), v = tostring(d.EventData.Data[1]["#text"])`),
    ).toEqual([{ n: "Image", v: "C:\\Windows\\cmd.exe" }]);
  });
});

describe("rows as bags, JSON paths, and the deprecated names real queries still use", () => {
  it("pack_all and bag_pack_columns: the row's columns as a bag (datetimes as text)", () => {
    expect(
      q(`datatable(a:string, n:long, t:datetime)["x", 1, datetime(2024-01-01)] | project p = pack_all(), c = bag_pack_columns(a, n)`),
    ).toEqual([{ p: { a: "x", n: 1, t: "2024-01-01T00:00:00.0000000Z" }, c: { a: "x", n: 1 } }]);
  });

  it("extract_json follows a JSONPath; with a type it converts, else it returns text", () => {
    expect(
      q(`print e1 = extract_json("$.hosts[1].name", '{"hosts":[{"name":"a"},{"name":"b"}]}'), e2 = extract_json("$.n", '{"n":5}', typeof(long)),
        e3 = extractjson("$['a b']", '{"a b":"x"}'), absent = extract_json("$.nope", '{"n":5}')`),
    ).toEqual([{ e1: "b", e2: 5, e3: "x", absent: "" }]);
  });

  it("replace_strings (documented), indexof_regex, has_any_index, format_ipv4(_mask)", () => {
    expect(
      q(`print r = replace_strings("It's a wonderful day", dynamic(["It's", "wonderful"]), dynamic(["Today is", "sunny"])), i = indexof_regex("abcabc", "c"),
        h = has_any_index("this is an example", dynamic(["not", "example"])), f = format_ipv4(3232236031), fm = format_ipv4_mask("192.168.1.255", 24)`),
    ).toEqual([{ r: "Today is a sunny day", i: 2, h: 1, f: "192.168.1.255", fm: "192.168.1.0/24" }]);
  });

  it("parsejson, base64_decodestring, notempty, array_strcat, make_dictionary are the current functions under old names", () => {
    expect(
      q(`datatable(k:string)["a", "b"] | summarize d = make_dictionary(pack(k, 1)) | extend j = parsejson('{"a":1}').a, b = base64_decodestring("YWJj"),
        n = notempty(""), s = array_strcat(dynamic([1, "x"]), "-")`),
    ).toEqual([{ d: { a: 1, b: 1 }, j: 1, b: "abc", n: false, s: "1-x" }]);
  });
});

describe("network", () => {
  it("ipv4_compare, ipv4_netmask_suffix, parse_ipv6, parse_ipv4: documented values", () => {
    expect(
      q(`print c1 = ipv4_compare("192.168.1.1/24", "192.168.1.255"), c2 = ipv4_compare("192.168.1.1", "192.168.1.0", 31), c3 = ipv4_compare("10.0.0.1", "10.0.0.2"),
        s = ipv4_netmask_suffix("192.168.1.1/24"), s32 = ipv4_netmask_suffix("10.1.2.3"), v6 = parse_ipv6("192.168.255.255/24"), v4 = parse_ipv4("127.0.0.1")`),
    ).toEqual([{ c1: 0, c2: 0, c3: -1, s: 24, s32: 32, v6: "0000:0000:0000:0000:0000:ffff:c0a8:ff00", v4: 2130706433 }]);
  });

  it("has_ipv4, has_ipv4_prefix and has_any_ipv4 need the address delimited (documented cases)", () => {
    expect(
      q(`print a = has_ipv4("05:04:54 127.0.0.1 GET /favicon.ico 404", "127.0.0.1"), b = has_ipv4("05:04:54 127.0.0.256 GET", "127.0.0.256"),
        c = has_ipv4("127.0.0.1.9", "127.0.0.1"), d = has_ipv4_prefix("05:04:54 127.0.0.1 GET", "127.0."), e = has_ipv4_prefix("05:04:54 127.0.0.1 GET", "127.0"),
        f = has_any_ipv4("requests from: 192.168.1.1, 10.1.1.115", dynamic(["10.1.1.115", "1.1.1.1"]))`),
    ).toEqual([{ a: true, b: false, c: false, d: true, e: false, f: true }]);
  });

  it("ipv6_compare sees an IPv4 address as its IPv4-mapped IPv6 form", () => {
    expect(
      q(
        `print a = ipv6_compare("::ffff:7f00:1", "127.0.0.1"), b = ipv6_is_match("fe80::85d:e82c:9446:7994", "fe80::85d:e82c:9446:7995", 127)`,
      ),
    ).toEqual([{ a: 0, b: true }]);
  });
});

describe("dynamic values", () => {
  it("zip, bag_merge, bag_remove_keys (with a path), array_split, jaccard_index", () => {
    expect(
      q(`print z = zip(dynamic([1,2,3]), dynamic(["a","b"])), m = bag_merge(dynamic({"a":1}), dynamic({"a":2, "b":3})),
        r = bag_remove_keys(dynamic({"a":1, "b":{"c":2, "d":3}}), dynamic(["a", "$.b.c"])), s = array_split(dynamic([1,2,3,4,5]), dynamic([1,3])),
        j = jaccard_index(dynamic([1, 2, 3]), dynamic([2, 3, 4])), sum = array_sum(dynamic([1, 2.5])), rev = array_reverse(dynamic(["a", "b"]))`),
    ).toEqual([
      {
        z: [
          [1, "a"],
          [2, "b"],
          [3, null],
        ],
        m: { a: 1, b: 3 },
        r: { b: { d: 3 } },
        s: [[1], [2, 3], [4, 5]],
        j: 0.5,
        sum: 3.5,
        rev: ["b", "a"],
      },
    ]);
  });
});

describe("dates and numbers", () => {
  it("calendar parts and period ends (documented values; ISO weeks)", () => {
    const [row] =
      q(`print w1 = week_of_year(datetime(2020-12-31)), w2 = week_of_year(datetime(2021-01-04)), doy = dayofyear(datetime(2015-12-14)),
      m = monthofyear(datetime(2015-12-14)), p = datetime_part("quarter", datetime(2017-05-01)), md = make_datetime(2017, 10, 01, 12, 10),
      eom = endofmonth(datetime(2017-01-01 10:10:17)), eow = endofweek(datetime(2017-01-01 10:10:17))`);
    expect(row).toMatchObject({ w1: 53, w2: 1, doy: 348, m: 12, p: 2, md: "2017-10-01T12:10:00.0000000Z" });
    expect(row.eom as string).toMatch(/^2017-01-31T23:59:59\.999/);
    expect(row.eow as string).toMatch(/^2017-01-07T23:59:59\.999/);
  });

  it("format_timespan, make_timespan, datetime_utc_to_local", () => {
    expect(
      q(
        `print f = format_timespan(1d + 14h + 30m + 15s + 123ms, "dd.hh:mm:ss.fff"), t = make_timespan(1, 30), l = datetime_utc_to_local(datetime(2020-06-01 12:00), "Europe/Paris")`,
      ),
    ).toEqual([{ f: "01.14:30:15.123", t: "01:30:00", l: "2020-06-01T14:00:00.0000000Z" }]);
  });

  it("bitwise functions work on 64-bit integers; tohex writes two's complement for negatives (documented)", () => {
    expect(
      q(
        `print a = binary_and(12, 10), b = binary_shift_left(1, 40), c = bitset_count_ones(42), h = tohex(256), n = tohex(-546), g = gettype(dynamic([1]))`,
      ),
    ).toEqual([{ a: 8, b: 1099511627776, c: 3, h: "100", n: "fffffffffffffdde", g: "array" }]);
  });
});

describe("aggregates", () => {
  it("count_distinctif, stdevif, make_list_with_nulls, dcount_hll(hll()), percentiles_array", () => {
    const rows = q(`datatable(x:string, n:long)["a", 1, "b", 2, "a", 3, "", int(null)]
      | summarize c = count_distinctif(x, n > 1), s = stdevif(n, n > 0), l = make_list_with_nulls(n), h = dcount_hll(hll(x)), p = percentiles_array(n, 50, 100)`);
    expect(rows).toEqual([{ c: 2, s: 1, l: [1, 2, 3, null], h: 3, p: [2, 3] }]);
  });
});

describe("operators", () => {
  it("render is a chart hint: the rows pass through", () => {
    expect(q(`range x from 1 to 3 step 1 | render timechart`)).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
  });

  it("externaldata reads as empty in its declared shape, with a warning naming the address", () => {
    const result = runQuery(`externaldata(a:string, b:long)["https://example.com/feed.csv"] with (format="csv") | where b > 1`, {
      tables: {},
      now: NOW,
    });
    expect(result.table).toEqual({
      columns: [
        { name: "a", type: "string" },
        { name: "b", type: "long" },
      ],
      rows: [],
    });
    expect(result.warnings).toEqual(["externaldata is not fetched locally (https://example.com/feed.csv): it reads as empty"]);
  });

  it("sample and sample-distinct take that many rows; getschema describes the input", () => {
    expect(q(`range x from 1 to 10 step 1 | sample 3 | count`)).toEqual([{ Count: 3 }]);
    expect(q(`datatable(k:string)["a", "a", "b"] | sample-distinct 5 of k`)).toEqual([{ k: "a" }, { k: "b" }]);
    expect(q(`datatable(k:string, n:long)["a", 1] | getschema`)).toEqual([
      { ColumnName: "k", ColumnOrdinal: 0, DataType: "System.String", ColumnType: "string" },
      { ColumnName: "n", ColumnOrdinal: 1, DataType: "System.Int64", ColumnType: "long" },
    ]);
  });

  it("mv-expand of an expression on a column names its output after the column", () => {
    expect(columnsOf(`datatable(a:string)['[1,2]'] | mv-expand todynamic(a)`)).toEqual(["a:dynamic"]);
    expect(q(`datatable(a:string)['[1,2]'] | mv-expand todynamic(a)`)).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it("a scalar function with lets in its body (documented vector_sum pattern)", () => {
    expect(
      q(
        `let double_last = (x: dynamic) { let i = array_length(x) - 1; let v = todouble(x[i]); v * 2 }; print r = double_last(dynamic([1, 2, 5]))`,
      ),
    ).toEqual([{ r: 10 }]);
  });
});

describe("more operators and plugins", () => {
  const STORMS = `datatable(State:string, EventType:string, DeathsDirect:long)["ARKANSAS", "Heavy Rain", 1, "ARIZONA", "Lightning", 1,
    "ARIZONA", "Flash Flood", 6, "ARKANSAS", "Heat", 3, "ARKANSAS", "Heat", 0]`;

  it("evaluate pivot: one column per value in order of appearance, count() by default, 0 where no rows (as documented)", () => {
    expect(q(`${STORMS} | project State, EventType | evaluate pivot(State)`)).toEqual([
      { EventType: "Heavy Rain", ARKANSAS: 1, ARIZONA: 0 },
      { EventType: "Lightning", ARKANSAS: 0, ARIZONA: 1 },
      { EventType: "Flash Flood", ARKANSAS: 0, ARIZONA: 1 },
      { EventType: "Heat", ARKANSAS: 2, ARIZONA: 0 },
    ]);
    expect(q(`${STORMS} | evaluate pivot(State, sum(DeathsDirect), EventType) | where ARKANSAS > 0 | project EventType, ARKANSAS`)).toEqual(
      [
        { EventType: "Heavy Rain", ARKANSAS: 1 },
        { EventType: "Heat", ARKANSAS: 3 },
      ],
    );
  });

  it("partition by runs the subquery per value; top-hitters ranks by row count or by a sum", () => {
    expect(q(`${STORMS} | partition by State (top 1 by DeathsDirect) | project State, DeathsDirect`)).toEqual([
      { State: "ARKANSAS", DeathsDirect: 3 },
      { State: "ARIZONA", DeathsDirect: 6 },
    ]);
    expect(q(`${STORMS} | top-hitters 1 of State`)).toEqual([{ State: "ARKANSAS", approximate_count_State: 3 }]);
    expect(q(`${STORMS} | top-hitters 1 of State by DeathsDirect`)).toEqual([{ State: "ARIZONA", approximate_sum_DeathsDirect: 7 }]);
  });

  it("evaluate ipv4_lookup: the most specific range holding the address; unmatched rows only when asked", () => {
    const nets = `let nets = datatable(net:string, site:string)["10.0.0.0/8", "corp", "10.1.0.0/16", "lab"];`;
    expect(
      q(`${nets} datatable(ip:string)["10.1.2.3", "10.9.9.9", "8.8.8.8"] | evaluate ipv4_lookup(nets, ip, net) | project ip, site`),
    ).toEqual([
      { ip: "10.1.2.3", site: "lab" },
      { ip: "10.9.9.9", site: "corp" },
    ]);
    expect(
      q(`${nets} datatable(ip:string)["8.8.8.8"] | evaluate ipv4_lookup(nets, ip, net, return_unmatched = true) | project ip, site`),
    ).toEqual([{ ip: "8.8.8.8", site: "" }]);
  });

  it("lookup on $left.X == $right.Y keeps the left rows and drops the right key column", () => {
    const text = `let L = datatable(AccountUPN:string, JobTitle:string)["a@x", "dev"];
      datatable(UserPrincipalName:string, n:long)["a@x", 1, "b@x", 2] | lookup kind=leftouter L on $left.UserPrincipalName == $right.AccountUPN`;
    expect(columnsOf(text)).toEqual(["UserPrincipalName:string", "n:long", "JobTitle:string"]);
    expect(q(text)).toEqual([
      { UserPrincipalName: "a@x", n: 1, JobTitle: "dev" },
      { UserPrincipalName: "b@x", n: 2, JobTitle: "" },
    ]);
  });

  it("has_all needs every term", () => {
    expect(q(`datatable(s:string)["alpha beta", "alpha"] | where s has_all ("beta", "alpha")`)).toEqual([{ s: "alpha beta" }]);
  });

  it("search: terms in any column (has, or prefix with *), Col:term, in (tables), with $table", () => {
    const tables = {
      SigninLogs: tableFromRecords(TABLE_SCHEMAS.SigninLogs, [
        { TimeGenerated: "2024-10-18T10:00:00Z", UserPrincipalName: "bob@evil.com", AppDisplayName: "x" },
        { TimeGenerated: "2024-10-18T10:00:00Z", UserPrincipalName: "ann@good.com", AppDisplayName: "evilapp" },
      ]),
      AuditLogs: tableFromRecords(TABLE_SCHEMAS.AuditLogs, [{ TimeGenerated: "2024-10-18T10:00:00Z", OperationName: "Add evil user" }]),
    };
    expect(q(`search in (SigninLogs, AuditLogs) "evil" | project $table, UserPrincipalName, OperationName`, tables)).toEqual([
      { $table: "SigninLogs", UserPrincipalName: "bob@evil.com", OperationName: "" },
      { $table: "AuditLogs", UserPrincipalName: "", OperationName: "Add evil user" },
    ]);
    expect(q(`SigninLogs | search "evil*" | count`, tables)).toEqual([{ Count: 2 }]);
    expect(q(`search UserPrincipalName:"ann*" | project UserPrincipalName`, tables)).toEqual([{ UserPrincipalName: "ann@good.com" }]);
  });

  it("union over a wildcard reads every table of the data whose name matches", () => {
    const tables = {
      DeviceProcessEvents: tableFromRecords(TABLE_SCHEMAS.DeviceProcessEvents, [
        { TimeGenerated: "2024-10-18T10:00:00Z", DeviceName: "a" },
      ]),
      DeviceFileEvents: tableFromRecords(TABLE_SCHEMAS.DeviceFileEvents, [{ TimeGenerated: "2024-10-18T10:00:00Z", DeviceName: "b" }]),
      SigninLogs: tableFromRecords(TABLE_SCHEMAS.SigninLogs, [{ TimeGenerated: "2024-10-18T10:00:00Z" }]),
    };
    expect(q(`union withsource=T Device*Events | project T, DeviceName | order by T asc`, tables)).toEqual([
      { T: "DeviceFileEvents", DeviceName: "b" },
      { T: "DeviceProcessEvents", DeviceName: "a" },
    ]);
  });
});

describe("_GetWatchlist", () => {
  const item = (id: string, status: string, time: string, upn: string, tier: string) => ({
    TimeGenerated: time,
    _DTTimestamp: time,
    WatchlistAlias: "VIPUsers",
    _DTItemType: "watchlist-item",
    _DTItemId: id,
    _DTItemStatus: status,
    SearchKey: upn,
    WatchlistItem: { "User Principal Name": upn, Tier: tier },
  });
  const watchlist = () =>
    tableFromRecords(TABLE_SCHEMAS.Watchlist, [
      item("1", "Create", "2024-10-01T00:00:00Z", "bob@contoso.com", "1"),
      item("2", "Create", "2024-10-01T00:00:00Z", "eve@contoso.com", "2"),
      item("2", "Delete", "2024-10-02T00:00:00Z", "eve@contoso.com", "2"),
      item("1", "Update", "2024-10-03T00:00:00Z", "bob@contoso.com", "0"),
    ]);

  it("returns each item's latest version, deleted items left out, one column per item field", () => {
    const result = runQuery(`_GetWatchlist('VIPUsers') | project SearchKey, Tier, ['User Principal Name']`, {
      tables: { Watchlist: watchlist() },
      schemas: TABLE_SCHEMAS,
      now: NOW,
    });
    expect(toJsonRecords(result.table)).toEqual([{ SearchKey: "bob@contoso.com", Tier: "0", "User Principal Name": "bob@contoso.com" }]);
  });

  it("works as a sub-query of a rule, and with no watchlist data reads as empty", () => {
    const rule = `let VIPs = _GetWatchlist('VIPUsers') | project SearchKey; SigninLogs | where UserPrincipalName in (VIPs) | summarize n = count() by UserPrincipalName`;
    const signins = tableFromRecords(TABLE_SCHEMAS.SigninLogs, [
      { TimeGenerated: "2024-10-18T10:00:00Z", UserPrincipalName: "bob@contoso.com" },
      { TimeGenerated: "2024-10-18T10:00:00Z", UserPrincipalName: "ann@contoso.com" },
    ]);
    expect(q(rule, { SigninLogs: signins, Watchlist: watchlist() })).toEqual([{ UserPrincipalName: "bob@contoso.com", n: 1 }]);
    expect(q(rule, { SigninLogs: signins })).toEqual([]);
  });
});
