import { describe, expect, it, vi } from "vitest";
import { runQuery, tableFromRecords, type Table } from "../../lib/kql/index.js";
import { kustoLanguage } from "../../lib/kql/kusto.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { columnsOf, NOW, q } from "./helpers.js";

const LOGONS = `let Logons = datatable(Ip:string, User:string, EventID:int, Time:datetime, Tags:dynamic)[
  "10.0.0.5", "alice", 4625, datetime(2024-10-18 09:10:00), dynamic(["a","b"]),
  "10.0.0.5", "bob",   4625, datetime(2024-10-18 09:40:00), dynamic(["c"]),
  "10.0.0.5", "alice", 4624, datetime(2024-10-18 10:05:00), dynamic([]),
  "66.90.100.200", "admin", 4625, datetime(2024-10-18 11:00:00), dynamic(null)
];`;

describe("fused passes: an extend's reused row holds only the columns read after it", () => {
  // Rows that differ in every column, so a column carried over from the previous row would show.
  const WIDE = `let Wide = range i from 1 to 40 step 1
| extend a = strcat("a", i % 3), b = strcat("b", i % 5), c = i * 10, d = strcat("d", i % 7), e = strcat("e", i);`;
  // The same query with a sort before its summarize keeps whole rows (no buffer), the reference.
  const alike = (body: string, last: string) => {
    const sorted = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();
    expect(sorted(q(`${WIDE} Wide | ${body} | ${last}`))).toEqual(sorted(q(`${WIDE} Wide | ${body} | sort by i asc | ${last}`)));
    expect(q(`${WIDE} Wide | ${body} | ${last}`).length).toBeGreaterThan(0);
  };

  it("columns the extend passes on untouched reach the summarize", () => {
    alike('extend k = strcat(a, "!")', "summarize n = count(), ds = make_set(d) by b, k");
  });

  it("through a where and a second extend, a project and a take", () => {
    alike(
      "extend k = toupper(a) | where isnotempty(k) and c > 50 | extend m = strcat(k, b), c = c + 1 | project m, d, c, i | take 100",
      "summarize n = count(), top = max(c) by m, d",
    );
  });

  it("a column the extend replaces is read from its new value", () => {
    alike("extend b = strcat(b, e), a = strlen(a)", "summarize n = count() by a, b");
  });

  it("`*` and pack_all() read every column", () => {
    alike("extend k = 1", "summarize take_any(*) by a");
    alike("extend k = strcat(a, e)", "summarize arg_max(c, *) by b");
    alike("extend p = pack_all()", "summarize ps = make_list(p) by a");
  });

  it("a count reads nothing, and gets every row", () => {
    expect(q(`${WIDE} Wide | extend k = strcat(a, b) | where k != "" | count`)).toEqual([{ Count: 40 }]);
  });
});

describe("data with fewer columns than its published schema (as read from files)", () => {
  /** SecurityEvent and DeviceNetworkEvents rows with only the columns given, as loadLogs builds them. */
  const narrow = () => ({
    SecurityEvent: tableFromRecords(
      TABLE_SCHEMAS.SecurityEvent.filter((c) => ["TimeGenerated", "EventID", "Computer"].includes(c.name)),
      [{ TimeGenerated: "2024-10-18T10:00:00Z", EventID: 4624, Computer: "ws1" }],
    ),
    DeviceNetworkEvents: tableFromRecords(
      TABLE_SCHEMAS.DeviceNetworkEvents.filter((c) => ["Timestamp", "DeviceName"].includes(c.name)),
      [{ Timestamp: "2024-10-18T10:00:00Z", DeviceName: "ws1" }],
    ),
  });

  it("a query over it is analysed once per shape of the data, not on every run (a hunt runs once per window)", () => {
    const parser = vi.spyOn(kustoLanguage().KustoCode, "ParseAndAnalyze");
    try {
      const text = "SecurityEvent | where EventID == 4624 | summarize n = count() by Computer, Account";
      for (let window = 0; window < 5; window++)
        expect(runQuery(text, { tables: narrow(), schemas: TABLE_SCHEMAS, now: NOW }).table.rows).toEqual([["ws1", "", 1]]);
      // Against the published schemas, then against the data's own columns (Account added, empty): once each.
      expect(parser.mock.calls.filter(([query]) => query === text)).toHaveLength(2);
    } finally {
      parser.mockRestore();
    }
  });

  it("a column the query names is added empty only to the tables it reads: the others are not copied", () => {
    const tables: Record<string, Table> = narrow();
    const events = tables.SecurityEvent;
    let read = 0;
    // SecurityEvent's published schema has RemotePort too, and its data lacks it: widening it would copy its rows.
    tables.SecurityEvent = {
      columns: events.columns,
      get rows() {
        read++;
        return events.rows;
      },
    };
    const result = runQuery("DeviceNetworkEvents | project DeviceName, RemotePort", { tables, schemas: TABLE_SCHEMAS, now: NOW });
    expect(result.table.rows).toEqual([["ws1", null]]);
    expect(read).toBe(0);
  });
});

