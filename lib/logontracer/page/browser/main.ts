/**
 * The logon graph page's browser code, bundled with Cytoscape.js by esbuild (see ../bundle.ts).
 * It loads the graph JSON from the URL in `body[data-graph-data]` and renders LogonTracer's
 * picture: accounts blue, SYSTEM-privileged accounts red, hosts and IPs green, node size by
 * PageRank, edges labelled `event/logon type ×count`; filters; a ranked list with the LogonTracer
 * hunts' findings and the usual host count from their baselines; each account's hourly timeline
 * with ChangeFinder bands; export to CSV, JSON and PNG.
 *
 * Large graphs stay responsive: above 1,500 nodes nodes are placed on rings by rank in one pass
 * (no force-directed layout) and edges are drawn straight without arrows; elements are added in
 * one batch; labels draw only when zoomed in enough to read, edges hide while panning, and the
 * viewport is drawn from a texture during interaction.
 */
import cytoscape, { type ElementDefinition, type NodePositionMap, type NodeSingular } from "cytoscape";
import { CHANGEPOINT_BANDS, type ChangePointBand } from "../../changefinder.js";
import type { GraphEdge, GraphNode, LogonGraph } from "../../graph-data.js";
import { FILTERED_LOGON_TYPES, type DrawnEdge, type DrawnNode, type GraphPageGlobals, type GraphPageState } from "../page-state.js";

const COLORS: Record<GraphNode["kind"] | "privileged", string> = {
  account: "#2563eb",
  privileged: "#dc2626",
  host: "#16a34a",
  ip: "#16a34a",
};
const BAND_COLORS: Record<Exclude<ChangePointBand, "none">, string> = {
  low: "#fde68a",
  medium: "#fdba74",
  high: "#f87171",
  critical: "#b91c1c",
};
/** Above this many nodes the page switches to the ring layout and unlabelled straight edges. */
const LARGE_GRAPH = 1500;
const FILTERABLE_TYPES: readonly number[] = FILTERED_LOGON_TYPES.map((t) => t.type);

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

function input(id: string): HTMLInputElement {
  const found = element(id);
  if (!(found instanceof HTMLInputElement)) throw new Error(`#${id} is not an input`);
  return found;
}

function checkedValues(name: string): number[] {
  return [...document.querySelectorAll<HTMLInputElement>(`input[name=${name}]:checked`)].map((i) => Number(i.value));
}

interface Filters {
  account: string;
  host: string;
  ip: string;
  events: number[];
  types: number[];
  failures: boolean;
}

function filters(): Filters {
  return {
    account: input("f-account").value.trim().toLowerCase(),
    host: input("f-host").value.trim().toLowerCase(),
    ip: input("f-ip").value.trim().toLowerCase(),
    events: checkedValues("event"),
    types: checkedValues("logontype"),
    failures: input("f-failures").checked,
  };
}

function visibleEdges(state: GraphPageState, f: Filters): GraphEdge[] {
  return state.data.edges.filter((e) => {
    if (!f.events.includes(e.eventId)) return false;
    if (e.logonType !== null && f.types.length && !f.types.includes(e.logonType) && FILTERABLE_TYPES.includes(e.logonType)) return false;
    if (f.failures && e.failures === 0) return false;
    const account = e.source.slice(2).toLowerCase();
    const target = e.target.slice(2).toLowerCase();
    const isIp = state.nodes.get(e.target)?.kind === "ip";
    if (f.account && !account.includes(f.account)) return false;
    if (f.host && (isIp || !target.includes(f.host))) return false;
    if (f.ip && (!isIp || !target.includes(f.ip))) return false;
    return true;
  });
}

/** Rings by rank, computed in one pass (a force-directed layout of thousands of nodes would stall the page). */
function ringPositions(nodes: readonly GraphNode[]): NodePositionMap {
  const sorted = [...nodes].sort((a, b) => b.rank - a.rank);
  const positions: NodePositionMap = {};
  let ring = 0;
  let placed = 0;
  while (placed < sorted.length) {
    const radius = 60 + ring * 70;
    const capacity = Math.max(8, Math.floor((2 * Math.PI * radius) / 28));
    for (let i = 0; i < capacity && placed < sorted.length; i++, placed++) {
      const angle = (2 * Math.PI * i) / capacity;
      positions[sorted[placed].id] = { x: radius * Math.cos(angle), y: radius * Math.sin(angle) };
    }
    ring++;
  }
  return positions;
}

function edgeLabel(e: GraphEdge): string {
  return `${e.eventId}${e.logonType !== null ? `/${e.logonType}` : ""} x${e.count}`;
}

