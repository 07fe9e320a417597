import diagnostics from "node:diagnostics_channel";

/** Counts the HTTP requests this process sends while `run` runs, as "METHOD table" (a transaction is "POST $batch"). */
export async function requestsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const onStart = (message: unknown) => {
    const { method, path } = (message as { request: { method: string; path: string } }).request;
    seen.push(`${method} ${decodeURIComponent(path.split("?")[0]).split("/")[2].replace(/\(.*$/, "")}`);
  };
  diagnostics.subscribe("http.client.request.start", onStart);
  try {
    await run();
  } finally {
    diagnostics.unsubscribe("http.client.request.start", onStart);
  }
  return seen;
}
