import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { DeliveryClaims } from "../../lib/notify/claims.js";
import { IncidentStore } from "../../lib/incidents/store.js";
import { LinkSigner } from "../../lib/links/signed.js";
import { lineLogger } from "../../lib/log.js";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { encodeFindingMessage } from "../../lib/notify/queue-message.js";
import { readQueueSettings } from "../../lib/local/host-settings.js";
import { drainQueue } from "../../lib/local/queue-worker.js";
import { DestinationError, validateDestinationUrl } from "../../lib/notify/destinations.js";
import { retryAfterMs } from "../../lib/notify/deliver.js";
import { notifyFinding, sendDigest, type NotifierDeps } from "../../lib/notify/notifier.js";
import { NotifyState } from "../../lib/notify/state.js";
import { FindingStore } from "../../lib/findings/store.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";
import { finding } from "../helpers/findings.js";

const azurite = useAzurite();

/** A scriptable HTTP endpoint: answers each request with the next planned response. */
interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
let server: Server;
let base = "";
const hits: Hit[] = [];
let plan: { status: number; headers?: Record<string, string> }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      hits.push({ path: req.url ?? "", headers: req.headers, body });
      const next = plan.shift() ?? { status: 200 };
      res.writeHead(next.status, next.headers ?? {});
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const sleeps: number[] = [];

async function deps(destinations: NotifierDeps["destinations"], overrides: Partial<NotifierDeps> = {}): Promise<NotifierDeps> {
  const storage = await freshStorage(azurite());
  return {
    destinations,
    state: new NotifyState(storage.table("suppression"), storage.table("digests")),
    claims: new DeliveryClaims(storage.table("deliveries")),
    incidents: new IncidentStore(storage.table("incidents")),
    links: { baseUrl: "https://hunts.example.net", signer: new LinkSigner() },
    suppressionMs: 86_400_000,
    urlPolicy: { allowInsecure: true },
    delivery: {
      maxAttempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      budgetMs: 60_000,
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
    },
    ...overrides,
  };
}

function reset(next: typeof plan = []) {
  hits.length = 0;
  sleeps.length = 0;
  plan = next;
}

describe("signed webhooks and delivery", () => {
  it("signs per Standard Webhooks; the standardwebhooks package verifies it; the id is stable across retries", async () => {
    reset([{ status: 500 }, { status: 502 }, { status: 200 }]);
    const d = await deps([{ id: "hook", kind: "webhook", url: `${base}/hook`, secret: SECRET }]);
    const results = await notifyFinding(finding(), d);
    expect(results).toEqual([{ destination: "hook", outcome: "delivered" }]);
    expect(hits.length).toBe(3);
    const ids = new Set(hits.map((h) => h.headers["webhook-id"]));
    expect([...ids]).toEqual(["msg_abcdefghijklmnop1234"]);
    const verifier = new Webhook(SECRET);
    for (const hit of hits) {
      expect(hit.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
      expect(verifier.verify(hit.body, hit.headers as Record<string, string>)).toMatchObject({ type: "finding.created" });
    }
    // Exponential backoff with jitter (random() = 0.5): 0.5 * 100, 0.5 * 200.
    expect(sleeps).toEqual([50, 100]);
  });

  it("a tampered body fails verification", async () => {
    reset();
    const d = await deps([{ id: "hook", kind: "webhook", url: `${base}/hook`, secret: SECRET }]);
    await notifyFinding(finding(), d);
    const hit = hits[0];
    expect(() => new Webhook(SECRET).verify(hit.body.replace("420", "421"), hit.headers as Record<string, string>)).toThrow();
  });

  it("honours Retry-After on 429", async () => {
    reset([{ status: 429, headers: { "retry-after": "3" } }, { status: 200 }]);
    const d = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }]);
    await notifyFinding(finding(), d);
    expect(sleeps).toEqual([3000]);
    expect(retryAfterMs("Wed, 21 Oct 2015 07:28:05 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(5000);
  });

  it("410 Gone disables the destination; later findings skip it", async () => {
    reset([{ status: 410 }]);
    const d = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }]);
    expect(await notifyFinding(finding(), d)).toEqual([{ destination: "teams", outcome: "gone" }]);
    expect(
      await notifyFinding(finding({ fingerprint: "otherfingerprint00001", entity: { type: "ip", key: "198.51.100.1", values: {} } }), d),
    ).toEqual([{ destination: "teams", outcome: "disabled" }]);
    expect(hits.length).toBe(1);
  });

  it("suppresses the same hunt and entity within the window, so alerts and digests do not repeat", async () => {
    reset();
    const d = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }]);
    await notifyFinding(finding(), d);
    const later = finding({
      fingerprint: "laterwindow000000001",
      window: { start: "2024-10-20T03:00:00.000Z", end: "2024-10-20T04:00:00.000Z" },
    });
    expect(await notifyFinding(later, d)).toEqual([{ destination: "teams", outcome: "suppressed" }]);
    expect(hits.length).toBe(1);
    const afterWindow = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }], {
      state: d.state,
      now: () => Date.now() + 2 * 86_400_000,
    });
    expect((await notifyFinding(later, afterWindow))[0].outcome).toBe("delivered");
  });

  it("a permanent 4xx is reported, not retried", async () => {
    reset([{ status: 400 }]);
    const d = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }]);
    expect((await notifyFinding(finding(), d))[0]).toMatchObject({ outcome: "rejected", detail: expect.stringMatching(/^HTTP 400/) });
    expect(hits.length).toBe(1);
  });

  it("the digest goes once per destination, ranked, and only covers findings since the last one", async () => {
    reset();
    const storage = await freshStorage(azurite());
    const store = new FindingStore(storage.table("findings"));
    const t = Date.parse("2024-10-20T03:00:00.000Z");
    await store.putAll([
      finding(),
      finding({ fingerprint: "second00000000000001", score: 95, entity: { type: "ip", key: "198.51.100.7", values: {} } }),
      finding({ fingerprint: "quiet000000000000001", score: 30, alert: false }),
    ]);
    const d = await deps([{ id: "hook", kind: "webhook", url: `${base}/hook`, secret: SECRET }], {
      state: new NotifyState(storage.table("suppression"), storage.table("digests")),
    });
    const [first] = await sendDigest(store, d, { now: t + 3_600_000 });
    expect(first.findings.map((f) => f.score).sort()).toEqual([79, 95]);
    const payload = new Webhook(SECRET).verify(hits[0].body, hits[0].headers as Record<string, string>) as {
      type: string;
      data: { alerts: { score: number }[]; quiet: unknown[] };
    };
    expect(payload.type).toBe("digest.created");
    expect(payload.data.alerts.map((f) => f.score).sort()).toEqual([79, 95]);
    expect(payload.data.quiet).toEqual([]);
    const [second] = await sendDigest(store, d, { now: t + 7_200_000 });
    expect(second.findings).toEqual([]);
  });

  it("a digest answered with 410 Gone disables the destination for findings too, and says so", async () => {
    reset([{ status: 410 }]);
    const storage = await freshStorage(azurite());
    const store = new FindingStore(storage.table("findings"));
    await store.putAll([finding()]);
    const logged: string[] = [];
    const d = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }], {
      state: new NotifyState(storage.table("suppression"), storage.table("digests")),
      log: lineLogger((m) => logged.push(m)),
    });
    const [digest] = await sendDigest(store, d, { now: Date.parse("2024-10-20T04:00:00.000Z") });
    expect(digest.sent).toEqual([{ destination: "teams", outcome: "gone" }]);
    expect(logged).toEqual(["destination teams answered 410 Gone: disabled"]);
    expect(await notifyFinding(finding({ fingerprint: "otherfingerprint00002" }), d)).toEqual([
      { destination: "teams", outcome: "disabled" },
    ]);
    expect(await sendDigest(store, d, { now: Date.parse("2024-10-20T05:00:00.000Z") })).toEqual([]);
    expect(hits.length).toBe(1);
  });
});

