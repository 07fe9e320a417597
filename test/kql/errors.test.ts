import { describe, expect, it } from "vitest";
import { KqlError, runQuery, validateQuery } from "../../lib/kql/index.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";

function errorOf(text: string): KqlError {
  try {
    runQuery(text, { tables: {}, schemas: TABLE_SCHEMAS });
  } catch (error) {
    expect(error).toBeInstanceOf(KqlError);
    return error as KqlError;
  }
  throw new Error("expected the query to fail");
}

describe("errors name the problem and its line:column", () => {
  it("unknown column (from the official parser)", () => {
    const error = errorOf("SecurityEvent\n| where EventId == 4625");
    expect(error.message).toMatch(/EventId/);
    expect(error.position).toEqual({ line: 2, column: 9 });
  });

  it("unsupported function", () => {
    const error = errorOf("print x = 1\n| extend y = series_fft(dynamic([1, 2]))");
    expect(error.message).toMatch(/Unsupported function 'series_fft'/);
    expect(error.position).toEqual({ line: 2, column: 14 });
  });

  it("unsupported operator", () => {
    const error = errorOf("SecurityEvent\n  | scan with (step s: true;)");
    expect(error.message).toMatch(/Unsupported operator 'scan'/);
    expect(error.position).toEqual({ line: 2, column: 5 });
  });

  it("type mismatch", () => {
    const error = errorOf("SecurityEvent | where EventID == 'abc' and TimeGenerated > 5");
    expect(error.code).toMatch(/^KS/);
    expect(error.message.length).toBeGreaterThan(10);
  });

  it("validateQuery reports diagnostics without running", () => {
    const diagnostics = validateQuery("SigninLogs | where ResultTyp != '0'", TABLE_SCHEMAS);
    expect(diagnostics.some((d) => d.severity === "error" && d.message.includes("ResultTyp"))).toBe(true);
    expect(validateQuery("SigninLogs | where ResultType != '0' | summarize dcount(IPAddress) by UserPrincipalName", TABLE_SCHEMAS)).toEqual(
      [],
    );
  });

  it("validateQuery reports what the local engine cannot run, with line:column, before anything runs", () => {
    const diagnostics = validateQuery('SigninLogs\n| evaluate diffpatterns(ResultType, "0", "50126")', TABLE_SCHEMAS);
    const unsupported = diagnostics.filter((d) => d.code === "unsupported");
    expect(unsupported).toHaveLength(1);
    expect(unsupported[0].message).toMatch(/diffpatterns/);
    expect(unsupported[0].position).toEqual({ line: 2, column: 3 });
  });

  it("a query nested too deep or too long is refused before parsing, quickly", () => {
    const deep = `print x = ${"(".repeat(50_000)}1${")".repeat(50_000)}`;
    expect(() => validateQuery(deep)).toThrow(/nest deeper than 200/);
    expect(() => validateQuery(`print x = "${"a".repeat(300_000)}"`)).toThrow(/limit is/);
  });
});

describe("the generated supported-KQL list", () => {
  it("names what the engine implements, from the engine's own tables", async () => {
    const { supportedKqlMarkdown } = await import("../../lib/kql/support.js");
    const text = supportedKqlMarkdown();
    for (const name of [
      "mv-apply",
      "top-nested",
      "make-series",
      "parse-where",
      "render",
      "`strcat_array`",
      "`percentiles`",
      "`bag_unpack`",
      "`series_decompose_anomalies`",
      "`parse_xml`",
      "`autocluster`",
      "`sequence_detect`",
    ]) {
      expect(text).toContain(name);
    }
    expect(text).not.toContain("diffpatterns");
  });
});
