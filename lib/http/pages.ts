/**
 * The small pages a card's signed links open: an incident, a run, and "mark benign" (a form, so a
 * link preview that fetches the URL cannot mark anything by itself). Plain server-rendered HTML,
 * every value escaped.
 */
import type { Finding } from "../findings/finding.js";
import { entityLabel, type SharedEntity } from "../hunts/entities.js";
import type { Incident } from "../incidents/store.js";
import type { RunRecord } from "../runs/store.js";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (text: unknown) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
.muted{color:#666}.score{font-weight:700}button{font:inherit;padding:.4rem 1rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

export function incidentPage(incident: Incident): string {
  const rows = incident.findings
    .map(
      (f) =>
        `<tr><td class="score">${f.score}</td><td>${escapeHtml(f.huntTitle)}</td><td>${escapeHtml(f.entity)}</td><td>${escapeHtml(f.reason)}</td><td class="muted">${escapeHtml(f.windowStart)} – ${escapeHtml(f.windowEnd)}</td></tr>`,
    )
    .join("");
  return page(
    `Incident ${incident.id}: ${incident.title}`,
    `<p>Score <b>${incident.score}</b> · severity ${escapeHtml(incident.severity)} · ${incident.findingCount} alert(s) · hunts ${escapeHtml(incident.hunts.join(", "))}</p>
<p>Opened ${escapeHtml(incident.openedAt)} · last alert ${escapeHtml(incident.lastAlertAt)}</p>
<p>Shared entities: ${escapeHtml(incident.shared.map(entityLabel).join(", ") || "none")}<br><span class="muted">All entities: ${escapeHtml(incident.entities.map(entityLabel).join(", "))}</span></p>
<table><tr><th>score</th><th>hunt</th><th>entity</th><th>why</th><th>window</th></tr>${rows}</table>`,
  );
}

export function runPage(run: RunRecord, findings: readonly Finding[]): string {
  const rows = findings
    .map(
      (f) =>
        `<tr><td class="score">${f.score}${f.alert ? " (alert)" : ""}</td><td>${escapeHtml(f.entity.key)}</td><td>${f.reasons.map(escapeHtml).join("<br>")}</td><td>${escapeHtml(f.incidentId ?? "")}</td></tr>`,
    )
    .join("");
  return page(
    `Run ${run.runId}`,
    `<p>${escapeHtml(run.status)} · window ${escapeHtml(run.window.start)} – ${escapeHtml(run.window.end)} · ${run.rows} rows, ${run.entities} entities, ${run.findings} findings, ${run.alerts} alerts · source ${escapeHtml(run.source)}</p>
${run.partial ? `<p>Partial: ${escapeHtml(run.partial)}</p>` : ""}${run.error ? `<p>Error: ${escapeHtml(run.error)}</p>` : ""}
<table><tr><th>score</th><th>entity</th><th>why</th><th>incident</th></tr>${rows}</table>`,
  );
}

export function benignFormPage(huntId: string, entity: SharedEntity, defaultDays: number): string {
  return page(
    `Mark ${entity.value} benign`,
    `<p>Findings about <b>${escapeHtml(entityLabel(entity))}</b> from hunt <b>${escapeHtml(huntId)}</b> will be kept but will not alert until the exception expires.</p>
<form method="post"><p><label>Why is it benign? <input name="reason" required minlength="3" maxlength="500" size="60"></label></p>
<p><label>Your name <input name="author" required maxlength="200"></label></p>
<p><label>For how many days <input name="days" type="number" min="1" max="365" value="${defaultDays}"></label></p>
<p><button type="submit">Mark benign</button></p></form>`,
  );
}

export function messagePage(title: string, text: string): string {
  return page(title, `<p>${escapeHtml(text)}</p>`);
}
