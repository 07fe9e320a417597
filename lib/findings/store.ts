/**
 * Findings kept for digests and for retried runs (table `<prefix>findings`):
 *   PartitionKey `d<yyyymmdd>` (UTC day of the window end)  RowKey `<window end ms>~<fingerprint>`
 * A digest reads the days since the last digest; a retried run reads its own findings back.
 */
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import { deleteWhere, entityBytesAtMost, transactionChunks, type TimeBudget } from "../state/tables.js";
import { submitTransaction } from "../state/transactions.js";
import { FindingSchema, type Finding } from "./finding.js";

function dayPartition(ms: number): string {
  return `d${new Date(ms).toISOString().slice(0, 10).replace(/-/g, "")}`;
}

/** Row keys start with the window end, zero-padded so they sort by time. */
function windowEndPrefix(ms: number): string {
  return String(ms).padStart(15, "0");
}

export class FindingStore {
  constructor(private readonly client: TableClient) {}

  async putAll(findings: readonly Finding[]): Promise<void> {
    const actions = findings.map((f): TransactionAction => {
      const end = Date.parse(f.window.end);
      return [
        "upsert",
        {
          partitionKey: dayPartition(end),
          rowKey: `${windowEndPrefix(end)}~${f.fingerprint}`,
          runId: f.runId,
          huntId: f.huntId,
          score: f.score,
          alert: f.alert,
          json: JSON.stringify(f),
        },
        "Replace",
      ];
    });
    for (const chunk of transactionChunks(
      actions,
      ([, entity]) => entity.partitionKey,
      ([, entity]) => entityBytesAtMost(entity),
    ))
      await submitTransaction(this.client, chunk);
  }

  /** Findings whose window ended in (after, until]. */
  async between(after: number, until: number, filter: { alertsOnly?: boolean } = {}): Promise<Finding[]> {
    const out: Finding[] = [];
    const firstDay = Date.UTC(new Date(after).getUTCFullYear(), new Date(after).getUTCMonth(), new Date(after).getUTCDate());
    for (let day = firstDay; day <= until; day += 86_400_000) {
      const partitionKey = dayPartition(day);
      const query =
        odata`PartitionKey eq ${partitionKey} and RowKey gt ${`${windowEndPrefix(after)}~~`} and RowKey lt ${`${windowEndPrefix(until)}~~`}` +
        (filter.alertsOnly ? " and alert eq true" : "");
      for await (const entity of this.client.listEntities<{ json: string }>({ queryOptions: { filter: query } }))
        out.push(FindingSchema.parse(JSON.parse(entity.json)));
    }
    return out;
  }

  async ofRun(runId: string, windowEnd: number): Promise<Finding[]> {
    const partitionKey = dayPartition(windowEnd);
    const out: Finding[] = [];
    const filter = odata`PartitionKey eq ${partitionKey} and runId eq ${runId}`;
    for await (const entity of this.client.listEntities<{ json: string }>({ queryOptions: { filter } }))
      out.push(FindingSchema.parse(JSON.parse(entity.json)));
    return out.sort((a, b) => b.score - a.score);
  }

  /** Deletes the findings of windows that ended on a UTC day before the one `before` falls on; returns how many. */
  prune(before: number, budget?: TimeBudget): Promise<number> {
    // Nothing writes a finding of a day this old again (runs write their own window's day).
    return deleteWhere(this.client, odata`PartitionKey ge 'd' and PartitionKey lt ${dayPartition(before)}`, {
      mode: "transactions",
      budget,
    });
  }
}
