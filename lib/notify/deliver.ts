/**
 * HTTP delivery with retries: exponential backoff with full jitter, `Retry-After` honoured on 429
 * and 503, within a time budget. 410 Gone means the destination was deleted: it is disabled.
 * Other 4xx answers are permanent failures; 5xx, 429 and network errors are retried.
 */
import type { Destination } from "./destinations.js";

export interface DeliveryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Give up (and let the queue retry the message later) once this much time has passed. */
  budgetMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, budgetMs: 120_000 };

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

export async function deliver(
  destination: Destination,
  body: string,
  headers: () => Record<string, string>,
  policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY,
): Promise<DeliveryOutcome> {
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = policy.random ?? Math.random;
  const started = Date.now();
  let lastProblem = "";
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    let wait: number | undefined;
    try {
      const response = await fetch(destination.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers() },
        body,
        redirect: "error",
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text().catch(() => "");
      if (response.ok) return { status: "delivered", attempts: attempt, httpStatus: response.status };
      if (response.status === 410) return { status: "gone", attempts: attempt, httpStatus: 410 };
      if (response.status !== 429 && response.status < 500 && response.status !== 408) {
        return { status: "rejected", attempts: attempt, httpStatus: response.status, body: text.slice(0, 500) };
      }
      lastProblem = `HTTP ${response.status}`;
      wait = retryAfterMs(response.headers.get("retry-after"));
    } catch (error) {
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
