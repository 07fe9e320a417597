/**
 * The logon graph's data as the server sends it and the page reads it. Types only, with no Node or
 * DOM dependency, so both the Node program and the page's browser program compile against them.
 */
import type { ChangePointBand } from "./changefinder.js";

export interface GraphNode {
  /** `a:` + account name, or `h:` + host name or IP address. */
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
  band: ChangePointBand;
}

export interface LogonGraph {
  window: { start: string; end: string };
  source: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  timelines: Record<string, TimelinePoint[]>;
  truncated: boolean;
}
