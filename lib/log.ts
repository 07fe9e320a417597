/**
 * How library code reports what it did. Library modules never write to the console: the caller
 * passes a logger (a Functions invocation's `context`, so lines belong to that invocation, or the
 * CLI's console logger). `properties` carry structured fields for telemetry (Application Insights
 * keeps them as customDimensions).
 */
export type LogProperties = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(message: string, properties?: LogProperties): void;
  warn(message: string, properties?: LogProperties): void;
  error(message: string, properties?: LogProperties): void;
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
