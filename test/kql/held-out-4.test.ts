/**
 * Features the fourth and fifth samples of Azure-Sentinel queries outside the vendored corpus
 * needed (80 files from 18 sources, 69 of which ran before; 62 from 19 sources, run over matching
 * rows too, 46 before): each checked against Microsoft's documentation or the official parser's own
 * reading of the query.
 */
import { describe, expect, it } from "vitest";
import { columnsOf, q } from "./helpers.js";

describe("string literals side by side are one literal", () => {
  // The string data type's documentation: literals separated only by white space or comments are concatenated.
  it("in an expression, whatever their quotes, with white space or a comment between them", () => {
    expect(q(`print s = "a" 'b', t = "c"\n  // a comment\n  "d"`)).toEqual([{ s: "ab", t: "cd" }]);
  });

  it("in a dynamic literal: a list of names with a comma left out (Attacker Tools' CredentialDumpingToolsFileArtifacts)", () => {
    expect(q(`print d = dynamic(["NTDS.out" "DumpExt.dll", 'a' "b\\"c", "z"]), o = dynamic({"k": "v" 'w'})`)).toEqual([
      { d: ["NTDS.outDumpExt.dll", 'ab"c', "z"], o: { k: "vw" } },
    ]);
    expect(q(`print n = array_length(dynamic(["lsass.dmp", "NTDS.out" "DumpExt.dll", "pwdump"]))`)).toEqual([{ n: 3 }]);
  });

  it("a dynamic literal holds any of Kusto's string and scalar literals, as the parser reads them", () => {
    // Paths written verbatim are common in hunting lists; obfuscated and multi-line strings, typed literals too.
    expect(q("print d = dynamic([@\"C:\\Windows\\System32\\cmd.exe\", h'secret', ```multi```, @'a' \"b\"])")).toEqual([
      { d: ["C:\\Windows\\System32\\cmd.exe", "secret", "multi", "ab"] },
    ]);
    expect(
      q(`print d = dynamic({"when": datetime(2024-01-01), "for": 5m, "n": -3, "x": 1.5e3, "nested": [@"c:\\x", {"k": true}]})`),
    ).toEqual([{ d: { when: "2024-01-01T00:00:00.0000000Z", for: "00:05:00", n: -3, x: 1500, nested: ["c:\\x", { k: true }] } }]);
  });
});

describe("an unnamed extend item takes the name Kusto derives from it", () => {
  it("a conversion of a column replaces that column, as the parser reads it (AzureResourceCreationWithNetworkActivity's extend todatetime(...))", () => {
    expect(columnsOf(`print E = "2024-10-18", d = 1 | extend todatetime(E), tostring(d)`)).toEqual(["E:datetime", "d:string"]);
    // The converted column then joins with a datetime column of the same name.
    const joined = q(
      `datatable(E: dynamic, R: string)[dynamic("2024-10-17T00:00:00Z"), "a"]
       | extend todatetime(E)
       | join kind=inner (datatable(E: datetime, R: string)[datetime(2024-10-17), "a"]) on E, R`,
    );
    expect(joined).toEqual([{ E: "2024-10-17T00:00:00.0000000Z", R: "a", E1: "2024-10-17T00:00:00.0000000Z", R1: "a" }]);
  });

  it("an unnamed item that names an input column without changing its type only declares it, as the parser reads it", () => {
    // The column itself, or a conversion to the type it has, writes nothing: the conversion before or after it stands.
    expect(q(`print x = 1 | extend tostring(x), x | where x == "1"`)).toEqual([{ x: "1" }]);
    expect(q(`print x = 1 | extend tolong(x), tostring(x)`)).toEqual([{ x: "1" }]);
    expect(q(`print x = 1 | extend tostring(x), tolong(x)`)).toEqual([{ x: "1" }]);
    // A call naming its result after a column given by name finds it in the row.
    expect(columnsOf(`print x = 1 | extend column_ifexists('x', 0)`)).toEqual(["x:long"]);
  });

  it("an expression Kusto names itself keeps the generated name", () => {
    expect(columnsOf(`print x = 1, y = "a" | extend x + 1, strlen(y)`)).toEqual(["x:long", "y:string", "Column1:long", "strlen_y:long"]);
  });
});

describe("parse: a typed column followed by `*` takes what a value of its type looks like", () => {
  // As a number column takes its digits: a bool or guid column before `*` no longer reads as empty.
  it("bool and guid, as a long already did", () => {
    expect(q(`print C = '"G":true,"x":1' | parse C with * '"G":' G:bool * | project G`)).toEqual([{ G: true }]);
    expect(q(`print C = '"G":FALSE}' | parse C with * '"G":' G:bool * | project G`)).toEqual([{ G: false }]);
    expect(q(`print C = 'id=0a1b2c3d-0000-1111-2222-333344445555;x' | parse C with * 'id=' G:guid * | project G`)).toEqual([
      { G: "0a1b2c3d-0000-1111-2222-333344445555" },
    ]);
    expect(q(`print C = 'n=42,' | parse C with * 'n=' N:long * | project N`)).toEqual([{ N: 42 }]);
  });
});
