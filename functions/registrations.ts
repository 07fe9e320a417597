/**
 * Every function this app registers, as data: index.ts hands them to the Functions host, and the
 * tests check names, schedules, routes and auth levels without a host.
 */
import type { HttpFunctionOptions, StorageQueueFunctionOptions, TimerFunctionOptions } from "@azure/functions";
import { builtInHunts, scheduleSettingName } from "../lib/hunts/catalog.js";
import { QUEUES } from "../lib/state/storage.js";
import {
  digestTimer,
  getRunHttp,
  graphDataHttp,
  graphPageHttp,
  huntTimer,
  importedHuntsTimer,
  listHuntsHttp,
  notifyFindingQueue,
  runHuntHttp,
  validateKqlHttp,
} from "./handlers.js";

export const timers: { name: string; options: TimerFunctionOptions }[] = [
  // One timer per hunt; its schedule is an app setting, so ops change it without a deploy of code.
  ...builtInHunts().map((hunt) => ({
    name: `hunt-${hunt.id}`,
    options: { schedule: `%${scheduleSettingName(hunt.id)}%`, runOnStartup: false, useMonitor: true, handler: huntTimer(hunt.id) },
  })),
  { name: "digest", options: { schedule: "%DIGEST_SCHEDULE%", runOnStartup: false, useMonitor: true, handler: digestTimer } },
  {
    name: "imported-hunts",
    options: { schedule: "%IMPORTED_HUNTS_SCHEDULE%", runOnStartup: false, useMonitor: true, handler: importedHuntsTimer },
  },
];

export const httpRoutes: { name: string; options: HttpFunctionOptions }[] = [
  { name: "list-hunts", options: { route: "hunts", methods: ["GET"], authLevel: "function", handler: listHuntsHttp } },
  { name: "run-hunt", options: { route: "hunts/{id}/run", methods: ["POST"], authLevel: "function", handler: runHuntHttp } },
  { name: "get-run", options: { route: "runs/{runId}", methods: ["GET"], authLevel: "function", handler: getRunHttp } },
  { name: "validate-kql", options: { route: "kql/validate", methods: ["POST"], authLevel: "function", handler: validateKqlHttp } },
  { name: "logon-graph", options: { route: "graph", methods: ["GET"], authLevel: "function", handler: graphPageHttp } },
  { name: "logon-graph-data", options: { route: "graph/data", methods: ["GET"], authLevel: "function", handler: graphDataHttp } },
];

export const queues: { name: string; options: StorageQueueFunctionOptions }[] = [
  { name: "notify-findings", options: { queueName: QUEUES.findings, connection: "AzureWebJobsStorage", handler: notifyFindingQueue } },
];
