/**
 * LogonTracer's investigation picture as data: accounts and the hosts/IPs they log on to, with
 * PageRank (LogonTracer's damping), SYSTEM-privileged accounts (4672), edges by event ID and
 * logon type with counts, and each account's hourly timeline scored by ChangeFinder. It reads
 * through any query source (local files, Log Analytics, Defender), so the view matches the hunts.
 */
import { z } from "zod";
import { median } from "../baselines/model.js";
import type { BaselineStore } from "../baselines/store.js";
import { windowLets } from "../kql/build.js";
import { toJsonRecords } from "../kql/index.js";
import type { QuerySource } from "../sources/types.js";
import { changeFinderScores, changePointBand } from "./changefinder.js";
import type { GraphEdge, GraphNode, LogonGraph, TimelinePoint } from "./graph-data.js";
import { LOGON_CHANGEPOINT_HUNT, LOGON_GRAPH_RANK_HUNT } from "./hunt-ids.js";
import { HOURLY_LOGONS, IGNORED_ACCOUNTS, LOGON_EDGES, PRIVILEGED_ACCOUNTS } from "./kql.js";
import { logonPageRank } from "./pagerank.js";

export type { GraphEdge, GraphNode, LogonGraph, TimelinePoint } from "./graph-data.js";

const HOUR = 3_600_000;
/** The timelines cover the week before the window's end, as the change-point hunt's context does. */
const TIMELINE_DAYS = 7;

const EDGE_QUERY = `
SecurityEvent
| where TimeGenerated >= HuntStart and TimeGenerated < HuntEnd
${LOGON_EDGES}
| summarize Count = count(), Failures = countif(EventID == 4625) by Account, Host, EventID, LogonType
`;

const PRIVILEGED_QUERY = `
SecurityEvent
| where TimeGenerated >= HuntStart and TimeGenerated < HuntEnd
${PRIVILEGED_ACCOUNTS}
`;

/** The rows each query returns, checked as they arrive: a source that answers otherwise is named in the error. */
const EdgeRow = z.object({
  Account: z.string(),
  Host: z.string(),
  EventID: z.coerce.number(),
  LogonType: z.coerce.number().nullish(),
  Count: z.coerce.number(),
  Failures: z.coerce.number(),
});
const PrivilegedRow = z.object({ Account: z.string().nullish() });
const TimelineRow = z.object({ Account: z.string(), Hour: z.string(), Count: z.coerce.number() });

type Window = { start: number; end: number };

/**
 * The graph's queries are bound the way the hunts bind theirs (HuntStart, HuntEnd, ContextStart
 * and IgnoredAccounts as `let` statements), with a context long enough for the timelines.
 */
