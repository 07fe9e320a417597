/** A hunt's query is held to the columns its metadata reads: a missing one fails the window with its name. */
import { describe, expect, it } from "vitest";
import { findHunt } from "../../lib/hunts/catalog.js";
import { tableFromRecords } from "../../lib/kql/build.js";
import { requireColumns } from "../../lib/runs/evaluate.js";
import { TABLE_SCHEMAS } from "../../lib/schemas/index.js";

const rare = findHunt("rare-device-connections")!;
/** A result with the columns the hunt's own query returns. */
const result = tableFromRecords(
  [
    ...TABLE_SCHEMAS.DeviceNetworkEvents.filter((c) =>
      ["DeviceName", "InitiatingProcessFileName", "RemoteIP", "RemotePort"].includes(c.name),
    ),
    { name: "Connections", type: "long" },
    { name: "PortWeight", type: "real" },
  ],
  [],
);

describe("the columns a hunt's metadata reads", () => {
  it("are all there for a built-in hunt", () => {
    expect(() => requireColumns(rare, result)).not.toThrow();
  });

  it("a peers column the query does not return is named, as entity, feature and prevalence columns are", () => {
    const hunt = { ...rare, peers: { value: ["InitiatingProcessVersionInfoProductName", "RemotePort"], across: ["DeviceName"] } };
    expect(() => requireColumns(hunt, result)).toThrow(
      "hunt 'rare-device-connections': its query returned no column 'InitiatingProcessVersionInfoProductName' (needed for entities, features, prevalence or peers)",
    );
  });
});
