/**
 * How library code reports what it did. Library modules never write to the console: the caller
 * passes a logger (a Functions invocation's `context`, so lines belong to that invocation, or the
 * CLI's console logger). `properties` carry structured fields for telemetry: in Azure they travel
 * inside the line (lineWithProperties), since the Functions host keeps only a log call's text.
 */
export type LogProperties = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(message: string, properties?: LogProperties): void;
  warn(message: string, properties?: LogProperties): void;
  error(message: string, properties?: LogProperties): void;
}

/**
 * One log line that carries its properties, for hosts whose log API takes text only. The Functions
 * host sends `context.log` text to Application Insights' `traces` table as `message` and adds no
 * custom dimensions of ours, so the properties go in the text: the message on one line (line breaks
 * folded), then the properties as JSON on the last line. infra/queries/hunt-runs.kql reads that line.
 */
export function lineWithProperties(message: string, properties: LogProperties): string {
  return `${message.replace(/\s*[\r\n]+\s*/g, " ")}\n${JSON.stringify(properties)}`;
}

/** For the CLI and local tools: plain lines on stdout/stderr, properties left out. */
export const consoleLogger: Logger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

/** Logs nothing: for tests and callers that report results another way. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** A logger from a single line-writing function (tests that collect lines, progress printers). */
export function lineLogger(write: (line: string) => void): Logger {
  return { info: write, warn: write, error: write };
}
