/** Tells a log file's format from its content. */
import { closeSync, openSync, readSync } from "node:fs";
import { extname } from "node:path";
import { CHUNK_SIGNATURE, FILE_HEADER_SIZE, FILE_SIGNATURE } from "./evtx-format.js";
import { LOG_FORMATS, type LogFormat } from "./formats.js";

/**
 * The first `bytes` of a file. Read synchronously: a folder holds many small files, and three
 * round trips through the thread pool per file (open, read, close) cost far more than the reads.
 */
export function head(path: string, bytes = 65536): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

/** The start of a text file as text: UTF-8, without a byte-order mark or leading blank space. */
export function leadingText(start: Buffer): string {
  return start
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .trimStart();
}

function classifyJsonObject(value: Record<string, unknown>): LogFormat {
  if (typeof value.winlog === "object" || (typeof value.event === "object" && value.event !== null && "code" in value.event)) {
    return "winlogbeat";
  }
  if ("EventID" in value && ("EventTime" in value || "SourceModuleType" in value || "Hostname" in value || "TimeCreated" in value)) {
    return "nxlog";
  }
  return "ndjson";
}

/** Where the EVTX signatures end: the file header's, and the first chunk's after it. */
const EVTX_SIGNATURES_END = FILE_HEADER_SIZE + 8;

// eslint-disable-next-line @typescript-eslint/require-await -- a promise, so a file that cannot be read rejects as before
export async function detectFormat(path: string): Promise<LogFormat> {
  // The EVTX signatures first: most files of a Windows folder are EVTX, and their first 64 KiB are not needed to tell.
  const evtxStart = head(path, EVTX_SIGNATURES_END);
  // An EVTX file whose header was overwritten is still recognised by its first chunk.
  if (evtxStart.toString("latin1", 0, 8) === FILE_SIGNATURE) return "evtx";
  if (evtxStart.toString("latin1", FILE_HEADER_SIZE, FILE_HEADER_SIZE + 8) === CHUNK_SIGNATURE) return "evtx";
  const start = evtxStart.length < EVTX_SIGNATURES_END ? evtxStart : head(path);
  const trimmed = leadingText(start);
  if (trimmed.startsWith("[")) return "sentinel-json";
  if (trimmed.startsWith("{")) {
    const firstLine = trimmed.split(/\r?\n/, 1)[0];
    try {
      const value: unknown = JSON.parse(firstLine);
      return value !== null && typeof value === "object" && !Array.isArray(value)
        ? classifyJsonObject(value as Record<string, unknown>)
        : "ndjson";
    } catch {
      return "ndjson";
    }
  }
  const header = trimmed.split(/\r?\n/, 1)[0];
  if (/(^|,)"?TimeGenerated( \[UTC\])?"?(,|$)/.test(header) || extname(path).toLowerCase() === ".csv") return "sentinel-csv";
  throw new Error(`${path}: cannot tell the log format from its content; pass one of ${LOG_FORMATS.join(", ")}`);
}