describe("where / extend / project family", () => {
  it("filters with where and keeps only rows whose predicate is true", () => {
    expect(q(`${LOGONS} Logons | where EventID == 4625 and Ip startswith "10." | project User`)).toEqual([
      { User: "alice" },
      { User: "bob" },
    ]);
  });

  it("extend replaces existing columns in place; a later extend sees an earlier one", () => {
    const rows = q(`${LOGONS} Logons | take 1 | extend a = 2, EventID = EventID + 1 | extend b = a * 3 | project EventID, a, b`);
    expect(rows).toEqual([{ EventID: 4626, a: 2, b: 6 }]);
  });

  it("names unnamed expressions the way Kusto does", () => {
    expect(columnsOf(`${LOGONS} Logons | take 1 | extend strlen(User), tolower(User) | project-away Tags, Time`)).toEqual([
      "Ip:string",
      "User:string",
      "EventID:int",
      "strlen_User:long",
      "Column1:string",
    ]);
  });

  it("project computes, renames and orders columns", () => {
    expect(q(`${LOGONS} Logons | take 1 | project Who = toupper(User), EventID, Ip`)).toEqual([
      { Who: "ALICE", EventID: 4625, Ip: "10.0.0.5" },
    ]);
  });

  it("project-away, project-rename, project-keep and project-reorder", () => {
    expect(columnsOf(`${LOGONS} Logons | project-away Tags, Time`)).toEqual(["Ip:string", "User:string", "EventID:int"]);
    expect(q(`${LOGONS} Logons | take 1 | project-rename SourceIp = Ip | project SourceIp`)).toEqual([{ SourceIp: "10.0.0.5" }]);
    expect(columnsOf(`${LOGONS} Logons | project-keep User, Ip`)).toEqual(["Ip:string", "User:string"]);
    expect(columnsOf(`${LOGONS} Logons | project-reorder User, EventID`)).toEqual([
      "User:string",
      "EventID:int",
      "Ip:string",
      "Time:datetime",
      "Tags:dynamic",
    ]);
  });
});

describe("summarize", () => {
  it("groups by columns and bin() with the aggregates the hunts use", () => {
    const rows = q(`${LOGONS} Logons
      | summarize Failed = countif(EventID == 4625), Succeeded = countif(EventID == 4624), Users = dcount(User), count()
          by Ip, Hour = bin(Time, 1h)
      | order by Ip asc, Hour asc`);
    expect(rows).toEqual([
      { Ip: "10.0.0.5", Hour: "2024-10-18T09:00:00.0000000Z", Failed: 2, Succeeded: 0, Users: 2, count_: 2 },
      { Ip: "10.0.0.5", Hour: "2024-10-18T10:00:00.0000000Z", Failed: 0, Succeeded: 1, Users: 1, count_: 1 },
      { Ip: "66.90.100.200", Hour: "2024-10-18T11:00:00.0000000Z", Failed: 1, Succeeded: 0, Users: 1, count_: 1 },
    ]);
  });

  it("summarize without by over no rows still returns one row", () => {
    expect(q(`${LOGONS} Logons | where EventID == 1 | summarize count(), Users = dcount(User)`)).toEqual([{ count_: 0, Users: 0 }]);
  });

  it("summarize with by over no rows returns no rows", () => {
    expect(q(`${LOGONS} Logons | where EventID == 1 | summarize count() by Ip`)).toEqual([]);
  });

  it("arg_max(*, ...) returns the whole latest row per group, named as the parser names it", () => {
    const text = `${LOGONS} Logons | summarize arg_max(Time, *) by Ip | order by Ip asc`;
    expect(columnsOf(text)).toEqual(["Ip:string", "Time:datetime", "User:string", "EventID:int", "Tags:dynamic"]);
    expect(q(text)).toEqual([
      { Ip: "10.0.0.5", Time: "2024-10-18T10:05:00.0000000Z", User: "alice", EventID: 4624, Tags: [] },
      { Ip: "66.90.100.200", Time: "2024-10-18T11:00:00.0000000Z", User: "admin", EventID: 4625, Tags: null },
    ]);
  });

  it("arg_min with named columns", () => {
    expect(q(`${LOGONS} Logons | summarize arg_min(Time, User) by Ip | order by Ip asc`)).toEqual([
      { Ip: "10.0.0.5", Time: "2024-10-18T09:10:00.0000000Z", User: "alice" },
      { Ip: "66.90.100.200", Time: "2024-10-18T11:00:00.0000000Z", User: "admin" },
    ]);
  });

  it("evaluates expressions around aggregates", () => {
    expect(q(`${LOGONS} Logons | summarize Ratio = round(100.0 * countif(EventID == 4625) / count(), 1)`)).toEqual([{ Ratio: 75 }]);
  });
});

