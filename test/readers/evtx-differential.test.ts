import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readEvtxEventChunks, type EvtxWarning, type FlatEvent } from "../../lib/readers/evtx.js";
import { normalizeValue, referenceEvents } from "./evtx-references.js";

const ROOT = new URL("../fixtures/evtx/", import.meta.url).pathname;
const FIXTURES = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    readdirSync(join(ROOT, d.name))
      .filter((f) => f.endsWith(".evtx"))
      .map((f) => join(d.name, f)),
  );

async function readAll(path: string, warnings: EvtxWarning[] = []): Promise<FlatEvent[]> {
  const out: FlatEvent[] = [];
  for await (const events of readEvtxEventChunks(path, { onWarning: (w) => warnings.push(w) })) out.push(...events);
  return out;
}

/** Every payload value we hold, in each form a reference may print it. */
function ourValues(event: FlatEvent): Set<string> {
  const out = new Set<string>();
  const add = (v: string | string[] | null) => {
    if (v === null) return;
    if (Array.isArray(v)) {
      v.forEach(add);
      return;
    }
    out.add(normalizeValue(v));
    // Windows renders a pointer (SizeT) in hex; both references print it in decimal.
    if (/^0x[0-9a-f]+$/.test(v)) out.add(BigInt(v).toString());
  };
  Object.values(event.data).forEach(add);
  event.unnamed.forEach(add);
  add(event.binary);
  Object.values(event.userData).forEach(add);
  return out;
}

describe("EVTX reader against python-evtx and libevtx on real files", () => {
  it("has the fixture set", () => {
    expect(FIXTURES.length).toBe(15);
  });

  for (const fixture of FIXTURES) {
    it(`${fixture}: every record a reference reads is read, with its System fields (Execution and Security too) and payload`, async () => {
      const path = join(ROOT, fixture);
      const events = await readAll(path);
      const references = referenceEvents(path);
      const ours = new Map<number, FlatEvent[]>();
      for (const event of events) ours.set(event.EventRecordID, [...(ours.get(event.EventRecordID) ?? []), event]);
      const missing: number[] = [];
      const mismatched: string[] = [];
      for (const reference of references) {
        const candidates = ours.get(reference.eventRecordId) ?? [];
        if (!candidates.length) {
          missing.push(reference.eventRecordId);
          continue;
        }
        const match = candidates.find(
          (e) =>
            e.EventID === reference.eventId &&
            e.Computer === reference.computer &&
            e.Channel === reference.channel &&
            (reference.processId === undefined || e.ProcessID === Number(reference.processId)) &&
            (reference.threadId === undefined || e.ThreadID === Number(reference.threadId)) &&
            e.UserID === (reference.userId ?? "") &&
            reference.values.every((v) => ourValues(e).has(v) || v.split("\n").every((line) => ourValues(e).has(normalizeValue(line)))),
        );
        if (!match)
          mismatched.push(`${reference.source} record ${reference.eventRecordId}: ${JSON.stringify(reference.values).slice(0, 200)}`);
      }
      expect(missing).toEqual([]);
      // Where the references disagree (python-evtx misreads some string arrays), the other must match.
      const byRecord = new Map<number, number>();
      for (const m of mismatched)
        byRecord.set(Number(/record (\d+)/.exec(m)![1]), (byRecord.get(Number(/record (\d+)/.exec(m)![1])) ?? 0) + 1);
      const sources = new Map<number, number>();
      for (const r of references) sources.set(r.eventRecordId, (sources.get(r.eventRecordId) ?? 0) + 1);
      expect([...byRecord].filter(([id, n]) => n >= (sources.get(id) ?? 0))).toEqual([]);
      if (references.length === 0) expect(events.length).toBeGreaterThan(0);
    });
  }

  it("MSExchange_Management_wec.evtx (no dependency identifiers; neither reference reads it): the Rust crate's snapshot of its first record", async () => {
    const path = join(ROOT, "rust-evtx/MSExchange_Management_wec.evtx");
    const [first] = await readAll(path);
    const snapshot = readFileSync(path.replace(/\.evtx$/, ".rust-evtx-first-record.xml"), "utf8");
    const data = [...snapshot.matchAll(/<Data>([\s\S]*?)<\/Data>/g)].map((m) => m[1].trim() || null);
    expect(first.unnamed).toEqual(data);
    expect(first.TimeCreated).toBe("2021-11-19T16:52:33.8337335Z"); // forwarded: the snapshot's 833733500 ns, to the tick
    expect([first.EventID, first.Channel, first.Computer, first.EventRecordID]).toEqual([
      1,
      "MSExchange Management",
      "WEC.ave.local",
      3229,
    ]);
  });

  it("plaso/System2.evtx (a copy cut at 200,000 bytes; its header counts 96 chunks): the cut chunk's whole records read, every loss counted", async () => {
    const path = join(ROOT, "plaso/System2.evtx");
    const warnings: EvtxWarning[] = [];
    const events = await readAll(path, warnings);
    const referenceIds = new Set(referenceEvents(path).map((r) => r.eventRecordId));
    // Neither reference reads the third chunk, which the cut leaves 704 bytes short: its whole records are kept.
    const beyond = events.filter((e) => !referenceIds.has(e.EventRecordID)).map((e) => e.EventRecordID);
    expect(beyond).toEqual(Array.from({ length: 89 }, (_, i) => 195 + i));
    expect(events.length).toBe(283);
    // The header's next record id is 10,549 and the three chunks read hold records 1-284: the 93 chunks past the cut held 10,264.
    expect(warnings.map((w) => [w.chunk, w.recordsLost, w.message])).toEqual([
      [2, 1, expect.stringMatching(/^truncated chunk \(64832 of 65536 bytes\); .*1 of 90 records lost, 89 records kept$/)],
      [3, 10264, "file ends before 93 chunks of the 96 its header counts; 10264 records lost"],
    ]);
  });
});
