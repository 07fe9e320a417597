import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import * as AC from "adaptivecards";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import draft6 from "ajv/dist/refs/json-schema-draft-06.json" with { type: "json" };
import { describe, expect, it } from "vitest";
import { finding } from "../helpers/findings.js";
import { addToIncident } from "../../lib/incidents/store.js";
import { LINK_LIFETIME_MS, LinkError, LinkSigner, type CardLinks } from "../../lib/links/signed.js";
import {
  digestMessages,
  findingMessage,
  incidentMessage,
  messageBytes,
  TEAMS_MAX_BYTES,
  type TeamsMessage,
} from "../../lib/notify/teams.js";

const NOW = Date.parse("2024-10-20T04:00:00Z");
const signer = new LinkSigner();
const links: CardLinks = {
  baseUrl: "https://hunts.example.net",
  signer,
  workspaceResourceId: "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/sentinel",
};
/** The signed links on a card, with what each one opens. */
function linksOn(m: TeamsMessage) {
  const urls = [...JSON.stringify(m).matchAll(/https:\/\/hunts\.example\.net\/api\/links\/([A-Za-z0-9_.-]+)/g)].map((x) => x[1]);
  return urls.map((token) => signer.verify(token, NOW));
}

const { id: schemaId, ...schemaBody } = JSON.parse(
  readFileSync(new URL("../fixtures/adaptive-cards/adaptive-card-1.4.schema.json", import.meta.url), "utf8"),
) as { id: string } & Record<string, unknown>;
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
  it("a finding card: score, entity, why, MITRE, window, a signed link to the run and the query in Log Analytics", () => {
    const m = findingMessage(finding(), links, NOW);
    expectValidTeamsMessage(m);
    const text = JSON.stringify(m);
    for (const expected of ["79", "203.0.113.66", "FailedCount 420 >= 100 (threshold)", "T1110", "2024-10-20 02:00"]) {
      expect(text).toContain(expected);
    }
    expect(linksOn(m)).toEqual([
      { action: "run", runId: "windows-logon-by-source-ip.20241020T030000Z", exp: expect.any(Number) as number },
    ]);
    const portal = /https:\/\/portal\.azure\.com\/[^"]+/.exec(text)![0];
    const q = decodeURIComponent(/\/q\/([^/]+)\//.exec(portal)![1]);
    expect(gunzipSync(Buffer.from(q, "base64")).toString("utf8")).toMatch(/let HuntStart = datetime\(2024-10-20T02:00:00/);
    expect(decodeURIComponent(/\/timespan\/([^/"]+)/.exec(portal)![1])).toBe("2024-10-20T02:00:00.000Z/2024-10-20T03:00:00.000Z");
  });

  it("a card's link stops working when it expires, and under another signing key", () => {
    const [token] = [...JSON.stringify(findingMessage(finding(), links, NOW)).matchAll(/\/api\/links\/([A-Za-z0-9_.-]+)/g)].map(
      (x) => x[1],
    );
    expect(signer.verify(token, NOW + LINK_LIFETIME_MS - 1).action).toBe("run");
    expect(() => signer.verify(token, NOW + LINK_LIFETIME_MS)).toThrow(/^the link expired at /);
    expect(() => new LinkSigner().verify(token, NOW)).toThrow(LinkError);
    expect(() => new LinkSigner().verify(token, NOW)).toThrow("the link's signature does not match");
  });

  it("an incident card: its findings, shared entities, and links to open it and to mark its entity benign", () => {
    const spray = finding({
      fingerprint: "spray000000000000001",
      entities: [
        { type: "ip", value: "203.0.113.66" },
        { type: "account", value: "alice" },
      ],
    });
    const changepoint = finding({
      fingerprint: "change00000000000001",
      huntId: "logon-changepoint",
      huntTitle: "Change points in hourly logons per account (LogonTracer)",
      score: 83,
      entity: { type: "account", key: "alice", values: {} },
      entities: [{ type: "account", value: "alice" }],
    });
    const opened = addToIncident(undefined, "inc-test", [spray], spray.runId, NOW).incident;
    const { incident, notice } = addToIncident(opened, "inc-test", [changepoint], "logon-changepoint.x", NOW);
    expect(notice).toBe("updated");
    const m = incidentMessage(incident, "updated", links, NOW);
    expectValidTeamsMessage(m);
    const text = JSON.stringify(m);
    for (const expected of ["Incident updated", "inc-test", "account:alice", "logon-changepoint", "windows-logon-by-source-ip", "83"]) {
      expect(text).toContain(expected);
    }
    const opens = linksOn(m);
    expect(opens).toContainEqual({ action: "incident", incidentId: "inc-test", exp: expect.any(Number) as number });
    expect(opens).toContainEqual({
      action: "benign",
      huntId: "logon-changepoint",
      entity: { type: "account", value: "alice" },
      incidentId: "inc-test",
      exp: expect.any(Number) as number,
    });
  });

  it("a huge finding still fits under 28 KB", () => {
    const big = finding({
      reasons: Array.from({ length: 200 }, (_, i) => `reason ${i} ${"x".repeat(900)}`),
      entity: { type: "ip", key: "k".repeat(5000), values: {} },
    });
    expectValidTeamsMessage(findingMessage(big, links, NOW));
  });

  it("a digest ranks incidents, lists what was kept quiet and why, and splits or truncates to stay under 28 KB", () => {
    const alerts = Array.from({ length: 300 }, (_, i) =>
      finding({
        fingerprint: `fp${String(i).padStart(18, "0")}`,
        score: (i * 37) % 100,
        entity: { type: "ip", key: `10.0.${i >> 8}.${i & 255}`, values: {} },
        entities: [{ type: "ip", value: `10.0.${i >> 8}.${i & 255}` }],
        reasons: [`reason ${"y".repeat(250)}`],
        incidentId: `inc-${i}`,
      }),
    );
    const incidents = alerts.map((f) => addToIncident(undefined, f.incidentId!, [f], f.runId, NOW).incident);
    const quiet = [
      finding({
        alert: false,
        score: 16,
        digestOnly: "usual for this ip: the threshold was met in 9 of its last 10 windows, with no deviation",
      }),
    ];
    const messages = digestMessages({ incidents, alerts, quiet, since: NOW - 86_400_000, until: NOW }, links, { title: "Digest" });
    expect(messages.length).toBe(3);
    messages.forEach(expectValidTeamsMessage);
    const last = JSON.stringify(messages[2]);
    expect(last).toMatch(/…and \d+ more line\(s\) not shown\./);
    const first = JSON.stringify(messages[0]);
    expect(first).toContain("300 incident(s), 300 alert(s), 1 kept quiet");
    expect(first.indexOf("**99**")).toBeGreaterThan(0);
    expect(first.indexOf("**99**")).toBeLessThan(first.indexOf("**98**"));
    const small = digestMessages(
      { incidents: incidents.slice(0, 2), alerts: alerts.slice(0, 2), quiet, since: NOW - 1, until: NOW },
      links,
      {
        title: "Digest",
      },
    );
    expect(JSON.stringify(small)).toContain("Kept quiet (1): not alerted, and why");
    expect(JSON.stringify(small)).toContain("met in 9 of its last 10 windows");
    // A quiet entry standing for the windows of a day says how many.
    const daily = digestMessages({ incidents: [], alerts: [], quiet: [{ ...quiet[0], windows: 24 }], since: NOW - 1, until: NOW }, links, {
      title: "Digest",
    });
    expect(JSON.stringify(daily)).toContain(
      "16 · Windows network logon activity by source IP · 203.0.113.66 (24 windows): usual for this ip",
    );
  });

  it("the vendored schema has teeth: it rejects malformed cards", () => {
    expect(validateCard({ type: "AdaptiveCard", version: "1.4", body: [{ type: "TextBlock" }] })).toBe(false);
    expect(validateCard({ type: "AdaptiveCard", version: "1.4", body: [{ type: "TextBlock", text: "x", colour: "red" }] })).toBe(false);
    expect(validateCard({ type: "AdaptiveCard", version: "1.4", body: [{ type: "TextBlock", text: "x", weight: "Bolder" }] })).toBe(true);
  });

  it("an empty digest says so", () => {
    const [m] = digestMessages({ incidents: [], alerts: [], quiet: [], since: NOW - 86_400_000, until: NOW }, links, { title: "Digest" });
    expectValidTeamsMessage(m);
    expect(JSON.stringify(m)).toContain("No findings.");
  });
});