function boundQuery(text: string, window: Window): { query: string; timespan: Window } {
  const contextStart = window.end - Math.max(TIMELINE_DAYS * 24 * HOUR, window.end - window.start);
  const lets = windowLets(window, contextStart, { IgnoredAccounts: IGNORED_ACCOUNTS });
  return { query: `${lets}\n${text.trim()}`, timespan: { start: contextStart, end: window.end } };
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/** What the graph shows of the hunts' past findings (the findings store answers this; the graph does not depend on it). */
export interface GraphFinding {
  huntId: string;
  entity: { key: string };
  score: number;
  alert: boolean;
  reasons: string[];
  runId: string;
}

export interface GraphHistory {
  findings: { between(after: number, until: number): Promise<GraphFinding[]> };
  baselines: Pick<BaselineStore, "getBaselines">;
}

/**
 * Builds the graph for a window; `maxNodes` keeps the highest-ranked nodes for very large graphs.
 * With `history`, accounts carry the LogonTracer hunts' findings for the window and their usual
 * host count from the hunt's baselines, so the picture and the alerts tell the same story.
 */
export async function buildLogonGraph(
  source: QuerySource,
  window: Window,
  options: { maxNodes?: number; history?: GraphHistory } = {},
): Promise<LogonGraph> {
  const run = async <T>(text: string, id: string, schema: z.ZodType<T>): Promise<T[]> => {
    const queryId = `graph.${id}`;
    const response = await source.query({ ...boundQuery(text, window), queryId });
    return toJsonRecords(response.table).map((record, index) => {
      const parsed = schema.safeParse(record);
      if (parsed.success) return parsed.data;
      const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
      throw new Error(`${queryId} row ${index + 1} from ${source.name}: ${problems}`);
    });
  };
  const [edgeRows, privilegedRows, timelineRows] = await Promise.all([
    run(EDGE_QUERY, "edges", EdgeRow),
    run(PRIVILEGED_QUERY, "privileged", PrivilegedRow),
    run(HOURLY_LOGONS, "timeline", TimelineRow),
  ]);
  const privileged = new Set(privilegedRows.flatMap((r) => (r.Account ? [r.Account] : [])));

  const pairs = new Map<string, { account: string; host: string }>();
  for (const r of edgeRows) pairs.set(`${r.Account}\u0000${r.Host}`, { account: r.Account, host: r.Host });
  const ranked = logonPageRank([...pairs.values()], privileged);
  const nodeCount = ranked.length || 1;
  const stats = new Map<string, { logons: number; failures: number }>();
  const bump = (id: string, count: number, failures: number) => {
    const s = stats.get(id) ?? { logons: 0, failures: 0 };
    s.logons += count;
    s.failures += failures;
    stats.set(id, s);
  };
  for (const r of edgeRows) {
    bump(`a:${r.Account}`, r.Count, r.Failures);
    bump(`h:${r.Host}`, r.Count, r.Failures);
  }
  let nodes: GraphNode[] = ranked.map((n) => {
    const id = `${n.kind === "account" ? "a" : "h"}:${n.id}`;
    return {
      id,
      label: n.id,
      kind: n.kind === "account" ? "account" : isIp(n.id) ? "ip" : "host",
      privileged: n.privileged,
      rank: Number((n.rank * nodeCount).toFixed(4)),
      degree: n.degree,
      logons: stats.get(id)?.logons ?? 0,
      failures: stats.get(id)?.failures ?? 0,
    };
  });
  const limit = options.maxNodes ?? 5000;
  const truncated = nodes.length > limit;
  if (truncated) nodes = [...nodes].sort((a, b) => b.rank - a.rank).slice(0, limit);
  const kept = new Set(nodes.map((n) => n.id));
  const edges: GraphEdge[] = edgeRows
    .map((r, i) => ({
      id: `e${i}`,
      source: `a:${r.Account}`,
      target: `h:${r.Host}`,
      eventId: r.EventID,
      logonType: r.LogonType ?? null,
      count: r.Count,
      failures: r.Failures,
    }))
    .filter((e) => kept.has(e.source) && kept.has(e.target));

  // Hourly timeline per account over the week before the window's end, scored like the hunt.
  const first = Math.floor((window.end - TIMELINE_DAYS * 24 * HOUR) / HOUR) * HOUR;
  const hours = Math.ceil((window.end - first) / HOUR);
  const series = new Map<string, number[]>();
  for (const r of timelineRows) {
    const values = series.get(r.Account) ?? new Array<number>(hours).fill(0);
    const index = Math.floor((Date.parse(r.Hour) - first) / HOUR);
    if (index >= 0 && index < hours) values[index] += r.Count;
    series.set(r.Account, values);
  }
  const timelines: Record<string, TimelinePoint[]> = {};
  for (const [account, values] of series) {
    if (!kept.has(`a:${account}`)) continue;
    const scores = changeFinderScores(values);
    timelines[account] = values.map((count, i) => ({
      hour: new Date(first + i * HOUR).toISOString(),
      count,
      score: Number(scores[i].toFixed(2)),
      band: changePointBand(scores[i]),
    }));
  }
  if (options.history) await attachHistory(nodes, window, options.history);
  return {
    window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
    source: source.name,
    nodes,
    edges,
    timelines,
    truncated,
  };
}

const LOGONTRACER_HUNTS = new Set([LOGON_GRAPH_RANK_HUNT, LOGON_CHANGEPOINT_HUNT]);

async function attachHistory(nodes: GraphNode[], window: Window, history: GraphHistory): Promise<void> {
  const accounts = nodes.filter((n) => n.kind === "account");
  const findings = (await history.findings.between(window.start, window.end)).filter((f) => LOGONTRACER_HUNTS.has(f.huntId));
  const best = new Map<string, (typeof findings)[number]>();
  for (const f of findings) {
    const current = best.get(f.entity.key);
    if (!current || current.score < f.score) best.set(f.entity.key, f);
  }
  const baselines = await history.baselines.getBaselines(
    LOGON_GRAPH_RANK_HUNT,
    accounts.map((n) => n.label),
  );
  for (const node of accounts) {
    const f = best.get(node.label);
    if (f) node.finding = { huntId: f.huntId, score: f.score, alert: f.alert, reason: f.reasons[0] ?? "", runId: f.runId };
    const hosts = baselines.get(node.label)?.features.HostCount?.history;
    if (hosts?.length) node.usualHosts = median(hosts);
  }
}
