/**
 * Starts Azurite (the Azure Storage emulator, from npm) as a child process on free ports, for
 * `npm start`, the local runner and the tests. No Docker, no manual service start.
 */
import { azuriteConnectionString, DEV_ACCOUNT } from "../state/storage.js";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Azurite's well-known development account (public, documented; not a secret). */

export interface AzuriteInstance {
  connectionString: string;
  tableUrl: string;
  queueUrl: string;
  blobUrl: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function azuriteEntry(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve("azurite/package.json")), "dist", "src", "azurite.js");
  } catch {
    throw new Error("Azurite is not installed: run `npm install` (it is a development dependency of this project)");
  }
}

export interface AzuriteOptions {
  /** Keep data in memory only (tests). Otherwise data lives in `location`. */
  inMemory?: boolean;
  location?: string;
  timeoutMs?: number;
  /**
   * Work of the caller's own done once Azurite is spawned, while it starts in its process (about a
   * second in which this one would only wait): set-up no longer than that costs no time of its own.
   */
  whileStarting?: () => void;
}

/**
 * Preloaded into the Azurite process: when the parent's IPC channel closes, SIGTERM itself
 * (Azurite shuts its servers down on SIGTERM), and exit anyway if that takes too long.
 */
const EXIT_WITH_PARENT = `data:text/javascript,${encodeURIComponent(
  'process.on("disconnect", () => { setTimeout(() => process.exit(1), 10000).unref(); process.kill(process.pid, "SIGTERM"); });',
)}`;

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteInstance> {
  const [blobPort, queuePort, tablePort] = [await freePort(), await freePort(), await freePort()];
  const args = [
    azuriteEntry(),
    "--silent",
    "--disableTelemetry",
    "--skipApiVersionCheck",
    "--loose",
    "--blobPort",
    String(blobPort),
    "--queuePort",
    String(queuePort),
    "--tablePort",
    String(tablePort),
    // Azurite refuses a location together with in-memory persistence.
    ...(options.inMemory ? ["--inMemoryPersistence"] : ["--location", options.location ?? mkdtempSync(join(tmpdir(), "azurite-"))]),
  ];
  // The IPC channel is a lifeline: whenever this process goes (an error, a signal, even SIGKILL),
  // the channel closes and Azurite stops itself, so it can never outlive whoever started it.
  const child: ChildProcess = spawn(process.execPath, ["--import", EXIT_WITH_PARENT, ...args], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  try {
    options.whileStarting?.();
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Azurite did not start within ${options.timeoutMs ?? 30000} ms:\n${output}`)),
      options.timeoutMs ?? 30000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Table service is successfully listening/.test(output) && /Queue service is successfully listening/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code}:\n${output}`));
    });
  });
  child.removeAllListeners("exit");
  return {
    tableUrl: `http://127.0.0.1:${tablePort}/${DEV_ACCOUNT}`,
    queueUrl: `http://127.0.0.1:${queuePort}/${DEV_ACCOUNT}`,
    blobUrl: `http://127.0.0.1:${blobPort}/${DEV_ACCOUNT}`,
    connectionString: azuriteConnectionString({ blob: blobPort, queue: queuePort, table: tablePort }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        if (child.connected) child.disconnect();
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}
