/**
 * Log readers: turn files responders and Sentinel users have into rows of the Sentinel tables.
 *
 * Formats: EVTX, Log Analytics exports (CSV "all columns", JSON array or lines), NXLog and
 * Winlogbeat (ECS) JSON lines of Windows events, and plain NDJSON already in table shape. The
 * format is detected from content and can be forced. Every reader streams: a file is never read
 * whole, so memory stays bounded on large files.
 */
export { detectFormat } from "./detect.js";
export { LOG_FORMATS, LogFormatSchema, type LogFormat, type ReadOptions, type SourceItem } from "./formats.js";
export {
  loadLogs,
  logFilesUnder,
  PARALLEL_EVTX_MIN_BYTES,
  readLogFile,
  readLogFileBatches,
  reportReadIssues,
  type LoadedLogs,
  type LoadOptions,
} from "./load.js";
export type { ReadIssue } from "./table-builder.js";
export { tableOf } from "./table-shaped.js";
