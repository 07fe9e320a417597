import { describe, expect, it } from "vitest";
import { KqlError, runQuery, validateQuery } from "../../lib/kql/index.js";

function errorOf(text: string): KqlError {
  try {
    runQuery(text, { tables: {} });
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
    const error = errorOf("print x = 1\n| extend y = base64_encode_tostring('a')");
    expect(error.message).toMatch(/Unsupported function 'base64_encode_tostring'/);
    expect(error.position).toEqual({ line: 2, column: 14 });
  });

  it("unsupported operator", () => {
    const error = errorOf("SecurityEvent\n  | make-series c = count() on TimeGenerated step 1h");
    expect(error.message).toMatch(/Unsupported operator 'make-series'/);
    expect(error.position).toEqual({ line: 2, column: 5 });
  });

  it("type mismatch", () => {
    const error = errorOf("SecurityEvent | where EventID == 'abc' and TimeGenerated > 5");
    expect(error.code).toMatch(/^KS/);
    expect(error.message.length).toBeGreaterThan(10);
  });

  it("user-defined functions are refused rather than guessed", () => {
    expect(errorOf("let f = (x:long) { x + 1 }; print f(1)").message).toMatch(/User-defined functions/);
  });

  it("validateQuery reports diagnostics without running", () => {
    const diagnostics = validateQuery("SigninLogs | where ResultTyp != '0'");
    expect(diagnostics.some((d) => d.severity === "error" && d.message.includes("ResultTyp"))).toBe(true);
    expect(validateQuery("SigninLogs | where ResultType != '0' | summarize dcount(IPAddress) by UserPrincipalName")).toEqual([]);
  });
});
