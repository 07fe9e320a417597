import { describe, expect, it } from "vitest";
import { entitiesOf, normalizeEntity } from "../../lib/hunts/entities.js";
import { addToIncident, IncidentStore } from "../../lib/incidents/store.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";
import { finding } from "../helpers/findings.js";

const azurite = useAzurite();
const HOUR = 3_600_000;
const T = Date.parse("2024-10-20T03:00:00.000Z");

function alert(
  fingerprint: string,
  huntId: string,
  score: number,
  entities: { type: "ip" | "account" | "host"; value: string }[],
  end = T,
) {
  return finding({
    fingerprint: fingerprint.padEnd(20, "0"),
    huntId,
    huntTitle: huntId,
    runId: `${huntId}.run`,
    score,
    entity: { type: entities[0].type, key: entities[0].value, values: {} },
    entities,
    window: { start: new Date(end - HOUR).toISOString(), end: new Date(end).toISOString() },
  });
}

describe("entities", () => {
  it("one normal form per entity, so different tables meet", () => {
    expect(["CONTOSO\\Alice", "alice@contoso.com", "ALICE"].map((a) => normalizeEntity("account", a))).toEqual(["alice", "alice", "alice"]);
    expect(normalizeEntity("host", "WS-12.contoso.com")).toBe("ws-12");
    expect(normalizeEntity("ip", "::ffff:203.0.113.5")).toBe("203.0.113.5");
    // Not entities: machine and system accounts, loopback, a host that is an address or a process line.
    expect([normalizeEntity("account", "WS-12$"), normalizeEntity("account", "SYSTEM"), normalizeEntity("ip", "127.0.0.1")]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect([normalizeEntity("host", "10.0.0.5"), normalizeEntity("host", "ws-1 C:\\tools\\spray.exe")]).toEqual([undefined, undefined]);
    // A name without a first label is no host; asked again (the answers are remembered), the same answers.
    for (let round = 0; round < 2; round++)
      expect([normalizeEntity("host", ".contoso.com"), normalizeEntity("ip", " 203.0.113.9 "), normalizeEntity("ip", "not-an-ip")]).toEqual(
        [undefined, "203.0.113.9", undefined],
      );
    expect(
      entitiesOf(
        [
          { type: "ip", columns: ["IpAddress"] },
          { type: "account", columns: ["Users"] },
        ],
        { IpAddress: "203.0.113.9", Users: ["bob", "CONTOSO\\bob", "carol"] },
      ),
    ).toEqual([
      { type: "ip", value: "203.0.113.9" },
      { type: "account", value: "bob" },
      { type: "account", value: "carol" },
    ]);
  });
});

describe("incident size", () => {
  it("an incident with many long findings still fits a Table Storage property; its counts stay whole", () => {
    const many = Array.from({ length: 80 }, (_, i) =>
      finding({
        fingerprint: `big${String(i).padStart(17, "0")}`,
        score: 50 + (i % 50),
        entity: { type: "device-connection", key: `ws-${i}|${"x".repeat(400)}`, values: {} },
        entities: Array.from({ length: 60 }, (_, k) => ({ type: "account" as const, value: `user-${i}-${k}-${"y".repeat(30)}` })),
        reasons: [`reason ${"z".repeat(2000)}`],
      }),
    );
    const { incident } = addToIncident(undefined, "inc-big", many, "run", T);
    expect(JSON.stringify(incident).length).toBeLessThanOrEqual(30_000);
    expect(incident.findingCount).toBe(80);
    expect(incident.findings[0].score).toBe(99);
  });
});

describe("incidents (Azurite)", () => {
  it("a brute force and the change points of its victims are one incident; later alerts follow up only when they raise it", async () => {
    const storage = await freshStorage(azurite());
    const incidents = new IncidentStore(storage.table("incidents"));
    const source = alert("spray", "password-spray-by-source", 79, [
      { type: "ip", value: "203.0.113.9" },
      ...["alice", "bob", "carol"].map((value) => ({ type: "account" as const, value })),
    ]);
    const opened = await incidents.assign([source], "run-1", T);
    expect(opened.notices).toEqual([{ incidentId: opened.alerts[0].incidentId, kind: "opened", runId: "run-1" }]);
    const id = opened.alerts[0].incidentId!;

    // Hours later another hunt alerts on two of the victims: same incident, one follow-up (a new hunt).
    const victims = ["alice", "bob"].map((v, i) => alert(`cp${i}`, "logon-changepoint", 60, [{ type: "account", value: v }], T + 5 * HOUR));
    const joined = await incidents.assign(victims, "run-2", T + 5 * HOUR);
    expect(joined.alerts.map((f) => f.incidentId)).toEqual([id, id]);
    expect(joined.notices).toEqual([{ incidentId: id, kind: "updated", runId: "run-2" }]);

    // A third victim, same hunt, lower score: joins, but no follow-up (digest only).
    const quiet = await incidents.assign(
      [alert("cp2", "logon-changepoint", 55, [{ type: "account", value: "carol" }], T + 6 * HOUR)],
      "run-3",
      T + 6 * HOUR,
    );
    expect(quiet.alerts[0].incidentId).toBe(id);
    expect(quiet.notices).toEqual([]);

    // A retried run changes nothing and repeats its notice (the notifier sends it once).
    const retried = await incidents.assign(victims, "run-2", T + 7 * HOUR);
    expect(retried.notices).toEqual([{ incidentId: id, kind: "updated", runId: "run-2" }]);

    const incident = (await incidents.get(id))!;
    expect(incident.findingCount).toBe(4);
    expect(incident.hunts).toEqual(["password-spray-by-source", "logon-changepoint"]);
    expect(incident.score).toBe(79);
    expect(incident.shared.map((e) => e.value).sort()).toEqual(["alice", "bob", "carol"]);

    // Outside the incident window, the same entity opens a new incident.
    const later = await incidents.assign(
      [alert("late", "logon-changepoint", 70, [{ type: "account", value: "alice" }], T + 40 * HOUR)],
      "run-4",
      T + 40 * HOUR,
    );
    expect(later.alerts[0].incidentId).not.toBe(id);
    expect(later.notices[0].kind).toBe("opened");
  });

  it("an alert that comes late (a hunt catching up) joins only an incident whose span it falls in", async () => {
    const storage = await freshStorage(azurite());
    const incidents = new IncidentStore(storage.table("incidents"));
    const host = [{ type: "host" as const, value: "srv-db-2" }];
    const DAY = 24 * HOUR;
    const today = await incidents.assign([alert("today", "logon-graph-rank", 80, host, T)], "r1", T);
    // Another hunt catching up reports the same host ten days back: not part of today's incident.
    const past = await incidents.assign([alert("past", "logon-changepoint", 75, host, T - 10 * DAY)], "r2", T);
    // Within today's span, even a little earlier than its last alert: it joins.
    const near = await incidents.assign([alert("near", "rare-device-connections", 70, host, T - 2 * HOUR)], "r3", T);
    const later = await incidents.assign([alert("later", "rare-device-connections", 72, host, T + 5 * HOUR)], "r4", T + 5 * HOUR);
    const id = today.alerts[0].incidentId;
    expect(past.alerts[0].incidentId).not.toBe(id);
    expect([near.alerts[0].incidentId, later.alerts[0].incidentId]).toEqual([id, id]);
  });

  it("an alert naming many entities: each points at its incident, and a later alert on any one of them joins it", async () => {
    const storage = await freshStorage(azurite());
    const incidents = new IncidentStore(storage.table("incidents"));
    // More than one query's worth of entities (14) and more than one transaction's (100).
    const accounts = Array.from({ length: 130 }, (_, i) => ({ type: "account" as const, value: `user${String(i).padStart(3, "0")}` }));
    const spray = await incidents.assign(
      [alert("wide", "password-spray-by-source", 80, [{ type: "ip", value: "203.0.113.77" }, ...accounts])],
      "r1",
      T,
    );
    const id = spray.alerts[0].incidentId;
    for (const account of [accounts[0], accounts[13], accounts[14], accounts[99], accounts[100], accounts[129]]) {
      const later = await incidents.assign([alert(`late-${account.value}`, "logon-changepoint", 60, [account], T + HOUR)], "r2", T + HOUR);
      expect([account.value, later.alerts[0].incidentId]).toEqual([account.value, id]);
    }
    const stranger = await incidents.assign(
      [alert("other", "logon-changepoint", 60, [{ type: "account", value: "user130" }], T + HOUR)],
      "r3",
      T,
    );
    expect(stranger.alerts[0].incidentId).not.toBe(id);
  });

  it("alerts of one window that share nothing are separate incidents; every alert belongs to exactly one", async () => {
    const storage = await freshStorage(azurite());
    const incidents = new IncidentStore(storage.table("incidents"));
    const alerts = [
      alert("a", "h", 70, [{ type: "ip", value: "198.51.100.1" }]),
      alert("b", "h", 70, [{ type: "ip", value: "198.51.100.2" }]),
      alert("c", "h", 70, [
        { type: "ip", value: "198.51.100.2" },
        { type: "host", value: "srv1" },
      ]),
    ];
    const { alerts: assigned, notices } = await incidents.assign(alerts, "run", T);
    expect(assigned.every((f) => f.incidentId)).toBe(true);
    expect(new Set(assigned.map((f) => f.incidentId)).size).toBe(2);
    expect(assigned[1].incidentId).toBe(assigned[2].incidentId);
    expect(notices).toHaveLength(2);
  });
});
