/** One App per worker, built from the app settings on first use. */
import { createApp, type App } from "../lib/app.js";

let current: Promise<App> | undefined;

export function getApp(): Promise<App> {
  current ??= createApp(process.env, { log: (m) => console.log(m) });
  return current;
}

/** Tests hand the handlers an App built against Azurite. */
export function setApp(app: App | Promise<App>): void {
  current = Promise.resolve(app);
}
