/** What the project's local HTTP(S) servers (API, receiver, service stand-in) all do the same way. */
import type { IncomingMessage } from "node:http";
import type { Server } from "node:net";

/** Listens on 127.0.0.1 (port 0: any free one) and returns the port it got. */
export async function listenOnLoopback(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("the server has no address after listening");
  return address.port;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A request body larger than the server takes. */
export class BodyTooLargeError extends Error {}

/** The request body as text, refusing (and not buffering) more than `maxBytes`. */
export async function readRequestText(req: IncomingMessage, maxBytes = Number.POSITIVE_INFINITY): Promise<string> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw new BodyTooLargeError(`request body over ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      req.destroy();
      throw new BodyTooLargeError(`request body over ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
