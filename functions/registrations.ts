/**
 * Every function this app registers, as data: index.ts hands them to the Functions host, and the
 * tests check names, schedules, routes and auth levels without a host. Timers and routes come from
 * lib/host's tables, the same ones `hunts serve` runs.
 */
import type { HttpFunctionOptions, StorageQueueFunctionOptions, TimerFunctionOptions } from "@azure/functions";
import { scheduledJobs } from "../lib/host/jobs.js";
import { ROUTES } from "../lib/host/routes.js";
import { QUEUES } from "../lib/state/storage.js";
import { httpHandler, notifyFindingQueue, timerHandler } from "./handlers.js";

export const timers: { name: string; options: TimerFunctionOptions }[] = scheduledJobs().map((job) => ({
  // The schedule is an app setting, so ops change it without a deploy of code.
  name: job.name,
  options: { schedule: `%${job.scheduleSetting}%`, runOnStartup: false, useMonitor: true, handler: timerHandler(job) },
}));

export const httpRoutes: { name: string; options: HttpFunctionOptions }[] = ROUTES.map((route) => ({
  name: route.name,
  options: { route: route.route, methods: [route.method], authLevel: route.authLevel, handler: httpHandler(route) },
}));

export const queues: { name: string; options: StorageQueueFunctionOptions }[] = [
  { name: "notify-findings", options: { queueName: QUEUES.findings, connection: "AzureWebJobsStorage", handler: notifyFindingQueue } },
];
