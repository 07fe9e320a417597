import { tableFromRecords } from "../../kql/build.js";
import { datetimeFromMs, datetimeToMs, formatDatetime, plainText } from "../../kql/values.js";
import { changeFinderScores, changePointBand } from "../../logontracer/changefinder.js";
import { HOURLY_LOGONS, IGNORED_ACCOUNTS } from "../../logontracer/kql.js";
import { LOGON_CHANGEPOINT_HUNT } from "../../logontracer/hunt-ids.js";
import { defineHunt } from "../schema.js";

const HOUR = 3_600_000;

export default defineHunt({
  id: LOGON_CHANGEPOINT_HUNT,
  title: "Change points in hourly logons per account (LogonTracer)",
  description:
    "Counts each account's logon-related events (4624, 4625, 4768, 4769, 4776) per hour over a week and scores every hour with ChangeFinder as LogonTracer does (two-stage SDAR, r=0.04, order 1, smooth 5). The highest score inside the window, against LogonTracer's bands (10, 13, 16, 17), shows when an account's activity suddenly changed. Office routines cross the top band every Monday morning, so the band alone does not alert: a window alerts when the top band coincides with a burst (an hour with at least BurstThreshold events), and otherwise scores by how far the account's busiest hour departs from its own history. On a quiet account's sparse series ChangeFinder stays low even for a large burst, so a burst of at least BurstFactorThreshold times the account's busiest hour in the context before the window counts as a change too. Either way the burst must pass that busiest hour by MinBurstFactor: one within the account's range of the past days (a heavy admin's Monday morning after a quiet weekend) is its routine.",
  reference: "JPCERT/CC LogonTracer timeline: ChangeFinder over hourly event counts",
  mitre: { tactics: ["Lateral Movement", "Credential Access"], techniques: ["T1078", "T1110"] },
  severity: "medium",
  schedule: "0 25 6 * * *",
  lookback: "1d",
  context: "7d",
  maxLookback: "7d",
  sources: ["local", "log-analytics"],
  tables: ["SecurityEvent"],
  entity: { type: "account", columns: ["Account"] },
  entityMappings: [{ type: "account", columns: ["Account"] }],
  features: [{ column: "BusiestHour", direction: "up" }],
  thresholds: {
    match: "all",
    conditions: [
      // ChangeFinder measures change against recent dynamics, so on a quiet account's sparse series a burst scores low
      // (a few logons an hour, then thirty): a burst that dwarfs the account's own past days is a change as well.
      {
        anyOf: [
          { column: "MaxScore", op: ">=", value: "CriticalBand" },
          { column: "BurstFactor", op: ">=", value: "BurstFactorThreshold" },
        ],
      },
      { column: "BusiestHour", op: ">=", value: "BurstThreshold" },
      // A burst within the account's own range of the past days is its routine (a heavy admin's Monday after a quiet
      // weekend crosses the top band), not a change: it must pass its busiest hour of those days by half again.
      { column: "BurstFactor", op: ">=", value: "MinBurstFactor" },
    ],
  },
  parameters: { CriticalBand: 17, BurstThreshold: 15, BurstFactorThreshold: 3, MinBurstFactor: 1.5, IgnoredAccounts: IGNORED_ACCOUNTS },
  query: HOURLY_LOGONS,
  analyze: (counts, { windowStart, windowEnd, contextStart }) => {
    const col = (name: string) => counts.columns.findIndex((c) => c.name === name);
    const [account, hour, count] = ["Account", "Hour", "Count"].map(col);
    const first = Math.floor(contextStart / HOUR) * HOUR;
    const hours = Math.ceil((windowEnd - first) / HOUR);
    const series = new Map<string, number[]>();
    for (const r of counts.rows) {
      const values = series.get(plainText(r[account])) ?? new Array<number>(hours).fill(0);
      const index = Math.floor((datetimeToMs(Number(r[hour])) - first) / HOUR);
      if (index >= 0 && index < hours) values[index] += Number(r[count]);
      series.set(plainText(r[account]), values);
    }
    const records = [];
    const windowFrom = Math.max(0, Math.floor((windowStart - first) / HOUR));
    for (const [name, values] of series) {
      const inWindow = values.slice(windowFrom);
      // No activity in the window: nothing to say (and no series to score, which is most of this hunt's work).
      if (inWindow.every((v) => v === 0)) continue;
      const scores = changeFinderScores(values);
      let best = -1;
      for (let i = 0; i < hours; i++) {
        const at = first + i * HOUR;
        if (at < windowStart || at >= windowEnd) continue;
        if (best < 0 || scores[i] > scores[best]) best = i;
      }
      if (best < 0) continue;
      const busiestHour = Math.max(...inWindow);
      const pastBusiestHour = Math.max(0, ...values.slice(0, windowFrom));
      records.push({
        Account: name,
        MaxScore: Number(scores[best].toFixed(3)),
        Band: changePointBand(scores[best]),
        PeakHour: formatDatetime(datetimeFromMs(first + best * HOUR)),
        PeakCount: values[best],
        BusiestHour: busiestHour,
        PastBusiestHour: pastBusiestHour,
        // How many times its busiest hour of the context before the window (an hour without logons counts as one).
        BurstFactor: Number((busiestHour / Math.max(1, pastBusiestHour)).toFixed(2)),
        WindowCount: inWindow.reduce((s, v) => s + v, 0),
      });
    }
    return tableFromRecords(
      [
        { name: "Account", type: "string" },
        { name: "MaxScore", type: "real" },
        { name: "Band", type: "string" },
        { name: "PeakHour", type: "datetime" },
        { name: "PeakCount", type: "long" },
        { name: "BusiestHour", type: "long" },
        { name: "PastBusiestHour", type: "long" },
        { name: "BurstFactor", type: "real" },
        { name: "WindowCount", type: "long" },
      ],
      records,
    );
  },
});