describe("join, lookup and union", () => {
  const SIDES = `let L = datatable(k:string, a:long)["x", 1, "y", 2, "x", 3];
    let R = datatable(k:string, b:long)["x", 10, "z", 30, "x", 20];`;

  it("defaults to innerunique: the left side is deduplicated on the key", () => {
    expect(q(`${SIDES} L | join R on k | project a, b | order by b asc`)).toEqual([
      { a: 1, b: 10 },
      { a: 1, b: 20 },
    ]);
  });

  it("inner keeps every matching pair and renames the right key k1", () => {
    expect(columnsOf(`${SIDES} L | join kind=inner R on k`)).toEqual(["k:string", "a:long", "k1:string", "b:long"]);
    expect(q(`${SIDES} L | join kind=inner R on k | project a, b | order by a asc, b asc`)).toEqual([
      { a: 1, b: 10 },
      { a: 1, b: 20 },
      { a: 3, b: 10 },
      { a: 3, b: 20 },
    ]);
  });

  it("leftouter fills missing right columns (empty string for strings, null otherwise)", () => {
    expect(q(`${SIDES} L | join kind=leftouter R on k | where a == 2`)).toEqual([{ k: "y", a: 2, k1: "", b: null }]);
  });

  it("leftanti, rightanti and leftsemi", () => {
    expect(q(`${SIDES} L | join kind=leftanti R on k`)).toEqual([{ k: "y", a: 2 }]);
    expect(q(`${SIDES} L | join kind=rightanti R on k`)).toEqual([{ k: "z", b: 30 }]);
    expect(q(`${SIDES} L | join kind=leftsemi R on k | order by a asc`)).toEqual([
      { k: "x", a: 1 },
      { k: "x", a: 3 },
    ]);
  });

  it("joins on $left.a == $right.b", () => {
    const text = `let A = datatable(user:string, n:long)["alice", 1, "bob", 2];
      let B = datatable(upn:string, change:string)["alice", "AddMember", "carol", "Reset"];
      A | join kind=inner (B) on $left.user == $right.upn | project user, change`;
    expect(q(text)).toEqual([{ user: "alice", change: "AddMember" }]);
  });

  it("lookup does not repeat the key column", () => {
    expect(columnsOf(`${SIDES} L | lookup R on k`)).toEqual(["k:string", "a:long", "b:long"]);
    expect(q(`${SIDES} L | lookup kind=inner (R | where b == 30 or b == 10) on k`)).toEqual([
      { k: "x", a: 1, b: 10 },
      { k: "x", a: 3, b: 10 },
    ]);
  });

  it("union merges columns by name; isfuzzy tolerates missing tables", () => {
    const text = `let A = datatable(x:long)[1]; let B = datatable(y:string)["b"];
      union A, B`;
    expect(q(text)).toEqual([
      { x: 1, y: "" },
      { x: null, y: "b" },
    ]);
    expect(q(`let A = datatable(x:long)[1]; union isfuzzy=true A, NoSuchTable`)).toEqual([{ x: 1 }]);
  });

  it("union of the same column with different types makes typed columns", () => {
    expect(columnsOf(`union (print v = 1), (print v = "a")`)).toEqual(["v_long:long", "v_string:string"]);
  });
});

