/**
 * The logon graph page: one self-contained HTML document (no CDN) with its browser code
 * (browser/main.ts, Cytoscape.js bundled in) inlined. The server keeps the highest-ranked nodes of
 * large graphs (5,000 by default); the browser code keeps the rest responsive.
 */
import { existsSync, readFileSync } from "node:fs";
import { bundlePageScript, PAGE_SCRIPT_BUILT } from "./bundle.js";
import { FILTERED_EVENT_IDS, FILTERED_LOGON_TYPES } from "./page-state.js";

let pageScript: string | undefined;

/** The built script in dist/, else (run from source) bundled on first use; read once either way. */
function script(): string {
  if (pageScript === undefined) {
    const text = existsSync(PAGE_SCRIPT_BUILT) ? readFileSync(PAGE_SCRIPT_BUILT, "utf8") : bundlePageScript();
    // Inlined in a <script>: a closing tag inside the bundle's text would end the element early.
    pageScript = text.replace(/<\/script/gi, "<\\/script");
  }
  return pageScript;
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
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

/** The page; its script loads the graph JSON from `dataUrl` (relative to the page), with the page's query string. */
export function logonGraphPage(dataUrl: string): string {
  const eventBoxes = FILTERED_EVENT_IDS.map((id) => `<label><input type="checkbox" name="event" value="${id}" checked> ${id}</label>`).join(
    "",
  );
  const typeBoxes = FILTERED_LOGON_TYPES.map(
    ({ type, label }) => `<label><input type="checkbox" name="logontype" value="${type}" checked> ${label}</label>`,
  ).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Logon graph</title><style>${STYLE}</style></head>
<body data-graph-data="${escapeAttribute(dataUrl)}">
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
<script>${script()}</script>
</body></html>`;
}