function render(state: GraphPageState): void {
  const edges = visibleEdges(state, filters());
  const used = new Set(edges.flatMap((e) => [e.source, e.target]));
  const nodes = state.data.nodes.filter((n) => used.has(n.id));
  const maxRank = Math.max(1, ...nodes.map((n) => n.rank));
  const large = nodes.length > LARGE_GRAPH;
  // Measuring thousands of labels is most of the cost of adding them: in large graphs only the
  // top-ranked nodes are labelled, and edges are labelled when the graph is small enough to read.
  const labelled = large
    ? new Set(
        [...nodes]
          .sort((a, b) => b.rank - a.rank)
          .slice(0, 300)
          .map((n) => n.id),
      )
    : null;
  const elements: ElementDefinition[] = [
    ...nodes.map((n) => {
      const data: DrawnNode = {
        id: n.id,
        label: !labelled || labelled.has(n.id) ? n.label : "",
        kind: n.kind,
        color: n.privileged ? COLORS.privileged : COLORS[n.kind],
        size: 16 + 44 * Math.sqrt(n.rank / maxRank),
      };
      return { data };
    }),
    ...edges.map((e) => {
      const data: DrawnEdge = { id: e.id, source: e.source, target: e.target, label: large ? "" : edgeLabel(e), failed: e.failures > 0 };
      return { data };
    }),
  ];
  const { cy } = state;
  cy.batch(() => {
    cy.elements().remove();
    cy.add(elements);
    // Large graphs: straight "haystack" edges without arrows draw far faster than bezier curves.
    if (large) cy.edges().style({ "curve-style": "haystack", "target-arrow-shape": "none" });
  });
  if (large) {
    cy.layout({ name: "preset", positions: ringPositions(nodes), fit: true, animate: false }).run();
  } else {
    cy.layout({ name: "cose", animate: false, nodeRepulsion: 8000, idealEdgeLength: 80, numIter: 600 }).run();
  }
  const truncated = state.data.truncated ? ` (largest ${state.data.nodes.length} by rank)` : "";
  element("counts").textContent = `${nodes.length} nodes, ${edges.length} edges shown${truncated}`;
  renderRanking(state, nodes);
}

