/**
 * The contract between the logon graph page's HTML (built in Node), its browser code, and the
 * tests and benchmark that drive it in Chromium. Types and constants only, free of Node and DOM.
 */
import type { Core } from "cytoscape";
import type { GraphNode, LogonGraph } from "../graph-data.js";

/** The event IDs the page offers as filters: LogonTracer's logon-related events. */
export const FILTERED_EVENT_IDS = [4624, 4625, 4768, 4769, 4776] as const;

/** The logon types the page offers as filters, with their labels; edges of other types are always shown. */
export const FILTERED_LOGON_TYPES = [
  { type: 10, label: "RDP (10)" },
  { type: 3, label: "network (3)" },
  { type: 4, label: "batch (4)" },
  { type: 5, label: "service (5)" },
] as const;

/** The page's state, exposed as `window.state` once the graph is drawn (`body[data-ready=true]`). */
export interface GraphPageState {
  data: LogonGraph;
  /** The graph's nodes by id. */
  nodes: Map<string, GraphNode>;
  cy: Core;
}

/** What the page adds to the browser's global object. */
export interface GraphPageGlobals {
  state: GraphPageState;
}

/** The data of a node element drawn by Cytoscape. */
export interface DrawnNode {
  id: string;
  label: string;
  kind: GraphNode["kind"];
  color: string;
  size: number;
}

/** The data of an edge element drawn by Cytoscape. */
export interface DrawnEdge {
  id: string;
  source: string;
  target: string;
  label: string;
  failed: boolean;
}