describe("destination validation (SSRF)", () => {
  const production = {
    allowInsecure: false,
    resolve: async (host: string) => (host === "internal.example.com" ? ["10.1.2.3"] : ["52.96.1.1"]),
  };

  it("rejects retired Office 365 connector URLs with a clear error", async () => {
    await expect(
      validateDestinationUrl("teams", "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def", production),
    ).rejects.toThrow(/Office 365 connector URL.*retired.*Workflows/);
  });

  it("requires https and public addresses in production", async () => {
    await expect(validateDestinationUrl("webhook", "http://hooks.example.com/x", production)).rejects.toThrow(/must use https/);
    await expect(validateDestinationUrl("webhook", "https://127.0.0.1/x", production)).rejects.toThrow(/private, loopback/);
    await expect(validateDestinationUrl("webhook", "https://[::1]/x", production)).rejects.toThrow(/private, loopback/);
    await expect(validateDestinationUrl("webhook", "https://169.254.169.254/latest", production)).rejects.toThrow(DestinationError);
    await expect(validateDestinationUrl("webhook", "https://internal.example.com/x", production)).rejects.toThrow(
      /resolves to 10\.1\.2\.3/,
    );
    await expect(validateDestinationUrl("webhook", "https://localhost/x", production)).rejects.toThrow(/loopback/);
    // IPv4 written inside IPv6: the URL parser turns [::ffff:127.0.0.1] into [::ffff:7f00:1].
    await expect(validateDestinationUrl("webhook", "https://[::ffff:127.0.0.1]/x", production)).rejects.toThrow(
      /resolves to ::ffff:7f00:1/,
    );
    await expect(validateDestinationUrl("webhook", "https://[::ffff:169.254.169.254]/latest", production)).rejects.toThrow(
      /private, loopback/,
    );
    await expect(validateDestinationUrl("webhook", "https://[fd12::1]/x", production)).rejects.toThrow(/private, loopback/);
    await expect(
      validateDestinationUrl("teams", "https://prod-00.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke", production),
    ).resolves.toBeInstanceOf(URL);
  });
});

describe("the findings queue: dequeue and poison rules (Azurite)", () => {
  it("a message that keeps failing lands in findings-poison after maxDequeueCount, unchanged", async () => {
    reset(Array.from({ length: 20 }, () => ({ status: 503 })));
    const storage = await freshStorage(azurite());
    const d = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }], {
      delivery: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, budgetMs: 1000 },
    });
    const text = encodeFindingMessage(finding());
    await storage.queue("findings").sendMessage(text);
    const settings = { ...readQueueSettings(), visibilityTimeoutSeconds: 1 };
    expect(settings.maxDequeueCount).toBe(5);
    let result = { handled: 0, failed: 0, poisoned: 0 };
    for (let round = 0; round < 12 && result.poisoned === 0; round++) {
      const r = await drainQueue(storage.queue("findings"), storage.queue("poison"), settings, (m) => notifyFinding(m as never, d));
      result = { handled: result.handled + r.handled, failed: result.failed + r.failed, poisoned: result.poisoned + r.poisoned };
      await new Promise((w) => setTimeout(w, 1100));
    }
    expect(result).toEqual({ handled: 0, failed: 5, poisoned: 1 });
    const poisoned = (await storage.queue("poison").receiveMessages()).receivedMessageItems;
    expect(poisoned.map((m) => m.messageText)).toEqual([text]);
    expect((await storage.queue("findings").peekMessages()).peekedMessageItems).toEqual([]);
  }, 60_000);
});
