import { describe, expect, it } from "vitest";
import { q } from "./helpers.js";

/** Evaluates `print r = <expr>` and returns r. */
function value(expr: string, prefix = ""): unknown {
  return q(`${prefix} print r = ${expr}`)[0].r;
}

describe("time", () => {
  it("now() and ago() use the query clock", () => {
    expect(value("now()")).toBe("2024-10-18T12:00:00.0000000Z");
    expect(value("ago(1d)")).toBe("2024-10-17T12:00:00.0000000Z");
    expect(value("ago(90m)")).toBe("2024-10-18T10:30:00.0000000Z");
  });

  it("datetime and timespan literals and arithmetic", () => {
    expect(value("datetime(2024-10-18 09:29:21.125) + 1h")).toBe("2024-10-18T10:29:21.1250000Z");
    expect(value("datetime(2024-10-18) - datetime(2024-10-17 18:00)")).toBe("06:00:00");
    expect(value("2d + 30m")).toBe("2.00:30:00");
    expect(value("1h * 3")).toBe("03:00:00");
    expect(value("1d / 1h")).toBe(24);
    expect(value("totimespan('01:30:00')")).toBe("01:30:00");
    expect(value("totimespan(7 * 1d)")).toBe("7.00:00:00");
  });

  it("bin and startofday", () => {
    expect(value("bin(datetime(2024-10-18 09:59:59), 1h)")).toBe("2024-10-18T09:00:00.0000000Z");
    expect(value("bin(datetime(2024-10-18 09:59:59), 1d)")).toBe("2024-10-18T00:00:00.0000000Z");
    // Kusto bins from 0001-01-01, a Monday: 7d bins start on Mondays.
    expect(value("bin(datetime(2024-10-18), 7d)")).toBe("2024-10-14T00:00:00.0000000Z");
    expect(value("bin(17, 5)")).toBe(15);
    expect(value("bin(2.7, 0.5)")).toBe(2.5);
    expect(value("startofday(datetime(2024-10-18 23:10))")).toBe("2024-10-18T00:00:00.0000000Z");
  });

  it("todatetime reads ISO text and the Log Analytics export form", () => {
    expect(value("todatetime('2024-10-18T09:29:21.125Z')")).toBe("2024-10-18T09:29:21.1250000Z");
    expect(value("todatetime('2024-10-18 09:29:21')")).toBe("2024-10-18T09:29:21.0000000Z");
    expect(value("todatetime('10/18/2024, 9:29:21.125 PM')")).toBe("2024-10-18T21:29:21.1250000Z");
    expect(value("todatetime('not a date')")).toBe(null);
  });

  it("between on numbers and datetimes, with a timespan upper bound", () => {
    expect(value("5 between (1 .. 5)")).toBe(true);
    expect(value("6 !between (1 .. 5)")).toBe(true);
    expect(value("datetime(2024-10-18 12:00) between (datetime(2024-10-18) .. 1d)")).toBe(true);
  });
});

