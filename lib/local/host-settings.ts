/** The queue settings of host.json, read once so the local runner behaves like the Functions host. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const HostJson = z.object({
  extensions: z.object({
    queues: z.object({
      maxDequeueCount: z.number().int().positive().default(5),
      visibilityTimeout: z
        .string()
        .regex(/^\d\d:\d\d:\d\d$/)
        .default("00:00:30"),
      batchSize: z.number().int().positive().max(32).default(16),
      maxPollingInterval: z
        .string()
        .regex(/^\d\d:\d\d:\d\d$/)
        .default("00:00:02"),
      messageEncoding: z.enum(["base64", "none"]).default("base64"),
    }),
  }),
});

export interface QueueSettings {
  maxDequeueCount: number;
  visibilityTimeoutSeconds: number;
  batchSize: number;
  pollingIntervalMs: number;
  messageEncoding: "base64" | "none";
}

const seconds = (hms: string) => hms.split(":").reduce((s, part) => s * 60 + Number(part), 0);

export function readQueueSettings(
  path = fileURLToPath(new URL("../../host.json", import.meta.url).href.replace("/dist/", "/")),
): QueueSettings {
  const q = HostJson.parse(JSON.parse(readFileSync(path, "utf8"))).extensions.queues;
  return {
    maxDequeueCount: q.maxDequeueCount,
    visibilityTimeoutSeconds: seconds(q.visibilityTimeout),
    batchSize: q.batchSize,
    pollingIntervalMs: seconds(q.maxPollingInterval) * 1000,
    messageEncoding: q.messageEncoding,
  };
}
