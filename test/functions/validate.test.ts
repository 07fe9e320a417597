import { HttpRequest, InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { validateKql } from "../../functions/validate.js";

function post(body: unknown) {
  return new HttpRequest({
    url: "http://localhost/api/kql/validate",
    method: "POST",
    body: { string: JSON.stringify(body) },
    headers: { "content-type": "application/json" },
  });
}

describe("POST /api/kql/validate", () => {
  it("returns the official parser's diagnostics with positions", async () => {
    const response = await validateKql(post({ query: "SecurityEvent\n| where EventId == 4625" }), new InvocationContext());
    expect(response.status).toBe(200);
    const body = response.jsonBody as { valid: boolean; diagnostics: { message: string; position: { line: number } }[] };
    expect(body.valid).toBe(false);
    expect(body.diagnostics[0].message).toContain("EventId");
    expect(body.diagnostics[0].position.line).toBe(2);
  });

  it("accepts a valid hunt query", async () => {
    const response = await validateKql(post({ query: "SecurityEvent | where EventID == 4625 | summarize count() by IpAddress" }), new InvocationContext());
    expect(response.jsonBody).toEqual({ valid: true, diagnostics: [] });
  });

  it("rejects a bad body with a 400 naming the field", async () => {
    const response = await validateKql(post({ query: 42 }), new InvocationContext());
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.jsonBody)).toContain('"field":"query"');
  });
});