describe("conversion and text", () => {
  it("to* conversions", () => {
    expect(value("tostring(42)")).toBe("42");
    expect(value("tostring(true)")).toBe("true");
    expect(value("toint('7')")).toBe(7);
    expect(value("toint(2.9)")).toBe(2);
    expect(value("tolong('x')")).toBe(null);
    expect(value("todouble('2.5')")).toBe(2.5);
    expect(value("tobool('true')")).toBe(true);
    expect(value("tostring(dynamic({'a': 1}))")).toBe('{"a":1}');
  });

  it("string functions", () => {
    expect(value("tolower('AbC')")).toBe("abc");
    expect(value("toupper('AbC')")).toBe("ABC");
    expect(value("strcat('a', 1, 'b')")).toBe("a1b");
    expect(value("strlen('héllo')")).toBe(5);
    expect(value("substring('ABCDEF', 2, 3)")).toBe("CDE");
    expect(value("substring('ABCDEF', 4)")).toBe("EF");
    expect(value("split('a,b,c', ',')")).toEqual(["a", "b", "c"]);
    expect(value("split('a,b,c', ',', 1)")).toEqual(["b"]);
    expect(value("trim(' ', '  x  ')")).toBe("x");
    expect(value("trim(@'[-_]', '--x__')")).toBe("x");
    expect(value("replace_string('a.b.c', '.', '/')")).toBe("a/b/c");
    expect(value("extract(@'user=(\\w+)', 1, 'id=3 user=alice ok')")).toBe("alice");
    expect(value("extract(@'port=(\\d+)', 1, 'port=445', typeof(long))")).toBe(445);
    expect(value("extract(@'nope(\\d)', 1, 'x')")).toBe("");
  });

  it("trims by plain text as by the same text as a regex: repeats, overlaps, nothing left", () => {
    for (const fn of ["trim", "trim_start", "trim_end"])
      for (const [pattern, text] of [
        ["a", "aaa"],
        ["a", "aXa"],
        ["ab", "ababXab"],
        ["ab", "abab"],
        ["ab", "aba"],
        ["::ffff:", "::ffff:10.0.0.1"],
        ["x", ""],
        ["é", "éeé"],
      ])
        expect(value(`${fn}('${pattern}', '${text}')`), `${fn}('${pattern}', '${text}')`).toBe(value(`${fn}('(?:${pattern})', '${text}')`));
    expect(value("trim_start('ab', 'ababXab')")).toBe("Xab");
    expect(value("trim_end('ab', 'ababXab')")).toBe("ababX");
  });

  it("string operators are case-insensitive unless _cs, and has matches whole terms", () => {
    expect(value("'Failed Logon From Host' has 'logon'")).toBe(true);
    expect(value("'Failed Logon From Host' has 'logo'")).toBe(false);
    expect(value("'Failed Logon' !has 'logo'")).toBe(true);
    expect(value("'Failed Logon' has_cs 'logon'")).toBe(false);
    expect(value("'C:\\\\Windows\\\\System32\\\\svchost.exe' has 'svchost.exe'")).toBe(true);
    expect(value("'Failed Logon' contains 'LOGO'")).toBe(true);
    expect(value("'Failed Logon' !contains 'xyz'")).toBe(true);
    expect(value("'Failed Logon' startswith 'fail'")).toBe(true);
    expect(value("'Failed Logon' endswith 'GON'")).toBe(true);
    expect(value("'ABC' =~ 'abc'")).toBe(true);
    expect(value("'ABC' !~ 'abc'")).toBe(false);
    expect(value("'ABC' == 'abc'")).toBe(false);
    expect(value("'mimikatz.exe' matches regex @'^mimi.*\\.exe$'")).toBe(true);
    expect(value("'a b c' has_any ('x', 'B')")).toBe(true);
    expect(value("'a b c' has_any ('x', 'y')")).toBe(false);
  });

  it("in, !in and in~", () => {
    expect(value("'b' in ('a', 'b')")).toBe(true);
    expect(value("'B' in ('a', 'b')")).toBe(false);
    expect(value("'B' in~ ('a', 'b')")).toBe(true);
    expect(value("4625 !in (4624, 4625)")).toBe(false);
    expect(value("3 in (dynamic([1, 2, 3]))")).toBe(true);
  });
});

