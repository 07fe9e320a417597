/**
 * The local KQL engine against DuckDB on the same rows: the brute-force-by-source-IP shape
 * (where + extend + summarize with countif/dcount). Both run in this process, one after the
 * other, on identical data; only query time is measured (loading is excluded for both).
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { runQuery } from "../lib/kql/index.js";
import type { Table } from "../lib/kql/types.js";
import { plainText } from "../lib/kql/values.js";
import { generateSecurityVolume } from "../lib/synth/security-volume.js";
import { bestOf, peakRssMiB, type BenchSection } from "./measure.js";
import { TABLE_SCHEMAS } from "../lib/schemas/index.js";

export const BRUTE_FORCE_KQL = `SecurityEvent
| where EventID in (4624, 4625) and LogonType == 3
| where isnotempty(IpAddress) and IpAddress != "-"
| where SubStatus !in~ ("0xC000015B", "0xC000005E", "0xC0000133", "0xC0000192")
| extend Failed = EventID == 4625
| summarize FailedCount = countif(Failed), SuccessCount = countif(not(Failed)), Users = dcount(TargetUserName) by IpAddress
| where FailedCount >= 100`;

export const BRUTE_FORCE_SQL = `SELECT IpAddress,
  count(*) FILTER (WHERE EventID = 4625) AS FailedCount,
  count(*) FILTER (WHERE EventID <> 4625) AS SuccessCount,
  count(DISTINCT TargetUserName) AS Users
FROM SecurityEvent
WHERE EventID IN (4624, 4625) AND LogonType = 3
  AND IpAddress <> '' AND IpAddress <> '-'
  AND lower(SubStatus) NOT IN ('0xc000015b', '0xc000005e', '0xc0000133', '0xc0000192')
GROUP BY IpAddress
HAVING count(*) FILTER (WHERE EventID = 4625) >= 100`;

async function loadIntoDuckDb(table: Table) {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  await connection.run(`CREATE TABLE SecurityEvent (TimeGenerated DOUBLE, Computer VARCHAR, EventID INTEGER, Account VARCHAR,
    TargetUserName VARCHAR, TargetDomainName VARCHAR, IpAddress VARCHAR, IpPort VARCHAR, LogonType INTEGER, Status VARCHAR,
    SubStatus VARCHAR, AuthenticationPackageName VARCHAR, LogonProcessName VARCHAR, WorkstationName VARCHAR)`);
  const appender = await connection.createAppender("SecurityEvent");
  for (const row of table.rows) {
    row.forEach((value, i) => {
      if (value === null) appender.appendNull();
      else if (i === 0) appender.appendDouble(value as number);
      else if (i === 2 || i === 8) appender.appendInteger(value as number);
      else appender.appendVarchar(value as string);
    });
    appender.endRow();
  }
  appender.closeSync();
  return { instance, connection };
}

export async function benchEngine(sizes: number[]): Promise<BenchSection> {
  const runs = [];
  for (const size of sizes) {
    const table = generateSecurityVolume({ seed: 7, rows: size, start: Date.UTC(2024, 9, 1), spanMs: 7 * 86_400_000 });
    const tables = { SecurityEvent: table };
    runQuery(BRUTE_FORCE_KQL, { tables, schemas: TABLE_SCHEMAS }); // warm the parser and JIT
    const { instance, connection } = await loadIntoDuckDb(table);
    await connection.runAndReadAll(BRUTE_FORCE_SQL);
    // Interleaved, best of seven each: both see the same machine conditions.
    let engine = await bestOf(1, () => runQuery(BRUTE_FORCE_KQL, { tables, schemas: TABLE_SCHEMAS }).table);
    let duck = await bestOf(1, async () => (await connection.runAndReadAll(BRUTE_FORCE_SQL)).getRows());
    for (let i = 0; i < 6; i++) {
      const e = await bestOf(1, () => runQuery(BRUTE_FORCE_KQL, { tables, schemas: TABLE_SCHEMAS }).table);
      if (e.seconds < engine.seconds) engine = e;
      const d = await bestOf(1, async () => (await connection.runAndReadAll(BRUTE_FORCE_SQL)).getRows());
      if (d.seconds < duck.seconds) duck = d;
    }
    const engineRss = peakRssMiB();
    connection.closeSync();
    instance.closeSync();

    // Both must agree before their speeds mean anything.
    const ours = new Map(engine.result.rows.map((r) => [plainText(r[0]), r.slice(1).map(Number).join(",")]));
    const theirs = new Map(duck.result.map((r) => [String(r[0]), r.slice(1).map(Number).join(",")]));
    const agree = ours.size === theirs.size && [...ours].every(([k, v]) => theirs.get(k) === v);
    if (!agree) throw new Error(`engine and DuckDB disagree at ${size} rows: ${ours.size} vs ${theirs.size} groups`);

    runs.push({
      rows: size,
      groups: ours.size,
      engine: { seconds: engine.seconds, rowsPerSecond: Math.round(size / engine.seconds) },
      duckdb: { seconds: duck.seconds, rowsPerSecond: Math.round(size / duck.seconds) },
      engineToDuckdbTimeRatio: Number((engine.seconds / duck.seconds).toFixed(2)),
      peakRssMiBAfterEngine: engineRss,
    });
    console.log(
      `engine ${size.toLocaleString()} rows: ${engine.seconds.toFixed(3)} s (${Math.round(size / engine.seconds).toLocaleString()} rows/s); ` +
        `DuckDB ${duck.seconds.toFixed(3)} s; ratio ${(engine.seconds / duck.seconds).toFixed(2)}x; ${ours.size} groups agree`,
    );
  }
  const largest = runs[runs.length - 1];
  return {
    query: BRUTE_FORCE_KQL,
    sql: BRUTE_FORCE_SQL,
    runs,
    targets: {
      "1M rows under 2 s": largest.rows >= 1_000_000 ? largest.engine.seconds < 2 : null,
      "within 5x of DuckDB": largest.engineToDuckdbTimeRatio <= 5,
      "peak RSS under 1 GiB": peakRssMiB() < 1024,
    },
  };
}
