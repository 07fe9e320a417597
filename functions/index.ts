/** Entry point for the Functions host (package.json "main"): registers every function. */
import { app } from "@azure/functions";
import { httpRoutes, queues, timers } from "./registrations.js";

for (const t of timers) app.timer(t.name, t.options);
for (const h of httpRoutes) app.http(h.name, h.options);
for (const q of queues) app.storageQueue(q.name, q.options);
