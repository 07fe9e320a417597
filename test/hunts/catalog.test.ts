import { describe, expect, it } from "vitest";
import { composeQuery, huntCatalog, HuntDefinitionError, loadHunt, scheduleSettingName, validateHunt } from "../../lib/hunts/catalog.js";
import { nextOccurrence } from "../../lib/hunts/schedule.js";
import type { HuntDefinition } from "../../lib/hunts/schema.js";
import windowsLogon from "../../lib/hunts/catalog/windows-logon-by-source-ip.js";

describe("hunt catalog", () => {
  it("holds the seed hunts", () => {
    expect(huntCatalog().map((h) => h.id)).toEqual([
      "windows-logon-by-source-ip",
      "password-spray-by-source",
      "failed-signins-with-audit",
      "rare-device-connections",
      "logon-graph-rank",
      "logon-changepoint",
    ]);
  });

  for (const hunt of huntCatalog()) {
    it(`${hunt.id}: its KQL passes the official parser against the table schemas`, () => {
      expect(validateHunt(hunt)).toEqual([]);
    });
  }

  it("names schedule settings HUNT_<ID>_SCHEDULE", () => {
    expect(scheduleSettingName("windows-logon-by-source-ip")).toBe("HUNT_WINDOWS_LOGON_BY_SOURCE_IP_SCHEDULE");
  });

  it("binds the window and parameters as let statements in front of the hunt's KQL", () => {
    const hunt = huntCatalog()[0];
    const text = composeQuery(hunt, { start: Date.UTC(2024, 9, 20, 10), end: Date.UTC(2024, 9, 20, 11) }, { FailedThreshold: 5 });
    expect(text).toContain("let HuntStart = datetime(2024-10-20T10:00:00.0000000Z);");
    expect(text).toContain("let HuntEnd = datetime(2024-10-20T11:00:00.0000000Z);");
    expect(text).toContain("let FailedThreshold = 5;");
    expect(text).toContain('let NoisyStatuses = dynamic(["0xC000015B","0xC000005E","0xC0000133","0xC0000192"]);');
  });

  it("computes the next run of a six-field NCRONTAB schedule", () => {
    expect(nextOccurrence("0 15 6 * * *", new Date("2024-10-20T07:00:00Z")).toISOString()).toBe("2024-10-21T06:15:00.000Z");
  });

  const broken = (patch: Partial<HuntDefinition>) => () => loadHunt({ ...windowsLogon, ...patch });

  it("rejects bad metadata with the field and the problem", () => {
    expect(broken({ id: "Bad Id" })).toThrow(/id: id must be kebab-case/);
    expect(broken({ schedule: "0 * * * *" })).toThrow(/schedule: invalid NCRONTAB schedule: '0 \* \* \* \*' has 5 fields/);
    expect(broken({ mitre: { tactics: ["Credential Access"], techniques: ["1110"] } })).toThrow(
      /mitre.techniques.0: MITRE technique ids look like T1110/,
    );
    expect(broken({ lookback: "soon" })).toThrow(/lookback: expected a timespan/);
    expect(broken({ maxLookback: "10m" })).toThrow(HuntDefinitionError);
    expect(broken({ thresholds: { match: "all", conditions: [{ column: "FailedCount", op: ">=", value: "NoSuchParameter" }] } })).toThrow(
      /refers to 'NoSuchParameter', which is not a numeric parameter/,
    );
    const either = (...anyOf: unknown[]) =>
      broken({ thresholds: { match: "all", conditions: [{ anyOf }] } as HuntDefinition["thresholds"] });
    expect(either({ column: "FailedCount", op: ">=", value: 1 })).toThrow(/thresholds.conditions.0.anyOf: Too small/);
    // A plain threshold with a bad operator: its own field is named, not the group it is not.
    expect(broken({ thresholds: { match: "all", conditions: [{ column: "FailedCount", op: ">>" as ">=", value: 1 }] } })).toThrow(
      /thresholds.conditions.0.op: Invalid option: expected one of/,
    );
    // A value that fits neither a threshold nor an either-of group: the problem is named inside the group.
    expect(either({ column: "FailedCount", op: ">=", value: 1 }, { column: "UserCount", op: "=>", value: 1 })).toThrow(
      /thresholds.conditions.0.anyOf.1.op: Invalid option/,
    );
    expect(either({ column: "FailedCount", op: ">=", value: 1 }, { column: "UserCount", op: ">=", value: "NoSuchParameter" })).toThrow(
      /threshold on UserCount refers to 'NoSuchParameter'/,
    );
  });
});