describe("dynamic", () => {
  const D = "let d = dynamic({'user': {'name': 'alice', 'roles': ['admin', 'dev']}, 'n': 3});";

  it("member and element access", () => {
    expect(value("d.user.name", D)).toBe("alice");
    expect(value("d['user']['roles'][1]", D)).toBe("dev");
    expect(value("d.user.roles[-1]", D)).toBe("dev");
    expect(value("d.absent", D)).toBe(null);
    expect(value("tostring(d.user.name)", D)).toBe("alice");
  });

  it("TargetResources.[0] style paths into AuditLogs", () => {
    const rows = q(`datatable(TargetResources:dynamic)[dynamic([{"userPrincipalName": "bob@contoso.com"}])]
      | extend upn = tostring(TargetResources.[0].userPrincipalName)`);
    expect(rows[0].upn).toBe("bob@contoso.com");
  });

  it("parse_json, todynamic, pack, bag_pack, array_length", () => {
    expect(value("parse_json('{\"a\": [1, 2]}').a[1]")).toBe(2);
    expect(value("todynamic('[1,2,3]')")).toEqual([1, 2, 3]);
    expect(value("pack('ip', '1.2.3.4', 'n', 2)")).toEqual({ ip: "1.2.3.4", n: 2 });
    expect(value("bag_pack('t', datetime(2024-01-01))")).toEqual({ t: "2024-01-01T00:00:00.0000000Z" });
    expect(value("array_length(dynamic([1, 2, 3]))")).toBe(3);
    expect(value("array_length(parse_json('{}'))")).toBe(null);
  });
});

describe("logic and nulls", () => {
  it("case, iff, iif, coalesce", () => {
    expect(value("case(1 > 2, 'a', 2 > 1, 'b', 'c')")).toBe("b");
    expect(value("iff(true, 1, 2)")).toBe(1);
    expect(value("iif(false, 1, 2)")).toBe(2);
    expect(value("coalesce(long(null), 5, 6)")).toBe(5);
    expect(value("coalesce('', 'x')")).toBe("x");
  });

  it("isempty/isnotempty/isnull/isnotnull follow Kusto (strings are never null)", () => {
    expect(value("isempty('')")).toBe(true);
    expect(value("isnotempty('a')")).toBe(true);
    expect(value("isnull(long(null))")).toBe(true);
    expect(value("isnull('')")).toBe(false);
    expect(value("isnotnull(1)")).toBe(true);
    expect(value("isempty(long(null))")).toBe(true);
  });

  it("null comparisons: null == null is null, null == x is false, null != x is true", () => {
    const rows = q(`datatable(v:long)[5, long(null)]
      | extend Bigger = v > 3, BiggerOrNull = v > 3 or isnull(v), Eq = v == long(null), Ne = v != long(null)`);
    expect(rows).toEqual([
      { v: 5, Bigger: true, BiggerOrNull: true, Eq: false, Ne: true },
      { v: null, Bigger: null, BiggerOrNull: true, Eq: null, Ne: null },
    ]);
  });

  it("where drops rows whose predicate is null; arithmetic with null is null", () => {
    expect(q(`datatable(v:long)[5, long(null)] | where v > 1`)).toEqual([{ v: 5 }]);
    expect(value("long(null) + 1")).toBe(null);
  });

  it("integer division truncates; real division does not", () => {
    expect(value("7 / 2")).toBe(3);
    expect(value("7 / 2.0")).toBe(3.5);
    expect(value("7 % 3")).toBe(1);
  });
});

describe("ipv4", () => {
  it("ipv4_is_private and ipv4_is_in_range", () => {
    expect(value("ipv4_is_private('10.1.2.3')")).toBe(true);
    expect(value("ipv4_is_private('172.31.255.1')")).toBe(true);
    expect(value("ipv4_is_private('172.32.0.1')")).toBe(false);
    expect(value("ipv4_is_private('192.168.0.1')")).toBe(true);
    expect(value("ipv4_is_private('66.90.100.200')")).toBe(false);
    expect(value("ipv4_is_private('fe80::1')")).toBe(null);
    expect(value("ipv4_is_in_range('192.168.1.7', '192.168.1.0/24')")).toBe(true);
    expect(value("ipv4_is_in_range('192.168.2.7', '192.168.1.0/24')")).toBe(false);
    expect(value("ipv4_is_in_range('10.0.0.1', '10.0.0.1')")).toBe(true);
  });
});
