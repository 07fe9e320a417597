/**
 * `hunts backtest`: what ops run before changing a threshold or a schedule. Replays a history day
 * by day through the scheduled path (the same replay the quality bench uses), against its own
 * storage, and reports each day's alerts, incidents and top entities per hunt.
 */
import type { Finding } from "../findings/finding.js";
import type { Hunt } from "../hunts/schema.js";
import { replay, type ReplayOptions } from "./replay.js";
import type { HuntServices } from "./runner.js";
import type { RunRecord } from "./store.js";

const DAY = 86_400_000;

export interface BacktestRun {
  huntId: string;
  window: { start: string; end: string };
  entities: number;
  rows: number;
  findings: number;
  alerts: number;
  status: RunRecord["status"];
  partial?: string;
}

export interface BacktestFinding {
  huntId: string;
  entity: { key: string; type: string };
  score: number;
  alert: boolean;
  /** The incident the finding belongs to, once findings carry one; null until then (each alert stands alone). */
  incidentId: string | null;
  window: { start: string; end: string };
  reasons: string[];
}

export interface BacktestHuntDay {
  huntId: string;
  runs: number;
  entities: number;
  alerts: number;
  top: { entity: string; score: number; alert: boolean }[];
}

export interface BacktestDay {
  /** UTC date (YYYY-MM-DD) the runs' windows start on. */
  day: string;
  alerts: number;
  incidents: number;
  hunts: BacktestHuntDay[];
}

export interface BacktestReport {
  period: { start: string; end: string };
  runs: BacktestRun[];
  findings: BacktestFinding[];
  days: BacktestDay[];
  /** Hunts that could not be replayed, with why (the others still are). */
  failures: { huntId: string; error: string }[];
}

/** How many top entities a day lists per hunt. */
export const TOP_ENTITIES = 5;

/** The incident an alert belongs to; null for findings that did not alert. */
export function incidentIdOf(finding: Finding): string | null {
  return finding.incidentId ?? null;
}

function dayOf(iso: string): string {
  return iso.slice(0, 10);
}

/** Whole UTC days covering a data range: backtests replay days as the scheduled path sees them. */
export function backtestPeriod(range: { start: number; end: number }): { start: number; end: number } {
  return { start: Math.floor(range.start / DAY) * DAY, end: Math.ceil((range.end + 1) / DAY) * DAY };
}

/**
 * Replays `period` day by day through every hunt (a hunt that fails sits out the days after; the
 * others go on) and summarises it per day.
 */
export async function backtest(
  hunts: readonly Hunt[],
  services: HuntServices,
  period: { start: number; end: number },
  onDay?: (huntId: string, day: number, days: number) => void,
  options: ReplayOptions = {},
): Promise<BacktestReport> {
  const { runs, findings, failures } = await replay(hunts, services, period, (p) => onDay?.(p.huntId, p.day, p.days), options);
  return summarise(hunts, period, runs, findings, failures);
}

function summarise(
  hunts: readonly Hunt[],
  period: { start: number; end: number },
  runs: readonly RunRecord[],
  findings: readonly Finding[],
  failures: BacktestReport["failures"],
): BacktestReport {
  const days = [...new Set(runs.map((r) => dayOf(r.window.start)))].sort();
  const report: BacktestDay[] = days.map((day) => {
    const dayFindings = findings.filter((f) => dayOf(f.window.start) === day);
    const alerts = dayFindings.filter((f) => f.alert);
    const incidentIds = new Set(alerts.map(incidentIdOf).filter((id): id is string => id !== null));
    // An alert without an incident (stored by an older version) counts as one of its own.
    const standalone = alerts.filter((f) => incidentIdOf(f) === null).length;
    return {
      day,
      alerts: alerts.length,
      incidents: incidentIds.size + standalone,
      hunts: hunts
        .map((hunt) => {
          const huntRuns = runs.filter((r) => r.huntId === hunt.id && dayOf(r.window.start) === day);
          const own = dayFindings.filter((f) => f.huntId === hunt.id).sort((a, b) => b.score - a.score);
          // An hourly hunt sees an entity in many windows: list each entity once, at its best.
          const top = new Map<string, Finding>();
          for (const f of own) if (!top.has(f.entity.key) && top.size < TOP_ENTITIES) top.set(f.entity.key, f);
          return {
            huntId: hunt.id,
            runs: huntRuns.length,
            entities: huntRuns.reduce((n, r) => n + r.entities, 0),
            alerts: own.filter((f) => f.alert).length,
            top: [...top.values()].map((f) => ({ entity: f.entity.key, score: f.score, alert: f.alert })),
          };
        })
        .filter((h) => h.runs > 0),
    };
  });
  return {
    period: { start: new Date(period.start).toISOString(), end: new Date(period.end).toISOString() },
    runs: runs.map((r) => ({
      huntId: r.huntId,
      window: r.window,
      entities: r.entities,
      rows: r.rows,
      findings: r.findings,
      alerts: r.alerts,
      status: r.status,
      ...(r.partial ? { partial: r.partial } : {}),
    })),
    findings: findings.map((f) => ({
      huntId: f.huntId,
      entity: { key: f.entity.key, type: f.entity.type },
      // A sweep folded into one finding lists the entities it stands for.
      ...(f.members ? { members: f.members } : {}),
      score: f.score,
      alert: f.alert,
      incidentId: incidentIdOf(f),
      window: f.window,
      reasons: f.reasons,
    })),
    days: report,
    failures,
  };
}

/** The report as text: one block per day, one line per hunt with its top entities. */
export function formatBacktest(report: BacktestReport): string {
  const lines = [`backtest ${report.period.start} .. ${report.period.end}: ${report.runs.length} runs, ${report.findings.length} findings`];
  for (const day of report.days) {
    lines.push(`${day.day}  ${day.alerts} alert(s), ${day.incidents} incident(s)`);
    for (const h of day.hunts) {
      const top = h.top.map((t) => `${t.entity} ${t.score}${t.alert ? "!" : ""}`).join(", ");
      lines.push(
        `  ${h.huntId.padEnd(30)} ${String(h.runs).padStart(3)} run(s) ${String(h.entities).padStart(6)} entities ${String(h.alerts).padStart(4)} alert(s)  ${top}`,
      );
    }
  }
  for (const f of report.failures) lines.push(`FAILED ${f.huntId}: ${f.error}`);
  return lines.join("\n");
}
