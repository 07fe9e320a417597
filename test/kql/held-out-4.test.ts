/**
 * Features a fourth sample of Azure-Sentinel queries outside the vendored corpus needed (80 files
 * from 18 solutions and folders; 69 ran before these): each checked against Microsoft's
 * documentation or the official parser's own reading of the query.
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
