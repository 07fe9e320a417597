import { describe, expect, it } from "vitest";
import { parseDatetime } from "../../lib/kql/values.js";
import { TableBuilder } from "../../lib/readers/table-builder.js";

/** The value a SecurityEvent column gets for `raw`, or the issue that kept the row out. */
function loaded(column: string, raw: unknown): { value: unknown } | { issue: string } {
  const builder = new TableBuilder();
  if (!builder.add("SecurityEvent", { [column]: raw }, "test", 1)) return { issue: builder.issues[0].message };
  const table = builder.build().SecurityEvent;
  return { value: table.rows[0][table.columns.findIndex((c) => c.name === column)] };
}

describe("table building", () => {
  it("reads datetime text to the tick exactly as parseDatetime does, impossible dates and times included", () => {
    const texts = [
      "2019-03-19T23:34:25.9102340Z",
      "1601-01-01T00:00:00.0000000Z",
      "0050-06-15T12:00:00.0000001Z",
      "9999-12-31T23:59:59.9999999Z",
      "2024-02-29T10:00:00.5000000Z",
      "2023-02-29T10:00:00.5000000Z",
      "2023-04-31T00:00:00.0000000Z",
      "2023-13-01T00:00:00.0000000Z",
      "2023-00-10T00:00:00.0000000Z",
      "2023-01-00T00:00:00.0000000Z",
      "2023-01-01T24:00:00.0000000Z",
      "2023-01-01T23:60:00.0000000Z",
      "2023-01-01T23:59:60.0000000Z",
      "2023-01-01 23:59:59.1234567Z",
      "2023-01-01T23:59:59.123Z",
    ];
    for (const text of texts) {
      const ticks = parseDatetime(text);
      expect(loaded("TimeGenerated", text), text).toEqual(
        ticks === null ? { issue: expect.stringMatching(/TimeGenerated/) as unknown } : { value: ticks },
      );
    }
    // Rows of the same day one after another: the day worked out once must not leak into the next.
    expect(loaded("TimeGenerated", "2023-03-01T00:00:01.0000000Z")).toEqual({ value: parseDatetime("2023-03-01T00:00:01.0000000Z") });
    expect(loaded("TimeGenerated", "2023-03-02T00:00:01.0000000Z")).toEqual({ value: parseDatetime("2023-03-02T00:00:01.0000000Z") });
  });

  it("takes the export artefacts for no value, however they are padded, and keeps text that only looks like them", () => {
    for (const marker of ["#N/A", " #N/A", "\u00a0#VALUE!\t", "#NAME?"]) expect(loaded("Account", marker), marker).toEqual({ value: "" });
    for (const text of ["#N/A!", "N/A", "a #N/A", "#"]) expect(loaded("Account", text), text).toEqual({ value: text });
    expect(loaded("TimeGenerated", " #REF! ")).toEqual({ value: null });
  });
});