function escapeHtml(text: string): string {
  const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
  return text.replace(/[&<>"]/g, (c) => entities[c]);
}

function rankingRow(n: GraphNode, position: number): string {
  const colour = n.privileged ? COLORS.privileged : COLORS[n.kind];
  const usual = n.usualHosts !== undefined ? ` (${n.usualHosts})` : "";
  const title = n.finding ? ` title="${escapeHtml(`${n.finding.huntId}: ${n.finding.reason}`)}"` : "";
  const finding = n.finding ? (n.finding.alert ? `<b>${n.finding.score}</b>` : String(n.finding.score)) : "";
  return (
    `<tr data-id="${escapeHtml(n.id)}"><td>${position}</td><td style="color:${colour}">${escapeHtml(n.label)}</td>` +
    `<td>${n.rank.toFixed(2)}</td><td>${n.degree}${usual}</td><td>${n.failures}</td><td class="finding"${title}>${finding}</td></tr>`
  );
}

function renderRanking(state: GraphPageState, nodes: readonly GraphNode[]): void {
  const rows = [...nodes].sort((a, b) => b.rank - a.rank).slice(0, 200);
  const ranking = element("ranking");
  ranking.innerHTML =
    "<tr><th>#</th><th>node</th><th>rank</th><th>hosts (usual)</th><th>fail</th><th>finding</th></tr>" +
    rows.map((n, i) => rankingRow(n, i + 1)).join("");
  for (const tr of ranking.querySelectorAll<HTMLTableRowElement>("tr[data-id]")) {
    const id = tr.dataset.id ?? "";
    tr.onclick = () => select(state, id);
  }
}

function select(state: GraphPageState, id: string): void {
  for (const tr of element("ranking").querySelectorAll<HTMLTableRowElement>("tr")) tr.classList.toggle("selected", tr.dataset.id === id);
  const node = state.cy.getElementById(id);
  if (node.nonempty()) {
    state.cy.$(":selected").unselect();
    node.select();
    state.cy.animate({ center: { eles: node }, zoom: 1.5 }, { duration: 200 });
  }
  if (id.startsWith("a:")) drawTimeline(state.data, id.slice(2));
}

function drawTimeline(data: LogonGraph, account: string): void {
  const points = data.timelines[account] ?? [];
  const width = Math.max(600, points.length * 5);
  const height = 150;
  const max = Math.max(1, ...points.map((p) => p.count));
  const bars = points
    .map((p, i) => {
      const barHeight = (p.count / max) * (height - 40);
      const band =
        p.band !== "none"
          ? `<rect x="${i * 5}" y="0" width="5" height="${height - 20}" fill="${BAND_COLORS[p.band]}" opacity="0.5"><title>${p.hour} score ${p.score} (${p.band})</title></rect>`
          : "";
      return `${band}<rect x="${i * 5}" y="${height - 20 - barHeight}" width="4" height="${barHeight}" fill="#2563eb"><title>${p.hour}: ${p.count} events, score ${p.score}</title></rect>`;
    })
    .join("");
  element("timeline").innerHTML =
    `<div><b>${escapeHtml(account)}</b>: hourly logon events over 7 days; shaded hours cross LogonTracer's ChangeFinder bands ` +
    `(${CHANGEPOINT_BANDS[0]} low, ${CHANGEPOINT_BANDS[1]} medium, ${CHANGEPOINT_BANDS[2]} high, ${CHANGEPOINT_BANDS[3]} critical)</div>` +
    `<svg id="timeline-svg" width="${width}" height="${height}">${bars}</svg>`;
}

/** Saves `content` (text, or a data: URL) as a file named `name`. */
function download(name: string, type: string, content: string): void {
  const a = document.createElement("a");
  a.href = content.startsWith("data:") ? content : URL.createObjectURL(new Blob([content], { type }));
  a.download = name;
  a.click();
}

function csvField(value: string | number): string {
  return `"${String(value).replace(/"/g, '""')}"`;
}

function exportCsv(state: GraphPageState): void {
  const lines = ["account,target,target_kind,event_id,logon_type,count,failures"];
  for (const e of visibleEdges(state, filters())) {
    const fields = [
      e.source.slice(2),
      e.target.slice(2),
      state.nodes.get(e.target)?.kind ?? "",
      e.eventId,
      e.logonType ?? "",
      e.count,
      e.failures,
    ];
    lines.push(fields.map(csvField).join(","));
  }
  download("logon-graph.csv", "text/csv", lines.join("\n"));
}

function createGraph(): cytoscape.Core {
  return cytoscape({
    container: element("graph"),
    textureOnViewport: true,
    hideEdgesOnViewport: true,
    pixelRatio: 1,
    minZoom: 0.05,
    style: [
      {
        selector: "node",
        style: {
          "background-color": "data(color)",
          width: "data(size)",
          height: "data(size)",
          label: "data(label)",
          "font-size": 10,
          "min-zoomed-font-size": 8,
          "text-valign": "bottom",
        },
      },
      { selector: 'node[kind != "account"]', style: { shape: "round-rectangle" } },
      { selector: "node:selected", style: { "border-width": 4, "border-color": "#f59e0b" } },
      {
        selector: "edge",
        style: {
          width: 1.5,
          "line-color": "#9ca3af",
          "curve-style": "bezier",
          "target-arrow-shape": "triangle",
          "target-arrow-color": "#9ca3af",
          label: "data(label)",
          "font-size": 8,
          "min-zoomed-font-size": 10,
          "text-rotation": "autorotate",
        },
      },
      { selector: "edge[?failed]", style: { "line-color": "#dc2626", "target-arrow-color": "#dc2626", "line-style": "dashed" } },
    ],
  });
}

function utcMinute(iso: string): string {
  return iso.slice(0, 16).replace("T", " ");
}

async function load(): Promise<void> {
  const dataUrl = document.body.dataset.graphData;
  if (!dataUrl) throw new Error("the page names no graph data URL (body[data-graph-data])");
  const response = await fetch(dataUrl + location.search);
  if (!response.ok) throw new Error(`${dataUrl} answered ${response.status}: ${await response.text()}`);
  const data = (await response.json()) as LogonGraph;
  const state: GraphPageState = { data, nodes: new Map(data.nodes.map((n) => [n.id, n])), cy: createGraph() };
  (globalThis as unknown as GraphPageGlobals).state = state;
  element("window").textContent = `${utcMinute(data.window.start)} to ${utcMinute(data.window.end)} UTC · ${data.source}`;
  state.cy.on("tap", "node", (event) => select(state, (event.target as NodeSingular).id()));
  for (const box of document.querySelectorAll<HTMLInputElement>("aside input")) {
    box.addEventListener(box.type === "text" ? "input" : "change", () => render(state));
  }
  element("export-csv").onclick = () => exportCsv(state);
  element("export-json").onclick = () => download("logon-graph.json", "application/json", JSON.stringify(state.data, null, 2));
  element("export-png").onclick = () => download("logon-graph.png", "image/png", state.cy.png({ full: true, bg: "#ffffff" }));
  render(state);
  const top = [...data.nodes].filter((n) => n.kind === "account").sort((a, b) => b.rank - a.rank)[0];
  if (top) drawTimeline(data, top.label);
  document.body.dataset.ready = "true";
}

load().catch((error: unknown) => {
  // The page has no other channel for a failure: show it where the counts would be.
  element("counts").textContent = `the graph could not be loaded: ${error instanceof Error ? error.message : String(error)}`;
  document.body.dataset.failed = "true";
});
