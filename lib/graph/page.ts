/**
 * The logon graph page: one self-contained HTML document with Cytoscape.js inlined from
 * node_modules (no CDN). It loads the graph JSON from `dataUrl` and renders LogonTracer's
 * picture: accounts blue, SYSTEM-privileged accounts red, hosts and IPs green, node size by
 * PageRank, edges labelled `event/logon type ×count`; filters; a ranked list with the LogonTracer
 * hunts' findings and the usual host count from their baselines; each account's
 * hourly timeline with ChangeFinder bands; export to CSV, JSON and PNG.
 *
 * Large graphs stay responsive: the server keeps the highest-ranked nodes (5,000 by default);
 * above 1,500 nodes the page places nodes on rings by rank in one pass (no force-directed
 * layout) and draws straight edges without arrows; elements are added in one batch; labels draw
 * only when zoomed in enough to read, edges hide while panning, and the viewport is drawn from a
 * texture during interaction.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

let cytoscapeSource: string | undefined;

function cytoscape(): string {
  if (!cytoscapeSource) {
    const require = createRequire(import.meta.url);
    // Inlined in a <script>: a closing tag inside the library's text would end the element early.
    cytoscapeSource = readFileSync(require.resolve("cytoscape/dist/cytoscape.min.js"), "utf8").replace(/<\/script/gi, "<\\/script");
  }
  return cytoscapeSource;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;display:grid;grid-template-columns:300px 1fr;grid-template-rows:auto 1fr 180px;height:100vh;color:#222}
header{grid-column:1/3;padding:8px 12px;background:#1f2937;color:#fff;display:flex;gap:16px;align-items:center}
header h1{font-size:16px;margin:0}
aside{grid-row:2/4;overflow:auto;padding:8px 12px;border-right:1px solid #ddd}
#graph{grid-column:2;grid-row:2}
#timeline{grid-column:2;grid-row:3;border-top:1px solid #ddd;overflow:auto;padding:4px 8px}
fieldset{border:1px solid #ddd;margin:0 0 8px;padding:6px}
label{display:block}
input[type=text]{width:100%;box-sizing:border-box}
table{border-collapse:collapse;width:100%;font-size:12px}
td,th{padding:2px 4px;border-bottom:1px solid #eee;text-align:left}
tr.selected{background:#e0f2fe}
.legend span{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 10px}
button{margin:2px}
`;

const CLIENT = `
const state = (window.state = { data: null, cy: null });
const $ = (id) => document.getElementById(id);
const COLORS = { account: '#2563eb', privileged: '#dc2626', host: '#16a34a', ip: '#16a34a' };
const BAND_COLORS = { low: '#fde68a', medium: '#fdba74', high: '#f87171', critical: '#b91c1c' };

function filters() {
  const events = [...document.querySelectorAll('input[name=event]:checked')].map((i) => Number(i.value));
  const types = [...document.querySelectorAll('input[name=logontype]:checked')].map((i) => Number(i.value));
  return {
    account: $('f-account').value.trim().toLowerCase(),
    host: $('f-host').value.trim().toLowerCase(),
    ip: $('f-ip').value.trim().toLowerCase(),
    events, types, failures: $('f-failures').checked,
  };
}

function visibleEdges(f) {
  return state.data.edges.filter((e) => {
    if (!f.events.includes(e.eventId)) return false;
    if (e.logonType !== null && f.types.length && !f.types.includes(e.logonType) && [3,4,5,10].includes(e.logonType)) return false;
    if (f.failures && e.failures === 0) return false;
    const account = e.source.slice(2).toLowerCase();
    const target = e.target.slice(2).toLowerCase();
    const isIp = state.nodes.get(e.target)?.kind === 'ip';
    if (f.account && !account.includes(f.account)) return false;
    if (f.host && (isIp || !target.includes(f.host))) return false;
    if (f.ip && (!isIp || !target.includes(f.ip))) return false;
    return true;
  });
}

function render() {
  const f = filters();
  const edges = visibleEdges(f);
  const used = new Set(edges.flatMap((e) => [e.source, e.target]));
  const nodes = state.data.nodes.filter((n) => used.has(n.id));
  const maxRank = Math.max(1, ...nodes.map((n) => n.rank));
  const large = nodes.length > 1500;
  // Measuring thousands of labels is most of the cost of adding them: in large graphs only the
  // top-ranked nodes are labelled, and edges are labelled when the graph is small enough to read.
  const labelled = large ? new Set([...nodes].sort((a, b) => b.rank - a.rank).slice(0, 300).map((n) => n.id)) : null;
  const elements = [
    ...nodes.map((n) => ({ data: { id: n.id, label: !labelled || labelled.has(n.id) ? n.label : '', kind: n.kind, color: n.privileged ? COLORS.privileged : COLORS[n.kind], size: 16 + 44 * Math.sqrt(n.rank / maxRank) } })),
    ...edges.map((e) => ({ data: { id: e.id, source: e.source, target: e.target, label: large ? '' : e.eventId + (e.logonType !== null ? '/' + e.logonType : '') + ' x' + e.count, failed: e.failures > 0 } })),
  ];
  state.cy.batch(() => {
    state.cy.elements().remove();
    state.cy.add(elements);
    // Large graphs: straight "haystack" edges without arrows draw far faster than bezier curves.
    state.cy.edges().style(large ? { 'curve-style': 'haystack', 'target-arrow-shape': 'none' } : {});
  });
  if (large) {
    // Rings by rank, computed here in one pass (a force-directed layout of thousands of nodes would stall the page).
    const sorted = nodes.map((n) => n.id).sort((a, b) => state.nodes.get(b).rank - state.nodes.get(a).rank);
    const positions = {};
    let ring = 0, placed = 0;
    while (placed < sorted.length) {
      const radius = 60 + ring * 70, capacity = Math.max(8, Math.floor((2 * Math.PI * radius) / 28));
      for (let i = 0; i < capacity && placed < sorted.length; i++, placed++) {
        const angle = (2 * Math.PI * i) / capacity;
        positions[sorted[placed]] = { x: radius * Math.cos(angle), y: radius * Math.sin(angle) };
      }
      ring++;
    }
    state.cy.layout({ name: 'preset', positions: (node) => positions[node.id()], fit: true, animate: false }).run();
  } else {
    state.cy.layout({ name: 'cose', animate: false, nodeRepulsion: 8000, idealEdgeLength: 80, numIter: 600 }).run();
  }
  $('counts').textContent = nodes.length + ' nodes, ' + edges.length + ' edges shown' + (state.data.truncated ? ' (largest ' + state.data.nodes.length + ' by rank)' : '');
  renderRanking(nodes);
}

function renderRanking(nodes) {
  const rows = [...nodes].sort((a, b) => b.rank - a.rank).slice(0, 200);
  $('ranking').innerHTML = '<tr><th>#</th><th>node</th><th>rank</th><th>hosts (usual)</th><th>fail</th><th>finding</th></tr>' + rows.map((n, i) =>
    '<tr data-id="' + n.id + '"><td>' + (i + 1) + '</td><td style="color:' + (n.privileged ? COLORS.privileged : COLORS[n.kind]) + '">' + escapeHtml(n.label) + '</td><td>' + n.rank.toFixed(2) + '</td><td>' + n.degree + (n.usualHosts !== undefined ? ' (' + n.usualHosts + ')' : '') + '</td><td>' + n.failures + '</td><td class="finding"' + (n.finding ? ' title="' + escapeHtml(n.finding.huntId + ': ' + n.finding.reason) + '"' : '') + '>' + (n.finding ? (n.finding.alert ? '<b>' + n.finding.score + '</b>' : n.finding.score) : '') + '</td></tr>').join('');
  for (const tr of $('ranking').querySelectorAll('tr[data-id]')) tr.onclick = () => select(tr.dataset.id);
}

function escapeHtml(s) { return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }

function select(id) {
  for (const tr of $('ranking').querySelectorAll('tr')) tr.classList.toggle('selected', tr.dataset.id === id);
  const node = state.cy.getElementById(id);
  if (node.nonempty()) { state.cy.$(':selected').unselect(); node.select(); state.cy.animate({ center: { eles: node }, zoom: 1.5 }, { duration: 200 }); }
  if (id.startsWith('a:')) drawTimeline(id.slice(2));
}

function drawTimeline(account) {
  const points = state.data.timelines[account] || [];
  const w = Math.max(600, points.length * 5), h = 150, max = Math.max(1, ...points.map((p) => p.count));
  const bars = points.map((p, i) => {
    const bh = (p.count / max) * (h - 40);
    const band = p.band !== 'none' ? '<rect x="' + i * 5 + '" y="0" width="5" height="' + (h - 20) + '" fill="' + BAND_COLORS[p.band] + '" opacity="0.5"><title>' + p.hour + ' score ' + p.score + ' (' + p.band + ')</title></rect>' : '';
    return band + '<rect x="' + i * 5 + '" y="' + (h - 20 - bh) + '" width="4" height="' + bh + '" fill="#2563eb"><title>' + p.hour + ': ' + p.count + ' events, score ' + p.score + '</title></rect>';
  }).join('');
  $('timeline').innerHTML = '<div><b>' + escapeHtml(account) + '</b>: hourly logon events over 7 days; shaded hours cross LogonTracer\\'s ChangeFinder bands (10 low, 13 medium, 16 high, 17 critical)</div><svg id="timeline-svg" width="' + w + '" height="' + h + '">' + bars + '</svg>';
}

function download(name, type, content) {
  const a = document.createElement('a');
  a.href = typeof content === 'string' && content.startsWith('data:') ? content : URL.createObjectURL(new Blob([content], { type }));
  a.download = name;
  a.click();
}

function exportCsv() {
  const f = filters();
  const lines = ['account,target,target_kind,event_id,logon_type,count,failures'];
  for (const e of visibleEdges(f)) lines.push([e.source.slice(2), e.target.slice(2), state.nodes.get(e.target).kind, e.eventId, e.logonType ?? '', e.count, e.failures].map((v) => '"' + String(v).replace(/"/g, '""') + '"').join(','));
  download('logon-graph.csv', 'text/csv', lines.join('\\n'));
}

async function load() {
  const response = await fetch(window.GRAPH_DATA_URL + location.search);
  state.data = await response.json();
  state.nodes = new Map(state.data.nodes.map((n) => [n.id, n]));
  $('window').textContent = state.data.window.start.slice(0, 16).replace('T', ' ') + ' to ' + state.data.window.end.slice(0, 16).replace('T', ' ') + ' UTC · ' + state.data.source;
  state.cy = cytoscape({
    container: $('graph'),
    textureOnViewport: true,
    hideEdgesOnViewport: true,
    pixelRatio: 1,
    minZoom: 0.05,
    style: [
      { selector: 'node', style: { 'background-color': 'data(color)', width: 'data(size)', height: 'data(size)', label: 'data(label)', 'font-size': 10, 'min-zoomed-font-size': 8, 'text-valign': 'bottom' } },
      { selector: 'node[kind != "account"]', style: { shape: 'round-rectangle' } },
      { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#f59e0b' } },
      { selector: 'edge', style: { width: 1.5, 'line-color': '#9ca3af', 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'target-arrow-color': '#9ca3af', label: 'data(label)', 'font-size': 8, 'min-zoomed-font-size': 10, 'text-rotation': 'autorotate' } },
      { selector: 'edge[?failed]', style: { 'line-color': '#dc2626', 'target-arrow-color': '#dc2626', 'line-style': 'dashed' } },
    ],
  });
  state.cy.on('tap', 'node', (evt) => select(evt.target.id()));
  for (const input of document.querySelectorAll('aside input')) input.addEventListener(input.type === 'text' ? 'input' : 'change', render);
  $('export-csv').onclick = exportCsv;
  $('export-json').onclick = () => download('logon-graph.json', 'application/json', JSON.stringify(state.data, null, 2));
  $('export-png').onclick = () => download('logon-graph.png', 'image/png', state.cy.png({ full: true, bg: '#ffffff' }));
  render();
  const top = [...state.data.nodes].filter((n) => n.kind === 'account').sort((a, b) => b.rank - a.rank)[0];
  if (top) drawTimeline(top.label);
  document.body.dataset.ready = 'true';
}
load();
`;

export function logonGraphPage(dataUrl: string): string {
  const eventBoxes = [4624, 4625, 4768, 4769, 4776]
    .map((id) => `<label><input type="checkbox" name="event" value="${id}" checked> ${id}</label>`)
    .join("");
  const typeBoxes = [
    [10, "RDP (10)"],
    [3, "network (3)"],
    [4, "batch (4)"],
    [5, "service (5)"],
  ]
    .map(([value, text]) => `<label><input type="checkbox" name="logontype" value="${value}" checked> ${text}</label>`)
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Logon graph</title><style>${STYLE}</style></head>
<body>
<header><h1>Logon graph</h1><span id="window"></span><span id="counts"></span>
<span class="legend"><span style="background:#2563eb"></span>account<span style="background:#dc2626"></span>SYSTEM-privileged<span style="background:#16a34a"></span>host / IP</span></header>
<aside>
<fieldset><legend>Filter</legend>
<label>account <input type="text" id="f-account" placeholder="e.g. alice"></label>
<label>host <input type="text" id="f-host" placeholder="e.g. srv-file01"></label>
<label>IP <input type="text" id="f-ip" placeholder="e.g. 10.1."></label>
<label><input type="checkbox" id="f-failures"> logon failures only</label></fieldset>
<fieldset><legend>Event ID</legend>${eventBoxes}</fieldset>
<fieldset><legend>Logon type</legend>${typeBoxes}</fieldset>
<fieldset><legend>Export</legend><button id="export-csv">CSV</button><button id="export-json">JSON</button><button id="export-png">PNG</button></fieldset>
<h3>Ranked by PageRank</h3><table id="ranking"></table>
</aside>
<div id="graph"></div>
<div id="timeline"></div>
<script>${cytoscape()}</script>
<script>window.GRAPH_DATA_URL = ${JSON.stringify(dataUrl)};</script>
<script>${CLIENT}</script>
</body></html>`;
}
