/** POST /api/kql/validate: official-parser diagnostics for a query against the known table schemas. */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { z } from "zod";
import { validateQuery } from "../lib/kql/index.js";

const ValidateBody = z.object({ query: z.string().min(1, "query must not be empty").max(100_000) });

export async function validateKql(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const parsed = ValidateBody.safeParse(await request.json().catch(() => undefined));
  if (!parsed.success) {
    return { status: 400, jsonBody: { error: "Invalid body", issues: parsed.error.issues.map((i) => ({ field: i.path.join("."), message: i.message })) } };
  }
  const diagnostics = validateQuery(parsed.data.query);
  context.log(`validated a query of ${parsed.data.query.length} characters: ${diagnostics.length} diagnostics`);
  return { status: 200, jsonBody: { valid: !diagnostics.some((d) => d.severity === "error"), diagnostics } };
}

app.http("validateKql", { route: "kql/validate", methods: ["POST"], authLevel: "function", handler: validateKql });
