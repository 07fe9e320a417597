/**
 * "Open in Log Analytics": a portal link that opens the workspace's Logs view with a query and a
 * time range, in the form the portal's own "Share > Copy link to query" writes: the query gzip'd
 * and base64'd, the timespan an ISO 8601 interval.
 */
import { gzipSync } from "node:zlib";

export function logAnalyticsUrl(workspaceResourceId: string, query: string, window: { start: string; end: string }): string {
  const q = gzipSync(Buffer.from(query, "utf8")).toString("base64");
  return (
    "https://portal.azure.com/#blade/Microsoft_OperationsManagementSuite_Workspace/Logs.ReactView" +
    `/resourceId/${encodeURIComponent(workspaceResourceId)}` +
    `/source/LogsBlade.AnalyticsShareLinkToQuery/q/${encodeURIComponent(q)}` +
    `/timespan/${encodeURIComponent(`${window.start}/${window.end}`)}`
  );
}
