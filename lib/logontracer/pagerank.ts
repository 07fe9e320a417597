/**
 * PageRank over LogonTracer's account/host logon graph, with LogonTracer's per-node damping:
 * SYSTEM-privileged accounts (seen in 4672) 0.6, other accounts 0.85, hosts and IPs 0.8.
 *
 * The graph is bipartite and treated as undirected (a logon links an account and a host both
 * ways), so an account's rank grows with the number and the reach of the hosts it touches.
 * Each node keeps (1 - d) / N as its teleport share; rank flowing out of a node is split evenly
 * over its neighbours; iteration stops when the L1 change falls under `tolerance`.
 */
export interface LogonEdge {
  account: string;
  host: string;
}

export interface RankedNode {
  id: string;
  kind: "account" | "host";
  rank: number;
  degree: number;
  privileged: boolean;
}

export const DAMPING = { privileged: 0.6, account: 0.85, host: 0.8 } as const;

export function logonPageRank(
  edges: readonly LogonEdge[],
  privilegedAccounts: ReadonlySet<string>,
  options: { iterations?: number; tolerance?: number } = {},
): RankedNode[] {
  const iterations = options.iterations ?? 100;
  const tolerance = options.tolerance ?? 1e-10;
  const ids = new Map<string, number>();
  const kinds: ("account" | "host")[] = [];
  const names: string[] = [];
  const node = (kind: "account" | "host", name: string) => {
    const key = `${kind}:${name}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = names.length;
      ids.set(key, id);
      names.push(name);
      kinds.push(kind);
    }
    return id;
  };
  const neighbours: Set<number>[] = [];
  for (const edge of edges) {
    const a = node("account", edge.account);
    const h = node("host", edge.host);
    (neighbours[a] ??= new Set()).add(h);
    (neighbours[h] ??= new Set()).add(a);
  }
  const n = names.length;
  if (n === 0) return [];
  const damping = names.map((name, i) =>
    kinds[i] === "host" ? DAMPING.host : privilegedAccounts.has(name) ? DAMPING.privileged : DAMPING.account,
  );
  const adjacency = neighbours.map((set) => [...set]);
  let rank = new Float64Array(n).fill(1 / n);
  for (let iteration = 0; iteration < iterations; iteration++) {
    const next = new Float64Array(n);
    for (let v = 0; v < n; v++) next[v] = (1 - damping[v]) / n;
    for (let u = 0; u < n; u++) {
      const out = adjacency[u];
      const share = rank[u] / out.length;
      for (const v of out) next[v] += damping[v] * share;
    }
    // Normalise: per-node damping leaks rank; keep the total at 1.
    let total = 0;
    for (let v = 0; v < n; v++) total += next[v];
    let delta = 0;
    for (let v = 0; v < n; v++) {
      next[v] /= total;
      delta += Math.abs(next[v] - rank[v]);
    }
    rank = next;
    if (delta < tolerance) break;
  }
  return names.map((id, i) => ({
    id,
    kind: kinds[i],
    rank: rank[i],
    degree: adjacency[i].length,
    privileged: kinds[i] === "account" && privilegedAccounts.has(id),
  }));
}
