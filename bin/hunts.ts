/**
 * The `hunts` command line: the same lib/ code as the Functions app.
 *   list | validate | run <id> | serve | backtest | exceptions | digest | prune | start
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { AzuriteInstance } from "../lib/local/azurite.js";
import type { Runtime } from "../lib/runtime.js";

// Each command imports only what it uses when it runs: the whole app (the Azure SDKs, the Kusto
// parser, the engine) takes about a second to load, which a responder converting a few EVTX files or
// listing the hunts would otherwise wait for every time.

const USAGE = `hunts <command> [options]

  list [--json]                         the hunt catalog (--hunts PATH adds Sentinel YAML hunts, on any command)
  validate [--json]                     official Kusto parser diagnostics for every hunt (exit 1 on errors)
  run <id> [--from ISO --to ISO | --lookback 1d] [--data PATH ...] [--dry-run] [--notify] [--json]
                                        an on-demand run; --data reads local log files or folders
  serve [--data PATH ...] [--port 7071] timers on their schedules, the HTTP API, the queue notifier
  serve-logs --data PATH ... [--port 8443]
                                        a local HTTPS stand-in for Log Analytics and Defender XDR over
                                        log files, for any app built on the Azure SDK
  convert --data PATH ... --out DIR    what the readers produce, as NDJSON: one file per table, one row a line
  backtest --data PATH ... [--from ISO --to ISO] [--hunt ID ...] [--json]
                                        replay the history day by day through the scheduled path in a
                                        private Azurite: per day, the alerts, incidents and top entities
  exceptions list [--json]              exceptions in force (benign entities), in the app's storage
  exceptions add --pattern P --reason R --author A (--days N | --expires ISO) [--hunt ID] [--type key|ip|account|host]
                                        a finding whose entity matches P (exact, or a glob with * and ?) is kept but never alerts
  exceptions remove <id>
  digest                                send the digest now
  prune [--json]                        delete state older than the *_RETENTION settings (what the daily
                                        prune-state job does)
  start                                 the full local demo (what npm start runs)

Settings come from the environment (see local.settings.sample.json). Without AzureWebJobsStorage,
run/serve/digest start a private Azurite for the session.`;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

async function appFor(options: { data?: string[] }): Promise<{ app: Runtime; azurite?: AzuriteInstance }> {
  const [{ startAzurite }, { warmUpParser }, { LocalSource }, { reportReadIssues }, { createRuntime }, { lineLogger }] = await Promise.all([
    import("../lib/local/azurite.js"),
    import("../lib/kql/index.js"),
    import("../lib/sources/local.js"),
    import("../lib/readers/index.js"),
    import("../lib/runtime.js"),
    import("../lib/log.js"),
  ]);
  const env: Record<string, string | undefined> = { ...process.env };
  let azurite: AzuriteInstance | undefined;
  if (!env.AzureWebJobsStorage && !env.AzureWebJobsStorage__tableServiceUri) {
    // With local data the engine will parse KQL: its parser starts meanwhile. Commands without data (exceptions, digest,
    // prune) parse none.
    azurite = await startAzurite({ inMemory: true, whileStarting: options.data?.length ? warmUpParser : undefined });
    env.AzureWebJobsStorage = azurite.connectionString;
  }
  try {
    let source;
    if (options.data?.length) {
      // The paths are read here (a path may contain ';' or ','); the settings only say where.
      env.HUNT_SOURCE = "local";
      env.LOCAL_DATA_PATHS = options.data.join(";");
      const loaded = await LocalSource.fromPaths(options.data, { worker: true });
      reportReadIssues(loaded.issues, console.error);
      source = loaded.source;
    }
    return { app: await createRuntime(env, { source, log: lineLogger((m) => console.error(m)) }), azurite };
  } catch (error) {
    // A bad setting or unreadable data: the caller never gets the Azurite to stop.
    await azurite?.stop();
    throw error;
  }
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      from: { type: "string" },
      to: { type: "string" },
      lookback: { type: "string" },
      data: { type: "string", multiple: true },
      "dry-run": { type: "boolean", default: false },
      notify: { type: "boolean", default: false },
      port: { type: "string" },
      hunts: { type: "string" },
      pattern: { type: "string" },
      reason: { type: "string" },
      author: { type: "string" },
      days: { type: "string" },
      expires: { type: "string" },
      type: { type: "string" },
      out: { type: "string" },
      hunt: { type: "string", multiple: true },
    },
  });
  // Imported Sentinel hunts: --hunts PATH, or the IMPORTED_HUNTS_PATH setting.
  const huntsPath = values.hunts ?? process.env.IMPORTED_HUNTS_PATH;
  if (huntsPath) {
    process.env.IMPORTED_HUNTS_PATH = huntsPath;
    const { importSentinelHunts } = await import("../lib/hunts/sentinel.js");
    const { hunts, issues } = await importSentinelHunts(huntsPath);
    for (const issue of issues) console.error(`${issue.file}: ${issue.message}`);
    if (command === "validate" && issues.length) process.exitCode = 1;
    if (command !== "list" || !values.json) console.error(`${hunts.length} hunt(s) imported from ${huntsPath}`);
  }
  switch (command) {
    case "list": {
      const { huntCatalog, scheduleSettingName } = await import("../lib/hunts/catalog.js");
      const hunts = huntCatalog();
      if (values.json)
        return console.log(
          JSON.stringify(
            // JSON.stringify leaves out the undefined members: the listing shows neither the code nor the query.
            hunts.map((h) => ({ ...h, analyze: undefined, query: undefined, scheduleSetting: scheduleSettingName(h.id) })),
            null,
            2,
          ),
        );
      for (const h of hunts)
        console.log(
          `${h.id.padEnd(28)} ${h.severity.padEnd(8)} ${h.schedule.padEnd(14)} ${h.lookback.padEnd(4)} ${h.mitre.techniques.join(",").padEnd(28)} ${h.title}`,
        );
      return;
    }
    case "validate": {
      const { huntCatalog, validateHunt } = await import("../lib/hunts/catalog.js");
      const report = huntCatalog().map((h) => ({ id: h.id, diagnostics: validateHunt(h) }));
      if (values.json) console.log(JSON.stringify(report, null, 2));
      else
        for (const r of report)
          console.log(
            `${r.diagnostics.some((d) => d.severity === "error") ? "FAIL" : "ok  "} ${r.id}${r.diagnostics.map((d) => `\n     ${d.severity} ${d.code} ${d.position.line}:${d.position.column} ${d.message}`).join("")}`,
          );
      if (report.some((r) => r.diagnostics.some((d) => d.severity === "error"))) process.exit(1);
      return;
    }
    case "run": {
      const [{ findHunt, huntCatalog }, { runHuntRequest }] = await Promise.all([
        import("../lib/hunts/catalog.js"),
        import("../lib/http/api.js"),
      ]);
      const id =
        positionals[0] ??
        fail(
          `run needs a hunt id: ${huntCatalog()
            .map((h) => h.id)
            .join(", ")}`,
        );
      if (!findHunt(id)) fail(`no hunt '${id}'`);
      const { app, azurite } = await appFor({ data: values.data });
      try {
        const started = Date.now();
        const timer = setInterval(() => process.stderr.write(`\r  running ${id}... ${Math.round((Date.now() - started) / 1000)} s`), 1000);
        const body = {
          ...(values.from ? { from: values.from } : {}),
          ...(values.to ? { to: values.to } : {}),
          ...(values.lookback ? { lookback: values.lookback } : {}),
          dryRun: values["dry-run"],
          notify: values.notify,
        };
        // Local files: "now" is the end of the data, so a lookback means the last part of the logs.
        const now = values.data?.length && !values.to ? ((await dataEnd(app)) ?? Date.now()) : Date.now();
        const response = await runHuntRequest(app, id, body, now);
        clearInterval(timer);
        process.stderr.write("\r\x1b[2K");
        if (values.json || response.status !== 200) console.log(JSON.stringify(response.body, null, 2));
        else {
          const { run, findings } = response.body as {
            run: { runId: string; window: { start: string; end: string }; rows: number };
            findings: { score: number; alert: boolean; entity: { key: string }; reasons: string[] }[];
          };
          console.log(`${run.runId}  ${run.window.start} .. ${run.window.end}  ${run.rows} rows, ${findings.length} findings`);
          for (const f of findings.slice(0, 30))
            console.log(
              `${String(f.score).padStart(3)}${f.alert ? "!" : " "} ${f.entity.key.slice(0, 60).padEnd(60)} ${f.reasons.join("; ").slice(0, 140)}`,
            );
        }
        if (response.status !== 200) process.exitCode = 1;
      } finally {
        await azurite?.stop();
      }
      return;
    }
    case "serve": {
      const { serve } = await import("../lib/local/serve.js");
      const { app, azurite } = await appFor({ data: values.data });
      const end = values.data?.length ? await dataEnd(app) : undefined;
      const running = await serve(app, { port: values.port ? Number(values.port) : 7071, ...(end ? { now: () => end } : {}) });
      console.log(
        `serving the API at ${running.url}/api/hunts and the logon graph at ${running.url}/api/graph; timers armed; queue notifier polling. Ctrl+C stops.`,
      );
      const stop = async () => {
        await running.stop();
        await azurite?.stop();
        process.exit(0);
      };
      process.on("SIGINT", () => void stop());
      process.on("SIGTERM", () => void stop());
      return;
    }
    case "serve-logs": {
      if (!values.data?.length) fail("serve-logs needs --data PATH");
      const [{ loadLogs, reportReadIssues }, { startServiceEndpoint }] = await Promise.all([
        import("../lib/readers/index.js"),
        import("../lib/local/service-endpoint.js"),
      ]);
      const { tables, issues } = await loadLogs(values.data);
      reportReadIssues(issues, console.error);
      const endpoint = await startServiceEndpoint(tables, { port: values.port ? Number(values.port) : 8443 });
      const caFile = join(tmpdir(), `hunts-endpoint-${process.pid}.pem`);
      writeFileSync(caFile, endpoint.certificate);
      console.log(`Log Analytics: ${endpoint.url}/v1   (LogsQueryClient option endpoint; any workspace id)`);
      console.log(`Defender XDR:  ${endpoint.url}/v1.0/security/runHuntingQuery`);
      console.log(`Trust this certificate in your client (tlsOptions.ca), not machine-wide: ${caFile}`);
      console.log(
        `For this app: HUNT_SOURCE=log-analytics LOG_ANALYTICS_ENDPOINT=${endpoint.url}/v1 SOURCE_TRUSTED_CA_FILE=${caFile} SOURCE_CREDENTIAL=local-development`,
      );
      process.on("SIGINT", () => void endpoint.stop().then(() => process.exit(0)));
      return;
    }
    case "convert": {
      if (!values.data?.length || !values.out) fail("convert needs --data PATH ... and --out DIR");
      const [{ convertLogs }, { reportReadIssues }] = await Promise.all([
        import("../lib/readers/convert.js"),
        import("../lib/readers/index.js"),
      ]);
      const { tables, issues } = await convertLogs(values.data, values.out);
      reportReadIssues(issues, console.error);
      for (const [table, { rows, path }] of Object.entries(tables)) console.log(`${path}  ${rows} ${table} rows`);
      return;
    }
    case "backtest": {
      if (!values.data?.length) fail("backtest needs --data PATH ...");
      await backtestCommand({ data: values.data, from: values.from, to: values.to, huntIds: values.hunt, json: values.json });
      return;
    }
    case "exceptions": {
      const [action, id] = positionals;
      const { parseException } = await import("../lib/exceptions/store.js");
      const { app, azurite } = await appFor({});
      if (azurite) console.error("no AzureWebJobsStorage set: this private Azurite forgets the exceptions when the command ends");
      try {
        const store = app.services.exceptions;
        const now = Date.now();
        if (action === "list") {
          const exceptions = await store.list(now);
          if (values.json) console.log(JSON.stringify(exceptions, null, 2));
          else
            for (const e of exceptions)
              console.log(`${e.id}  ${e.huntId}  ${e.entityType} ${e.pattern}  until ${e.expiresAt}  ${e.author}: ${e.reason}`);
        } else if (action === "add") {
          const expiresAt = values.expires ?? (values.days ? new Date(now + Number(values.days) * 86_400_000).toISOString() : undefined);
          const exception = parseException(
            {
              huntId: values.hunt?.[0] ?? "*",
              entityType: values.type ?? "key",
              pattern: values.pattern,
              reason: values.reason,
              author: values.author,
              expiresAt,
            },
            "cli",
            now,
          );
          await store.add(exception);
          console.log(values.json ? JSON.stringify(exception, null, 2) : `added ${exception.id}`);
        } else if (action === "remove" && id) {
          if (!(await store.remove(id))) fail(`no exception '${id}'`);
          console.log(`removed ${id}`);
        } else fail("exceptions list | add --pattern P --reason R --author A (--days N | --expires ISO) | remove <id>");
      } finally {
        await azurite?.stop();
      }
      return;
    }
    case "digest": {
      const { sendDigest } = await import("../lib/notify/notifier.js");
      const { app, azurite } = await appFor({});
      try {
        console.log(JSON.stringify(await sendDigest(app.findings, app.notifier), null, 2));
      } finally {
        await azurite?.stop();
      }
      return;
    }
    case "prune": {
      const [{ pruneRuntimeState }, { describePrune, PruneError }] = await Promise.all([
        import("../lib/runtime.js"),
        import("../lib/runs/retention.js"),
      ]);
      const { app, azurite } = await appFor({});
      if (azurite) console.error("no AzureWebJobsStorage set: a private Azurite holds nothing to prune");
      try {
        const report = await pruneRuntimeState(app, Date.now());
        console.log(values.json ? JSON.stringify(report, null, 2) : describePrune(report));
      } catch (error) {
        if (!(error instanceof PruneError)) throw error;
        console.log(values.json ? JSON.stringify(error.report, null, 2) : describePrune(error.report));
        console.error(error.message);
        process.exitCode = 1;
      } finally {
        await azurite?.stop();
      }
      return;
    }
    case "start": {
      const { runDemo } = await import("../lib/local/demo.js");
      const result = await runDemo();
      if (result.recall < 1 || result.falsePositives > 0) process.exitCode = 1;
      return;
    }
    default:
      console.log(USAGE);
      if (command && command !== "help" && command !== "--help") process.exitCode = 2;
  }
}

/** `backtest`: always a private Azurite, so a backtest never touches the baselines of a running deployment. */
async function backtestCommand(options: { data: string[]; from?: string; to?: string; huntIds?: string[]; json: boolean }) {
  const [{ findHunt, huntCatalog }, { LocalSource }, { reportReadIssues }, { backtest, backtestPeriod, formatBacktest }] =
    await Promise.all([
      import("../lib/hunts/catalog.js"),
      import("../lib/sources/local.js"),
      import("../lib/readers/index.js"),
      import("../lib/runs/backtest.js"),
    ]);
  const [{ startAzurite }, { warmUpParser }, { createRuntime }, { lineLogger }] = await Promise.all([
    import("../lib/local/azurite.js"),
    import("../lib/kql/index.js"),
    import("../lib/runtime.js"),
    import("../lib/log.js"),
  ]);
  const time = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms : fail(`--${name}: '${value}' is not an ISO date or time`);
  };
  const from = time("from", options.from);
  const to = time("to", options.to);
  const unknown = (options.huntIds ?? []).filter((id) => !findHunt(id));
  if (unknown.length)
    fail(
      `no hunt ${unknown.map((id) => `'${id}'`).join(", ")}; known: ${huntCatalog()
        .map((h) => h.id)
        .join(", ")}`,
    );
  const { source, issues } = await LocalSource.fromPaths(options.data);
  reportReadIssues(issues, console.error);
  const range = source.timeRange() ?? fail(`no timed rows in ${options.data.join(", ")}`);
  const whole = backtestPeriod(range);
  const period = { start: from ?? whole.start, end: to ?? whole.end };
  if (period.end <= period.start) fail(`--to must be after --from (${new Date(period.start).toISOString()})`);
  const hunts = huntCatalog().filter((h) => !options.huntIds?.length || options.huntIds.includes(h.id));
  const present = new Set(source.tableNames());
  const runnable = hunts.filter((h) => h.sources.includes("local") && h.tables.some((t) => present.has(t)));
  for (const h of hunts.filter((x) => !runnable.includes(x)))
    console.error(`${h.id}: skipped, none of its tables (${h.tables.join(", ")}) is in the data`);
  const azurite = await startAzurite({ inMemory: true, whileStarting: warmUpParser });
  try {
    const env = {
      ...process.env,
      AzureWebJobsStorage: azurite.connectionString,
      HUNT_SOURCE: "local",
      LOCAL_DATA_PATHS: options.data.join(";"),
    };
    const app = await createRuntime(env, { source, log: lineLogger((m) => console.error(m)), soleWriter: true });
    const report = await backtest(runnable, app.services, period, (huntId, day, days) => {
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K  ${huntId}: day ${day}/${days}`);
    });
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
    console.log(options.json ? JSON.stringify(report, null, 2) : formatBacktest(report));
    if (report.failures.length) process.exitCode = 1;
  } finally {
    await azurite.stop();
  }
}

/** Just after the latest event in the local data, so `--lookback` reads the end of an export. */
async function dataEnd(app: Runtime): Promise<number | undefined> {
  const { LocalSource } = await import("../lib/sources/local.js");
  const source = app.services.source;
  const range = source instanceof LocalSource ? source.timeRange() : undefined;
  return range && range.end + 1;
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
