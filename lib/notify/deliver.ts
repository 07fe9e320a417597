/**
 * HTTP delivery with retries: exponential backoff with full jitter, `Retry-After` honoured on 429
 * and 503, within a time budget. 410 Gone means the destination was deleted: it is disabled.
 * Other 4xx answers and redirects are permanent failures; 5xx, 429 and network errors are retried.
 *
 * Requests go through node:http(s) with `connectLookup`, so the address the SSRF check approves is
 * the one connected to. Redirects are never followed: a destination that redirects is reported
 * once, with where it pointed, instead of being retried until the message is poisoned.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { connectLookup, DestinationError, parseDestinationUrl, type Destination, type UrlPolicy } from "./destinations.js";

export interface DeliveryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Give up (and let the queue retry the message later) once this much time has passed. */
  budgetMs: number;
  /** Which addresses may be connected to; without it, https and public addresses only. */
  urlPolicy?: UrlPolicy;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, budgetMs: 120_000 };

const STRICT_URL_POLICY: UrlPolicy = { allowInsecure: false };
const REQUEST_TIMEOUT_MS = 30_000;
/** Enough of an error body to say what went wrong; the rest is not read into memory. */
const MAX_BODY_BYTES = 16_384;

export type DeliveryOutcome =
  | { status: "delivered"; attempts: number; httpStatus: number }
  | { status: "gone"; attempts: number; httpStatus: 410 }
  | { status: "rejected"; attempts: number; httpStatus: number; body: string };

/** Delivery failed for now; the message should be retried later (the queue does that). */
export class RetryableDeliveryError extends Error {
  constructor(
    message: string,
    readonly destinationId: string,
  ) {
    super(message);
    this.name = "RetryableDeliveryError";
  }
}

/** Seconds, or an HTTP date, as milliseconds from now. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

function post(url: URL, body: string, headers: Record<string, string>, lookup: LookupFunction): Promise<HttpAnswer> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup,
        // A fresh connection per request: a pooled socket would skip the connect-time address check.
        agent: false,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          if (size < MAX_BODY_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Where a redirect pointed, as an origin only (a full URL could carry a secret). */
function redirectReason(answer: HttpAnswer, from: URL): string {
  let target = "no Location";
  try {
    if (answer.headers.location) target = new URL(answer.headers.location, from).origin;
  } catch {
    target = "an invalid Location";
  }
  return `redirect to ${target} not followed: set the destination to the URL that accepts the POST itself`;
}

export async function deliver(
  destination: Destination,
  body: string,
  headers: () => Record<string, string>,
  policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY,
): Promise<DeliveryOutcome> {
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = policy.random ?? Math.random;
  const urlPolicy = policy.urlPolicy ?? STRICT_URL_POLICY;
  // Refuses a bad URL or a non-public literal address outright: never retried.
  const url = parseDestinationUrl(destination.kind, destination.url, urlPolicy);
  const lookup = connectLookup(destination.kind, urlPolicy);
  const started = Date.now();
  let lastProblem = "";
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    let wait: number | undefined;
    try {
      const answer = await post(url, body, { "content-type": "application/json", ...headers() }, lookup);
      if (answer.status >= 200 && answer.status < 300) return { status: "delivered", attempts: attempt, httpStatus: answer.status };
      if (answer.status === 410) return { status: "gone", attempts: attempt, httpStatus: 410 };
      if (answer.status >= 300 && answer.status < 400) {
        return { status: "rejected", attempts: attempt, httpStatus: answer.status, body: redirectReason(answer, url) };
      }
      if (answer.status !== 429 && answer.status < 500 && answer.status !== 408) {
        return { status: "rejected", attempts: attempt, httpStatus: answer.status, body: answer.text.slice(0, 500) };
      }
      lastProblem = `HTTP ${answer.status}`;
      const retryAfter = answer.headers["retry-after"];
      wait = retryAfterMs(typeof retryAfter === "string" ? retryAfter : null);
    } catch (error) {
      // The address check refused the connection: asking again will not make the address public.
      if (error instanceof DestinationError) throw error;
      lastProblem = (error as Error).message;
    }
    if (attempt === policy.maxAttempts) break;
    const backoff = random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    const delay = Math.max(wait ?? 0, backoff);
    if (Date.now() - started + delay > policy.budgetMs) break;
    await sleep(delay);
  }
  throw new RetryableDeliveryError(`${destination.kind} destination ${destination.id}: not delivered (${lastProblem})`, destination.id);
}
