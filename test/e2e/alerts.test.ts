/**
 * The path a SOC sees, end to end on real components: a hunt's alert becomes an incident, its
 * notice is delivered once per destination even when the queue holds duplicates handled eight at
 * a time, and "Mark benign" on the Teams card (a signed link opened in a browser, no function key)
 * creates an exception that keeps the next window's alert quiet and lists it in the digest.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findHunt } from "../../lib/hunts/catalog.js";
import { tableFromRecords } from "../../lib/kql/build.js";
import { freePort } from "../../lib/local/azurite.js";
import { readQueueSettings } from "../../lib/local/host-settings.js";
import { drainQueue } from "../../lib/local/queue-worker.js";
import { startReceiver, type Receiver } from "../../lib/local/receiver.js";
import { serve, type Running } from "../../lib/local/serve.js";
import { silentLogger } from "../../lib/log.js";
import { sendDigest } from "../../lib/notify/notifier.js";
import { handleQueueMessage } from "../../lib/notify/queue.js";
import { runScheduled } from "../../lib/runs/runner.js";
import { createRuntime, type Runtime } from "../../lib/runtime.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";
import { LocalSource } from "../../lib/sources/local.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();
const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 9, 1);
const hunt = findHunt("windows-logon-by-source-ip")!;
const SECRET = `whsec_${Buffer.from("a".repeat(32)).toString("base64")}`;

/** The same brute force in hours 1 and 2. */
const records = [1, 2].flatMap((hour) =>
  Array.from({ length: 150 }, (_, i) => ({
    TimeGenerated: new Date(T0 + hour * HOUR + i * 1000).toISOString(),
    EventID: 4625,
    LogonType: 3,
    IpAddress: "203.0.113.77",
    TargetUserName: `user${i % 30}`,
    Computer: "SRV-WEB01",
    Status: "0xc000006d",
    SubStatus: "0xc000006a",
  })),
);

/** A request as a browser on another machine would send it (fetch would not let us set Host). */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("alerts a SOC receives (Azurite, local receiver, serve)", () => {
  let runtime: Runtime;
  let receiver: Receiver;
  let running: Running;
  beforeAll(async () => {
    receiver = await startReceiver({ secret: SECRET });
    const storage = await freshStorage(azurite());
    const port = await freePort();
    runtime = await createRuntime(
      {
        AzureWebJobsStorage: azurite().connectionString,
        HUNT_SOURCE: "local",
        LOCAL_DATA_PATHS: "unused",
        NOTIFY_TEAMS_WEBHOOK_URL: `${receiver.url}/teams`,
        NOTIFY_WEBHOOK_URL: `${receiver.url}/webhook`,
        NOTIFY_WEBHOOK_SECRET: SECRET,
        NOTIFY_ALLOW_INSECURE: "true",
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      },
      { storage, source: new LocalSource({ SecurityEvent: tableFromRecords(TABLE_SCHEMAS.SecurityEvent, records) }), log: silentLogger },
    );
    // The test drains the findings queue itself: serve's own worker would race it for the messages.
    running = await serve(runtime, { port, timers: false, queueWorker: false, log: silentLogger });
  }, 60_000);
  afterAll(async () => {
    await running?.stop();
    await receiver?.stop();
  });

  it("one card per incident, delivered once despite duplicate messages handled 8 at a time; Mark benign quiets the next alert", async () => {
    const first = await runScheduled(hunt, runtime.services, T0 + 2 * HOUR + 60_000);
    const alert = first.findings.find((f) => f.alert)!;
    expect(alert.incidentId).toMatch(/^inc-/);

    // A crash during enqueue left copies of the notice: four identical messages in one batch.
    const queue = runtime.storage.queue("findings");
    const [notice] = (await queue.peekMessages({ numberOfMessages: 1 })).peekedMessageItems;
    for (let i = 0; i < 3; i++) await queue.sendMessage(notice.messageText);
    const settings = { ...readQueueSettings(), batchSize: 8 };
    const drained = await drainQueue(queue, runtime.storage.queue("poison"), settings, (m) =>
      handleQueueMessage(runtime.notifier, runtime.storage.queue("poison"), m),
    );
    expect(drained).toEqual({ handled: 4, failed: 0, poisoned: 0 });
    const teams = receiver.received.filter((r) => r.path === "/teams");
    const hooks = receiver.received.filter((r) => r.path === "/webhook");
    expect(teams).toHaveLength(1);
    expect(hooks).toHaveLength(1);
    expect(hooks[0].verified).toBe(true);
    expect(hooks[0].body).toMatchObject({ type: "incident.opened", data: { id: alert.incidentId, hunts: [hunt.id] } });

    // The card's "Mark benign" link opens a form for anyone holding it; a foreign Host is refused.
    const card = JSON.stringify(teams[0].body);
    const benign = /"title":"Mark 203\.0\.113\.77 benign","url":"([^"]+)"/.exec(card)![1];
    expect(benign.startsWith(`${running.url}/api/links/`)).toBe(true);
    const form = await raw(benign);
    expect(form.status).toBe(200);
    expect(form.text).toContain('<form method="post">');
    expect((await raw(benign, { headers: { host: "evil.example:80" } })).status).toBe(421);
    // A forged token is refused.
    expect((await raw(`${benign.slice(0, -3)}xyz`)).status).toBe(403);
    const posted = await raw(benign, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ reason: "our pentest team's scanner", author: "SOC lead", days: "7" }).toString(),
    });
    expect(posted.status).toBe(200);
    expect(posted.text).toContain("will not alert");
    const [exception] = await runtime.services.exceptions.list(Date.now());
    expect(exception).toMatchObject({ huntId: hunt.id, entityType: "ip", pattern: "203.0.113.77", origin: "teams", author: "SOC lead" });

    // The next window: the same entity is kept, excepted, and does not alert or notify.
    const second = await runScheduled(hunt, runtime.services, T0 + 3 * HOUR + 60_000);
    const quiet = second.findings.find((f) => f.entity.key === "203.0.113.77")!;
    expect(quiet).toMatchObject({ alert: false, exceptionId: exception.id });
    expect(quiet.digestOnly).toMatch(/^excepted: our pentest team's scanner \(SOC lead, until /);
    expect((await queue.peekMessages({ numberOfMessages: 8 })).peekedMessageItems).toHaveLength(0);

    // The digest groups the alert under its incident and lists what was excepted, and why.
    const [digest] = await sendDigest(runtime.findings, runtime.notifier, { now: T0 + 4 * HOUR, lookbackMs: 4 * HOUR });
    expect(digest.incidents.map((i) => i.id)).toEqual([alert.incidentId]);
    expect(digest.quiet.map((f) => f.exceptionId)).toEqual([exception.id]);
  });

  it("serve refuses cross-site and oversized requests", async () => {
    const url = `${running.url}/api/hunts/${hunt.id}/run`;
    const textPlain = await raw(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect(textPlain.status).toBe(415);
    const crossSite = await raw(url, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: "{}",
    });
    expect(crossSite.status).toBe(403);
    const rebinding = await raw(`${running.url}/api/graph`, { headers: { host: "attacker.example:7071" } });
    expect(rebinding.status).toBe(421);
    const huge = await raw(`${running.url}/api/kql/validate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "x".repeat(2 * 1024 * 1024) }),
    });
    expect(huge.status).toBe(413);
    expect((await raw(`${running.url}/api/runs/%E0%A4%A`)).status).toBe(400);
  });
});
