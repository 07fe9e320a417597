import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseDatetime } from "../../lib/kql/values.js";
import type { EvtxElement } from "../../lib/readers/evtx-binxml.js";
import { flattenEvent, readEvtxEventChunks, type EvtxWarning, type FlatEvent } from "../../lib/readers/evtx.js";
import { dataset } from "../fixtures.js";

const DIR = dataset("evtx-attack-samples/");
const SAMPLES = readdirSync(DIR).filter((f) => f.endsWith(".evtx"));

async function readAll(path: string, warnings: EvtxWarning[] = []): Promise<FlatEvent[]> {
  const out: FlatEvent[] = [];
  for await (const events of readEvtxEventChunks(path, { onWarning: (w) => warnings.push(w) })) out.push(...events);
  return out;
}

describe("EVTX reader against the python-evtx reference output", () => {
  it("covers every sample", () => {
    expect(SAMPLES.length).toBe(9);
  });

  for (const file of SAMPLES) {
    it(`${file}: same events, EventIDs, times and EventData`, async () => {
      const expected = readFileSync(join(DIR, file.replace(/\.evtx$/, ".jsonl")), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const events = await readAll(join(DIR, file));
      expect(events.length).toBe(expected.length);
      events.forEach((event, i) => {
        const reference = expected[i];
        expect(event.EventID).toBe(reference.EventID);
        expect(event.Computer).toBe(reference.Computer);
        expect(event.Channel).toBe(reference.Channel);
        // The reference converts FILETIME through floating-point seconds, which is only good to
        // about 2 microseconds at these dates; our value is exact to the 100 ns tick.
        expect(event.TimeCreated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
        expect(Math.abs(parseDatetime(event.TimeCreated)! - parseDatetime(String(reference.TimeCreated))!)).toBeLessThan(50); // ticks: 5 µs
        const referenceData = Object.fromEntries(
          Object.entries(reference).filter(([k]) => !["EventID", "TimeCreated", "Computer", "Channel"].includes(k)),
        );
        // Booleans: Windows writes true/false, python-evtx Python's True/False. Hex: Windows and Sentinel
        // write 0x3e7, python-evtx pads to the type's width. GUIDs: Windows writes upper case.
        const normalize = (v: unknown) =>
          typeof v !== "string"
            ? v
            : /^(true|false)$/i.test(v)
              ? v.toLowerCase()
              : /^0x[0-9a-f]+$/i.test(v)
                ? `0x${BigInt(v).toString(16)}`
                : /^\{[0-9a-f-]{36}\}$/i.test(v)
                  ? v.toUpperCase()
                  : v;
        expect(Object.fromEntries(Object.entries(event.data).map(([k, v]) => [k, normalize(v)]))).toEqual(
          Object.fromEntries(Object.entries(referenceData).map(([k, v]) => [k, normalize(v)])),
        );
      });
    });
  }
});

describe("EVTX reader on damaged files", () => {
  const source = join(DIR, "DE_RDP_Tunneling_4624.evtx");
  const work = mkdtempSync(join(tmpdir(), "evtx-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("loses only the records a corrupted chunk cannot decode, says how many, and keeps the other chunks", async () => {
    // Two copies of the one chunk, the second one corrupted inside the template its records share.
    const original = readFileSync(source);
    const chunk = original.subarray(4096, 4096 + 65536);
    const damaged = Buffer.from(chunk);
    damaged.fill(0x41, 2000, 2100);
    const path = join(work, "two-chunks.evtx");
    writeFileSync(path, Buffer.concat([original.subarray(0, 4096), chunk, damaged]));
    const warnings: EvtxWarning[] = [];
    const events = await readAll(path, warnings);
    expect(events.length).toBe(18);
    expect(warnings).toEqual([
      {
        chunk: 1,
        offset: 4096 + 65536,
        recordsLost: 18,
        message: expect.stringMatching(
          /^records 1-18 not decodable: template .* runs past the chunk; .*18 of 18 records lost, 0 records kept$/,
        ) as unknown,
      },
    ]);
  });

  it("reads the complete records of a truncated last chunk and counts the ones cut off", async () => {
    const original = readFileSync(source);
    const path = join(work, "truncated.evtx");
    writeFileSync(path, Buffer.concat([original, original.subarray(4096, 4096 + 30000)]));
    const warnings: EvtxWarning[] = [];
    const events = await readAll(path, warnings);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].chunk).toBe(1);
    expect(warnings[0].message).toMatch(/^truncated chunk \(30000 of 65536 bytes\)/);
    const kept = events.length - 18;
    expect(kept).toBeGreaterThan(0);
    expect(warnings[0].recordsLost).toBe(18 - kept);
    expect(warnings[0].message).toContain(`${18 - kept} of 18 records lost, ${kept} records kept`);
  });

  it("refuses a file that is not EVTX", async () => {
    const path = join(work, "not.evtx");
    copyFileSync(join(DIR, "DE_RDP_Tunneling_4624.jsonl"), path);
    await expect(readAll(path)).rejects.toThrow(/not an EVTX file/);
  });
});

describe("EVTX flattening of UserData", () => {
  /** A CAPI2-shaped event (its 53 and 11 repeat element names under UserData), as an element tree. */
  const element = (name: string, children: EvtxElement["children"], attributes: Record<string, string> = {}): EvtxElement => ({
    name,
    attributes,
    children,
  });
  const system = element("System", [
    element("Provider", [], { Name: "Microsoft-Windows-CAPI2" }),
    element("EventID", ["53"]),
    element("TimeCreated", [], { SystemTime: "2017-05-18T11:37:58.1234567Z" }),
    element("EventRecordID", ["5"]),
    element("Channel", ["Microsoft-Windows-CAPI2/Operational"]),
    element("Computer", ["WS-1"]),
  ]);

  it("a repeated leaf name keeps every value in order; one never given a value stays null", () => {
    const root = element("Event", [
      system,
      element("UserData", [
        element("RetrieveObjectFromNetwork", [
          element("Header", ["GET /pki/crl/products/CSPCA.crl HTTP/1.1"]),
          element("Header", ["Accept: */*"]),
          element("Header", [""]),
          element("Header", ["Connection: Keep-Alive"]),
          element("Certificate", [], { fileRef: "A.cer" }),
          element("Certificate", [], { fileRef: "B.cer" }),
          element("Note", []),
          element("Note", []),
          element("Note", ["signed"]),
          element("Result", ["0"]),
        ]),
      ]),
    ]);
    const event = flattenEvent({ recordId: 5, written: "2017-05-18T11:37:58.1234567Z", root });
    expect(event.userData).toEqual({
      Header: ["GET /pki/crl/products/CSPCA.crl HTTP/1.1", "Accept: */*", "", "Connection: Keep-Alive"],
      Certificate: null,
      Note: ["", "", "signed"],
      Result: "0",
    });
  });
});
