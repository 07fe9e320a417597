import { tableFromRecords } from "../../kql/build.js";
import { plainText } from "../../kql/values.js";
import { IGNORED_ACCOUNTS, LOGON_EDGES, PRIVILEGED_ACCOUNTS } from "../../logontracer/kql.js";
import { logonPageRank } from "../../logontracer/pagerank.js";
import { LOGON_GRAPH_RANK_HUNT } from "../../logontracer/hunt-ids.js";
import { defineHunt } from "../schema.js";

export default defineHunt({
  id: LOGON_GRAPH_RANK_HUNT,
  title: "Logon graph rank per account (LogonTracer)",
  description:
    "Builds LogonTracer's bipartite graph of accounts and the hosts they log on to (4624, 4625, 4768, 4769, 4776), marks accounts granted special privileges (4672) as SYSTEM-privileged, and ranks nodes with PageRank using LogonTracer's per-node damping. An account whose rank or number of hosts it logged on to successfully jumps against its own history is moving laterally or being used by someone else; hosts it only failed on are counted apart (FailedOnlyHosts).",
  reference: "JPCERT/CC LogonTracer: graph of 4624/4625/4768/4769/4776 with PageRank",
  mitre: { tactics: ["Lateral Movement", "Credential Access"], techniques: ["T1021", "T1078", "T1550.002"] },
  severity: "high",
  schedule: "0 20 6 * * *",
  lookback: "1d",
  maxLookback: "7d",
  sources: ["local", "log-analytics"],
  tables: ["SecurityEvent"],
  entity: { type: "account", columns: ["Account"] },
  entityMappings: [
    { type: "account", columns: ["Account"] },
    { type: "host", columns: ["Hosts"] },
  ],
  features: [
    { column: "HostCount", direction: "up" },
    { column: "RankScore", direction: "up" },
  ],
  distinct: [{ column: "Hosts", cap: 50 }],
  thresholds: { match: "all", conditions: [{ column: "HostCount", op: ">=", value: "HostThreshold" }] },
  parameters: { HostThreshold: 20, IgnoredAccounts: IGNORED_ACCOUNTS },
  query: `
let Window = SecurityEvent | where TimeGenerated >= HuntStart and TimeGenerated < HuntEnd;
let Privileged = Window
${PRIVILEGED_ACCOUNTS};
Window
${LOGON_EDGES}
| summarize Logons = count(), Failures = countif(EventID == 4625), EventIDs = make_set(EventID), LogonTypes = make_set(LogonType) by Account, Host
| join kind=leftouter (Privileged | extend IsPrivileged = true) on Account
| project Account, Host, Logons, Failures, EventIDs, LogonTypes, IsPrivileged = iff(isnull(IsPrivileged), false, IsPrivileged)
`,
  analyze: (edges) => {
    const col = (name: string) => edges.columns.findIndex((c) => c.name === name);
    const [account, host, logons, failures, privileged] = ["Account", "Host", "Logons", "Failures", "IsPrivileged"].map(col);
    const privilegedAccounts = new Set(edges.rows.filter((r) => r[privileged] === true).map((r) => plainText(r[account])));
    const ranked = logonPageRank(
      edges.rows.map((r) => ({ account: plainText(r[account]), host: plainText(r[host]) })),
      privilegedAccounts,
    );
    const nodes = ranked.length;
    const perAccount = new Map<string, { hosts: string[]; logons: number; failures: number; reached: number }>();
    for (const r of edges.rows) {
      const entry = perAccount.get(plainText(r[account])) ?? { hosts: [], logons: 0, failures: 0, reached: 0 };
      entry.hosts.push(plainText(r[host]));
      entry.logons += Number(r[logons]);
      entry.failures += Number(r[failures]);
      // Lateral movement needs a logon that worked; hosts an account only failed on are scans and guesses (the spray hunts' business).
      if (Number(r[logons]) > Number(r[failures])) entry.reached++;
      perAccount.set(plainText(r[account]), entry);
    }
    const records = ranked
      .filter((n) => n.kind === "account")
      .map((n) => {
        const entry = perAccount.get(n.id)!;
        return {
          Account: n.id,
          // Rank times node count: 1 is an average node, whatever the size of the window's graph.
          RankScore: Number((n.rank * nodes).toFixed(4)),
          HostCount: entry.reached,
          FailedOnlyHosts: n.degree - entry.reached,
          Logons: entry.logons,
          Failures: entry.failures,
          IsPrivileged: n.privileged,
          Hosts: entry.hosts.slice(0, 50),
        };
      });
    return tableFromRecords(
      [
        { name: "Account", type: "string" },
        { name: "RankScore", type: "real" },
        { name: "HostCount", type: "long" },
        { name: "FailedOnlyHosts", type: "long" },
        { name: "Logons", type: "long" },
        { name: "Failures", type: "long" },
        { name: "IsPrivileged", type: "bool" },
        { name: "Hosts", type: "dynamic" },
      ],
      records,
    );
  },
});
