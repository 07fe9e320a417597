import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { DeliveryClaims } from "../../lib/notify/claims.js";
import { IncidentStore } from "../../lib/incidents/store.js";
import { LinkSigner } from "../../lib/links/signed.js";
import { lineLogger } from "../../lib/log.js";
import { randomBytes } from "node:crypto";
import { createServer as createNetServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { encodeFindingMessage } from "../../lib/notify/queue-message.js";
import { readQueueSettings } from "../../lib/local/host-settings.js";
import { drainQueue } from "../../lib/local/queue-worker.js";
import { DestinationError, validateDestinationUrl } from "../../lib/notify/destinations.js";
import { deliver, retryAfterMs } from "../../lib/notify/deliver.js";
import { notifyFinding, sendDigest, type NotifierDeps } from "../../lib/notify/notifier.js";
import { NotifyState } from "../../lib/notify/destination-state.js";
import { FindingStore } from "../../lib/findings/store.js";
import type { Storage } from "../../lib/state/storage.js";
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

async function deps(
  destinations: NotifierDeps["destinations"],
  overrides: Partial<NotifierDeps> = {},
  storage?: Storage,
): Promise<NotifierDeps> {
  storage ??= await freshStorage(azurite());
  return {
    destinations,
    state: new NotifyState(storage.table("suppression"), storage.table("digests"), { destinations }),
    claims: new DeliveryClaims(storage.table("deliveries")),
    incidents: new IncidentStore(storage.table("incidents")),
    links: { baseUrl: "https://hunts.example.net", signer: new LinkSigner() },
    suppressionMs: 86_400_000,
    urlPolicy: { allowInsecure: true },
    delivery: {
      urlPolicy: { allowInsecure: true },
      maxAttempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      budgetMs: 60_000,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
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

  it("a destination down past its retries loses nothing: the message fails (the queue retries it) and the retry delivers it there, not again where it went", async () => {
    reset([{ status: 200 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    const d = await deps([
      { id: "teams", kind: "teams", url: `${base}/teams` },
      { id: "webhook", kind: "webhook", url: `${base}/hook`, secret: SECRET },
    ]);
    const alert = finding();
    await expect(notifyFinding(alert, d)).rejects.toThrow(/503/);
    expect(hits.map((h) => h.path)).toEqual(["/teams", "/hook", "/hook", "/hook", "/hook"]);
    // The queue hands the same message over again: the failed destination's claim was released.
    hits.length = 0;
    const retried = await notifyFinding(alert, d);
    expect(hits.map((h) => h.path)).toEqual(["/hook"]);
    expect(retried.find((r) => r.destination === "webhook")).toEqual({ destination: "webhook", outcome: "delivered" });
    expect(retried.find((r) => r.destination === "teams")?.outcome).not.toBe("delivered");
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

  it("a permanent 4xx is reported and logged, not retried", async () => {
    reset([{ status: 400 }]);
    const logged: string[] = [];
    const d = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }], { log: lineLogger((m) => logged.push(m)) });
    const [result] = await notifyFinding(finding(), d);
    expect(result.outcome).toBe("rejected");
    expect(result.detail).toMatch(/^HTTP 400/);
    expect(hits.length).toBe(1);
    expect(logged).toEqual([expect.stringMatching(/^destination teams rejected msg_abcdefghijklmnop1234: HTTP 400/)]);
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
    const d = await deps([{ id: "hook", kind: "webhook", url: `${base}/hook`, secret: SECRET }], {}, storage);
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

  it("the digest lists a finding kept quiet in many windows once, the latest, with how many windows", async () => {
    reset();
    const storage = await freshStorage(azurite());
    const store = new FindingStore(storage.table("findings"));
    const t = Date.parse("2024-10-20T00:00:00.000Z");
    const hour = (h: number) => new Date(t + h * 3_600_000).toISOString();
    // An appliance usual every hour of a day, and one excepted finding of the same entity.
    const usual = Array.from({ length: 24 }, (_, h) =>
      finding({
        fingerprint: `usual${String(h).padStart(15, "0")}`,
        score: 18,
        alert: false,
        digestOnly: `usual for this ip: the threshold was met in ${Math.min(10, h + 3)} of its last 10 windows, with no deviation`,
        window: { start: hour(h), end: hour(h + 1) },
        createdAt: hour(h + 1),
      }),
    );
    const excepted = finding({ fingerprint: "excepted000000000001", score: 80, alert: false, digestOnly: "excepted: the pentest scanner" });
    await store.putAll([...usual, excepted]);
    const d = await deps([{ id: "hook", kind: "webhook", url: `${base}/hook`, secret: SECRET }], {}, storage);
    const [digest] = await sendDigest(store, d, { now: t + 24 * 3_600_000 + 60_000 });
    expect(digest.quiet.map((q) => [q.digestOnly, q.windows])).toEqual([
      ["excepted: the pentest scanner", 1],
      ["usual for this ip: the threshold was met in 10 of its last 10 windows, with no deviation", 24],
    ]);
    expect(digest.quiet[1].window.end).toBe(hour(24));
    const payload = new Webhook(SECRET).verify(hits[0].body, hits[0].headers as Record<string, string>) as {
      data: { quiet: { windows: number }[] };
    };
    expect(payload.data.quiet.map((q) => q.windows)).toEqual([1, 24]);
  });

  it("a digest answered with 410 Gone disables the destination for findings too, and says so", async () => {
    reset([{ status: 410 }]);
    const storage = await freshStorage(azurite());
    const store = new FindingStore(storage.table("findings"));
    await store.putAll([finding()]);
    const logged: string[] = [];
    const d = await deps([{ id: "teams", kind: "teams", url: `${base}/teams` }], { log: lineLogger((m) => logged.push(m)) }, storage);
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

describe("410 Gone is about a URL, not a destination's name", () => {
  it("after the setting is changed to a new URL and the app restarted, the new URL gets findings; the old one stays disabled", async () => {
    reset([{ status: 410 }]);
    const storage = await freshStorage(azurite());
    const logged: string[] = [];
    const old = await deps([{ id: "teams", kind: "teams", url: `${base}/old-workflow` }], {}, storage);
    expect(await notifyFinding(finding(), old)).toEqual([{ destination: "teams", outcome: "gone" }]);
    // A restart with the same URL: still disabled, nothing sent.
    const sameUrl = await deps([{ id: "teams", kind: "teams", url: `${base}/old-workflow` }], {}, storage);
    expect(await notifyFinding(finding({ fingerprint: "samefingerprint00001" }), sameUrl)).toEqual([
      { destination: "teams", outcome: "disabled" },
    ]);
    // A restart with the setting pointing at a new workflow.
    const renewed = await deps([{ id: "teams", kind: "teams", url: `${base}/new-workflow` }], {}, storage);
    renewed.state = new NotifyState(storage.table("suppression"), storage.table("digests"), {
      destinations: renewed.destinations,
      log: lineLogger((m) => logged.push(m)),
    });
    expect(await notifyFinding(finding({ fingerprint: "newfingerprint000001" }), renewed)).toEqual([
      { destination: "teams", outcome: "delivered" },
    ]);
    expect(hits.map((h) => h.path)).toEqual(["/old-workflow", "/new-workflow"]);
    expect(logged).toEqual(["destination teams: its URL changed since an earlier URL answered 410 Gone; enabled again"]);
    // Nothing of the URL is stored: only its fingerprint.
    const rows = [];
    for await (const row of storage.table("suppression").listEntities()) rows.push(JSON.stringify(row));
    expect(rows.join("\n")).not.toContain("workflow");
  });
});

describe("redirects are not followed", () => {
  it("a 302 is reported once as a rejection saying where it pointed (origin only), not retried", async () => {
    reset([{ status: 302, headers: { location: "https://elsewhere.example.net/hook?sig=SECRETSIG" } }, { status: 200 }]);
    const logged: string[] = [];
    const d = await deps([{ id: "hook", kind: "webhook", url: `${base}/hook`, secret: SECRET }], {
      log: lineLogger((m) => logged.push(m)),
    });
    const [result] = await notifyFinding(finding(), d);
    // A rejection is final, and logged: nothing is dropped without a line.
    expect(logged).toEqual([
      expect.stringMatching(/^destination hook rejected msg_abcdefghijklmnop1234: HTTP 302 redirect to https:\/\/elsewhere\.example\.net/),
    ]);
    expect(result).toEqual({
      destination: "hook",
      outcome: "rejected",
      detail:
        "HTTP 302: redirect to https://elsewhere.example.net not followed: set the destination to the URL that accepts the POST itself",
    });
    expect(hits.length).toBe(1);
    expect(sleeps).toEqual([]);
  });
});

describe("the address is checked when connecting (DNS rebinding)", () => {
  /** A TCP listener on loopback that only counts who connects. */
  async function countingListener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
    let connections = 0;
    const listener = createNetServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const address = listener.address();
    return {
      port: typeof address === "object" && address ? address.port : 0,
      connections: () => connections,
      close: () => new Promise<void>((r) => listener.close(() => r())),
    };
  }

  it("a resolver that answers a public address to the check and 127.0.0.1 later gets no connection to 127.0.0.1", async () => {
    const listener = await countingListener();
    try {
      const answers: string[] = [];
      // First answer (the early check) public, every later answer (the connection) loopback.
      const resolve = () => {
        const answer = answers.length === 0 ? "93.184.215.14" : "127.0.0.1";
        answers.push(answer);
        return Promise.resolve([answer]);
      };
      const production = { allowInsecure: false, resolve };
      const d = await deps([{ id: "hook", kind: "webhook", url: `https://hooks.rebind.test:${listener.port}/hook`, secret: SECRET }], {
        urlPolicy: production,
        delivery: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, budgetMs: 10_000, urlPolicy: production },
      });
      const error = await notifyFinding(finding(), d).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DestinationError);
      expect((error as Error).message).toBe(
        "webhook destination: hooks.rebind.test resolves to 127.0.0.1, a private, loopback, link-local or reserved address",
      );
      expect(answers).toEqual(["93.184.215.14", "127.0.0.1"]);
      expect(listener.connections()).toBe(0);
    } finally {
      await listener.close();
    }
  });

  it("the connection goes to the address the resolver gave (the answer is pinned, not looked up again)", async () => {
    reset();
    const resolve = (host: string) => Promise.resolve(host === "hooks.pinned.test" ? ["127.0.0.1"] : []);
    const local = { allowInsecure: true, resolve };
    const d = await deps([{ id: "hook", kind: "webhook", url: `http://hooks.pinned.test:${new URL(base).port}/pinned`, secret: SECRET }], {
      urlPolicy: local,
      delivery: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, budgetMs: 10_000, urlPolicy: local },
    });
    expect(await notifyFinding(finding(), d)).toEqual([{ destination: "hook", outcome: "delivered" }]);
    expect(hits.map((h) => [h.path, h.headers.host])).toEqual([["/pinned", `hooks.pinned.test:${new URL(base).port}`]]);
  });

  it("without a URL policy, delivery refuses loopback literals and http", async () => {
    await expect(deliver({ id: "hook", kind: "webhook", url: `${base}/hook` }, "{}", () => ({}))).rejects.toThrow(/must use https/);
    await expect(deliver({ id: "hook", kind: "webhook", url: "https://[::7f00:1]/hook" }, "{}", () => ({}))).rejects.toThrow(
      DestinationError,
    );
  });
});

describe("destination validation (SSRF)", () => {
  const production = {
    allowInsecure: false,
    resolve: (host: string) => Promise.resolve(host === "internal.example.com" ? ["10.1.2.3"] : ["52.96.1.1"]),
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
      /::ffff:7f00:1 is a private, loopback/,
    );
    await expect(validateDestinationUrl("webhook", "https://[::ffff:169.254.169.254]/latest", production)).rejects.toThrow(
      /private, loopback/,
    );
    await expect(validateDestinationUrl("webhook", "https://[fd12::1]/x", production)).rejects.toThrow(/private, loopback/);
    // IPv4-compatible IPv6 (deprecated, still routed to the IPv4 address by some stacks) and NAT64.
    await expect(validateDestinationUrl("webhook", "https://[::127.0.0.1]/x", production)).rejects.toThrow(/::7f00:1 is a private/);
    await expect(validateDestinationUrl("webhook", "https://[::7f00:1]/x", production)).rejects.toThrow(/::7f00:1 is a private/);
    await expect(validateDestinationUrl("webhook", "https://[64:ff9b::7f00:1]/x", production)).rejects.toThrow(/private/);
    await expect(validateDestinationUrl("webhook", "https://[2002:7f00:1::1]/x", production)).rejects.toThrow(/private/);
    // The root's trailing dot is the same host.
    await expect(validateDestinationUrl("webhook", "https://localhost./x", production)).rejects.toThrow(/localhost is a loopback host/);
    await expect(validateDestinationUrl("webhook", "javascript:alert(1)", production)).rejects.toThrow(/must be an https URL/);
    await expect(validateDestinationUrl("webhook", "https://[2606:4700::1]/x", production)).resolves.toBeInstanceOf(URL);
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
      delivery: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, budgetMs: 1000, urlPolicy: { allowInsecure: true } },
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
