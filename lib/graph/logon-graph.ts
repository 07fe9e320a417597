/**
 * LogonTracer's investigation picture as data: accounts and the hosts/IPs they log on to, with
 * PageRank (LogonTracer's damping), SYSTEM-privileged accounts (4672), edges by event ID and
 * logon type with counts, and each account's hourly timeline scored by ChangeFinder. It reads
 * through any query source (local files, Log Analytics, Defender), so the view matches the hunts.
 */
import { changeFinderScores, changePointBand } from "../analytics/changefinder.js";
import { logonPageRank } from "../analytics/pagerank.js";
import { composeQuery, contextStart, findHunt } from "../hunts/catalog.js";
import { IGNORED_ACCOUNTS, LOGON_EDGES, PRIVILEGED_ACCOUNTS } from "../hunts/catalog/logontracer-common.js";
import type { Hunt } from "../hunts/schema.js";
import { toJsonRecords } from "../kql/index.js";
import type { QuerySource } from "../sources/types.js";
import type { FindingStore } from "../findings/store.js";
import { median } from "../baselines/model.js";
import type { BaselineStore } from "../baselines/store.js";

const HOUR = 3_600_000;
/** The timelines cover the week before the window's end, as the change-point hunt's context does. */
const TIMELINE_DAYS = 7;

export interface GraphNode {
  id: string;
  label: string;
  kind: "account" | "host" | "ip";
  privileged: boolean;
  rank: number;
  degree: number;
  logons: number;
  failures: number;
  /** The LogonTracer hunts' best finding on this account in the window, if any. */
  finding?: { huntId: string; score: number; alert: boolean; reason: string; runId: string };
  /** The account's usual number of hosts per window, from the logon-graph-rank baseline. */
  usualHosts?: number;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  eventId: number;
  logonType: number | null;
  count: number;
  failures: number;
}

export interface TimelinePoint {
  hour: string;
  count: number;
  score: number;
  band: ReturnType<typeof changePointBand>;
}

export interface LogonGraph {
  window: { start: string; end: string };
  source: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  timelines: Record<string, TimelinePoint[]>;
  truncated: boolean;
}

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

const TIMELINE_QUERY = `
SecurityEvent
| where TimeGenerated >= ContextStart and TimeGenerated < HuntEnd
${LOGON_EDGES}
| summarize Count = count() by Account, Hour = bin(TimeGenerated, 1h)
`;

/** The graph hunt's metadata with another query: the same bound parameters and windows. */
function asQuery(text: string): Hunt {
  const base = findHunt("logon-graph-rank")!;
  return { ...base, query: text, parameters: { IgnoredAccounts: IGNORED_ACCOUNTS }, context: `${TIMELINE_DAYS}d` };
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

export interface GraphHistory {
  findings: FindingStore;
  baselines: BaselineStore;
}

/**
 * Builds the graph for a window; `maxNodes` keeps the highest-ranked nodes for very large graphs.
 * With `history`, accounts carry the LogonTracer hunts' findings for the window and their usual
 * host count from the hunt's baselines, so the picture and the alerts tell the same story.
 */
export async function buildLogonGraph(
  source: QuerySource,
  window: { start: number; end: number },
  options: { maxNodes?: number; history?: GraphHistory } = {},
): Promise<LogonGraph> {
  const run = async (text: string, id: string) => {
    const hunt = asQuery(text);
    const response = await source.query({
      query: composeQuery(hunt, window),
      timespan: { start: contextStart(hunt, window), end: window.end },
      queryId: `graph.${id}`,
    });
    return toJsonRecords(response.table);
  };
  const [edgeRows, privilegedRows, timelineRows] = await Promise.all([
    run(EDGE_QUERY, "edges"),
    run(PRIVILEGED_QUERY, "privileged"),
    run(TIMELINE_QUERY, "timeline"),
  ]);
  const privileged = new Set(privilegedRows.map((r) => String(r.Account)));

  const pairs = new Map<string, { account: string; host: string }>();
  for (const r of edgeRows) pairs.set(`${r.Account}\u0000${r.Host}`, { account: String(r.Account), host: String(r.Host) });
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
    bump(`a:${r.Account}`, Number(r.Count), Number(r.Failures));
    bump(`h:${r.Host}`, Number(r.Count), Number(r.Failures));
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
      eventId: Number(r.EventID),
      logonType: r.LogonType === null || r.LogonType === undefined ? null : Number(r.LogonType),
      count: Number(r.Count),
      failures: Number(r.Failures),
    }))
    .filter((e) => kept.has(e.source) && kept.has(e.target));

  // Hourly timeline per account over the week before the window's end, scored like the hunt.
  const first = Math.floor((window.end - TIMELINE_DAYS * 24 * HOUR) / HOUR) * HOUR;
  const hours = Math.ceil((window.end - first) / HOUR);
  const series = new Map<string, number[]>();
  for (const r of timelineRows) {
    const values = series.get(String(r.Account)) ?? new Array<number>(hours).fill(0);
    const index = Math.floor((Date.parse(String(r.Hour)) - first) / HOUR);
    if (index >= 0 && index < hours) values[index] += Number(r.Count);
    series.set(String(r.Account), values);
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

const LOGONTRACER_HUNTS = new Set(["logon-graph-rank", "logon-changepoint"]);

async function attachHistory(nodes: GraphNode[], window: { start: number; end: number }, history: GraphHistory): Promise<void> {
  const accounts = nodes.filter((n) => n.kind === "account");
  const findings = (await history.findings.between(window.start, window.end)).filter((f) => LOGONTRACER_HUNTS.has(f.huntId));
  const best = new Map<string, (typeof findings)[number]>();
  for (const f of findings) if (!best.has(f.entity.key) || best.get(f.entity.key)!.score < f.score) best.set(f.entity.key, f);
  const baselines = await history.baselines.getBaselines(
    "logon-graph-rank",
    accounts.map((n) => n.label),
  );
  for (const node of accounts) {
    const f = best.get(node.label);
    if (f) node.finding = { huntId: f.huntId, score: f.score, alert: f.alert, reason: f.reasons[0] ?? "", runId: f.runId };
    const hosts = baselines.get(node.label)?.features.HostCount?.history;
    if (hosts?.length) node.usualHosts = median(hosts);
  }
}
