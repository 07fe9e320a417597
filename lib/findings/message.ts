/** Findings on the `findings` queue: base64 JSON, as the Functions queue trigger reads it. */
import { FindingSchema, type Finding } from "./finding.js";

/** Queue messages are base64 text: the Functions queue trigger decodes base64 by default. */
export function encodeFindingMessage(finding: Finding): string {
  return Buffer.from(JSON.stringify(finding), "utf8").toString("base64");
}

export function decodeFindingMessage(message: unknown): Finding {
  // The Functions runtime hands the trigger the decoded JSON (object) or text; accept both.
  let value = message;
  if (typeof value === "string") {
    const text = /^[A-Za-z0-9+/=\s]+$/.test(value) && !value.trim().startsWith("{") ? Buffer.from(value, "base64").toString("utf8") : value;
    value = JSON.parse(text);
  }
  return FindingSchema.parse(value);
}