describe("ordering, limits and shape", () => {
  const NUMS = `let N = datatable(n:long, s:string)[3, "c", 1, "a", long(null), "z", 2, "b"];`;

  it("order by defaults to descending with nulls last", () => {
    expect(q(`${NUMS} N | order by n`).map((r) => r.n)).toEqual([3, 2, 1, null]);
    expect(q(`${NUMS} N | sort by n asc`).map((r) => r.n)).toEqual([null, 1, 2, 3]);
    expect(q(`${NUMS} N | sort by n asc nulls last`).map((r) => r.n)).toEqual([1, 2, 3, null]);
  });

  it("top, take, limit, count, distinct", () => {
    expect(q(`${NUMS} N | top 2 by n desc`).map((r) => r.s)).toEqual(["c", "b"]);
    expect(q(`${NUMS} N | take 2`).length).toBe(2);
    expect(q(`${NUMS} N | limit 1`).length).toBe(1);
    expect(q(`${NUMS} N | count`)).toEqual([{ Count: 4 }]);
    expect(q(`datatable(a:string, b:long)["x", 1, "x", 1, "x", 2] | distinct a, b`)).toEqual([
      { a: "x", b: 1 },
      { a: "x", b: 2 },
    ]);
    expect(q(`datatable(a:string)["x", "x"] | distinct *`)).toEqual([{ a: "x" }]);
  });

  it("mv-expand expands arrays and bags; an empty array drops the row, a null keeps one row with null (Kusto docs)", () => {
    expect(q(`${LOGONS} Logons | mv-expand Tags | project User, Tags`)).toEqual([
      { User: "alice", Tags: "a" },
      { User: "alice", Tags: "b" },
      { User: "bob", Tags: "c" },
      { User: "admin", Tags: null },
    ]);
    expect(columnsOf(`${LOGONS} Logons | mv-expand Tags to typeof(string) | project Tags`)).toEqual(["Tags:string"]);
    expect(q(`print d = dynamic({"a": 1, "b": 2}) | mv-expand d`)).toEqual([{ d: { a: 1 } }, { d: { b: 2 } }]);
    expect(q(`print d = dynamic([10, 20]) | mv-expand with_itemindex = i d`)).toEqual([
      { d: 10, i: 0 },
      { d: 20, i: 1 },
    ]);
  });

  it("serialize with row_number(), prev() and next()", () => {
    const rows = q(
      `datatable(t:long, v:string)[1, "a", 2, "b", 3, "c"] | serialize rn = row_number(), p = prev(v), nx = next(v, 1, "end")`,
    );
    expect(rows).toEqual([
      { t: 1, v: "a", rn: 1, p: "", nx: "b" },
      { t: 2, v: "b", rn: 2, p: "a", nx: "c" },
      { t: 3, v: "c", rn: 3, p: "b", nx: "end" },
    ]);
  });

  it("datatable values may be typed literals, negatives and nulls", () => {
    expect(q(`datatable(a:long, b:timespan, c:datetime, d:bool)[-5, 1h, datetime(2024-01-01), bool(null)]`)).toEqual([
      { a: -5, b: "01:00:00", c: "2024-01-01T00:00:00.0000000Z", d: null },
    ]);
  });
});

describe("let statements", () => {
  it("binds scalars (including timespan arithmetic) and tabular expressions", () => {
    const text = `let window = 1h; let lookback = totimespan(window * 7);
      let start = datetime(2024-10-18 10:00) - lookback;
      let Recent = datatable(t:datetime)[datetime(2024-10-18 04:00), datetime(2024-10-18 02:00)] | where t > start;
      Recent | extend lb = lookback`;
    expect(q(text)).toEqual([{ t: "2024-10-18T04:00:00.0000000Z", lb: "07:00:00" }]);
  });

  it("uses a tabular let as the right side of in()", () => {
    const text = `let Bad = datatable(ip:string)["1.1.1.1"];
      datatable(ip:string, n:long)["1.1.1.1", 1, "2.2.2.2", 2] | where ip in (Bad) | project n`;
    expect(q(text)).toEqual([{ n: 1 }]);
  });

  it("toscalar() reads the first cell of a sub-query", () => {
    expect(q(`let m = toscalar(datatable(n:long)[4, 9, 2] | summarize max(n)); print Max = m`)).toEqual([{ Max: 9 }]);
  });
});
