import { readFileSync } from "node:fs";
import * as AC from "adaptivecards";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import draft6 from "ajv/dist/refs/json-schema-draft-06.json" with { type: "json" };
import { describe, expect, it } from "vitest";
import { finding } from "../helpers/findings.js";
import { digestMessages, findingMessage, messageBytes, TEAMS_MAX_BYTES, type TeamsMessage } from "../../lib/notify/teams.js";

const { id: schemaId, ...schemaBody } = JSON.parse(
  readFileSync(new URL("../fixtures/adaptive-cards/adaptive-card-1.4.schema.json", import.meta.url), "utf8"),
);
// The published file names itself with draft-04's `id`; draft-06 (its $schema) and ajv spell it `$id`.
const schema = { $id: schemaId, ...schemaBody };
const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
addFormats.default(ajv);
ajv.addMetaSchema(draft6);
const validateCard = ajv.compile(schema);

function expectValidTeamsMessage(m: TeamsMessage) {
  expect(m.type).toBe("message");
  expect(m.attachments).toHaveLength(1);
  expect(m.attachments[0].contentType).toBe("application/vnd.microsoft.card.adaptive");
  const content = m.attachments[0].content;
  expect(content.version).toBe("1.4");
  const valid = validateCard(content);
  expect(valid, JSON.stringify(validateCard.errors?.slice(0, 3))).toBe(true);
  // The official renderer library parses it without complaint.
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(content, context);
  expect(context.eventCount).toBe(0);
  expect(messageBytes(m)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
}

describe("Teams cards", () => {
  it("a finding card: score, entity, why, MITRE, window and a link to the run", () => {
    const m = findingMessage(finding(), { baseUrl: "https://hunts.example.net" });
    expectValidTeamsMessage(m);
    const text = JSON.stringify(m);
    for (const expected of [
      "79",
      "203.0.113.66",
      "FailedCount 420 >= 100 (threshold)",
      "T1110",
      "2024-10-20 02:00",
      "https://hunts.example.net/api/runs/windows-logon-by-source-ip.20241020T030000Z",
    ]) {
      expect(text).toContain(expected);
    }
  });

  it("a huge finding still fits under 28 KB", () => {
    const big = finding({
      reasons: Array.from({ length: 200 }, (_, i) => `reason ${i} ${"x".repeat(900)}`),
      entity: { type: "ip", key: "k".repeat(5000), values: {} },
    });
    expectValidTeamsMessage(findingMessage(big, { baseUrl: "https://hunts.example.net" }));
  });

  it("a digest ranks findings and splits or truncates with a 'more' line to stay under 28 KB", () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      finding({
        fingerprint: `fp${String(i).padStart(18, "0")}`,
        score: (i * 37) % 100,
        entity: { type: "ip", key: `10.0.${i >> 8}.${i & 255}`, values: {} },
        reasons: [`reason ${"y".repeat(250)}`],
      }),
    );
    const messages = digestMessages(
      many,
      { baseUrl: "https://hunts.example.net" },
      { title: "Digest", since: "2024-10-19T00:00:00Z", until: "2024-10-20T00:00:00Z" },
    );
    expect(messages.length).toBe(3);
    messages.forEach(expectValidTeamsMessage);
    const last = JSON.stringify(messages[2]);
    expect(last).toMatch(/…and \d+ more finding\(s\) not shown\./);
    const first = JSON.stringify(messages[0]);
    expect(first.indexOf("**99**")).toBeGreaterThan(0);
    expect(first.indexOf("**99**")).toBeLessThan(first.indexOf("**98**"));
  });

  it("the vendored schema has teeth: it rejects malformed cards", () => {
    expect(validateCard({ type: "AdaptiveCard", version: "1.4", body: [{ type: "TextBlock" }] })).toBe(false);
    expect(validateCard({ type: "AdaptiveCard", version: "1.4", body: [{ type: "TextBlock", text: "x", colour: "red" }] })).toBe(false);
    expect(validateCard({ type: "AdaptiveCard", version: "1.4", body: [{ type: "TextBlock", text: "x", weight: "Bolder" }] })).toBe(true);
  });

  it("an empty digest says so", () => {
    const [m] = digestMessages(
      [],
      { baseUrl: "https://x.example" },
      { title: "Digest", since: "2024-10-19T00:00:00Z", until: "2024-10-20T00:00:00Z" },
    );
    expectValidTeamsMessage(m);
    expect(JSON.stringify(m)).toContain("No findings.");
  });
});
