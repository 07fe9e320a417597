/** One Runtime per worker, built from the app settings on first use. */
import { consoleLogger } from "../lib/log.js";
import { createRuntime, type Runtime } from "../lib/runtime.js";

let current: Promise<Runtime> | undefined;

/**
 * The worker's runtime. A start that failed (a bad setting, storage not reachable yet) is not
 * kept: the next invocation tries again, so fixing a setting does not need a worker restart.
 */
export function getRuntime(): Promise<Runtime> {
  if (!current) {
    const starting = createRuntime(process.env, { log: consoleLogger });
    current = starting;
    starting.catch(() => {
      if (current === starting) current = undefined;
    });
  }
  return current;
}

/** Tests hand the handlers a Runtime built against Azurite. */
export function setRuntime(runtime: Runtime | Promise<Runtime>): void {
  current = Promise.resolve(runtime);
}
