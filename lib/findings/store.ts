/**
 * Findings kept for digests and for retried runs (table `<prefix>findings`):
 *   PartitionKey `d<yyyymmdd>` (UTC day of the window end)  RowKey `<window end ms>~<fingerprint>`
 * A digest reads the days since the last digest; a retried run reads its own findings back.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { FindingSchema, type Finding } from "./index.js";

function dayPartition(ms: number): string {
  return `d${new Date(ms).toISOString().slice(0, 10).replace(/-/g, "")}`;
}

export class FindingStore {
  constructor(private readonly client: TableClient) {}

  async putAll(findings: readonly Finding[]): Promise<void> {
    const byPartition = new Map<string, TransactionAction[]>();
    for (const f of findings) {
      const end = Date.parse(f.window.end);
      const partitionKey = dayPartition(end);
      const action: TransactionAction = [
        "upsert",
        { partitionKey, rowKey: `${String(end).padStart(15, "0")}~${f.fingerprint}`, runId: f.runId, huntId: f.huntId, score: f.score, alert: f.alert, json: JSON.stringify(f) },
        "Replace",
      ];
      (byPartition.get(partitionKey) ?? byPartition.set(partitionKey, []).get(partitionKey)!).push(action);
    }
    for (const actions of byPartition.values()) {
      for (let i = 0; i < actions.length; i += 100) await this.client.submitTransaction(actions.slice(i, i + 100));
    }
  }

  /** Findings whose window ended in (after, until]. */
  async between(after: number, until: number, filter: { alertsOnly?: boolean } = {}): Promise<Finding[]> {
    const out: Finding[] = [];
    const firstDay = Date.UTC(new Date(after).getUTCFullYear(), new Date(after).getUTCMonth(), new Date(after).getUTCDate());
    for (let day = firstDay; day <= until; day += 86_400_000) {
      const partitionKey = dayPartition(day);
      const query = `PartitionKey eq '${partitionKey}' and RowKey gt '${String(after).padStart(15, "0")}~~' and RowKey lt '${String(until).padStart(15, "0")}~~'${filter.alertsOnly ? " and alert eq true" : ""}`;
      for await (const entity of this.client.listEntities<{ json: string }>({ queryOptions: { filter: query } })) out.push(FindingSchema.parse(JSON.parse(entity.json)));
    }
    return out;
  }

  async ofRun(runId: string, windowEnd: number): Promise<Finding[]> {
    const partitionKey = dayPartition(windowEnd);
    const out: Finding[] = [];
    const filter = `PartitionKey eq '${partitionKey}' and runId eq '${runId.replace(/'/g, "''")}'`;
    for await (const entity of this.client.listEntities<{ json: string }>({ queryOptions: { filter } })) out.push(FindingSchema.parse(JSON.parse(entity.json)));
    return out.sort((a, b) => b.score - a.score);
  }
}
