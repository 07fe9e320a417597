/**
 * `npm run gen:settings`: writes the schedule settings of infra/main.bicepparam and
 * local.settings.sample.json from the hunt catalog. `--check` only says whether they are current
 * (exit 1 when not), for CI.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { generatedBicepParam, generatedLocalSettings } from "../lib/settings-files.js";

const check = process.argv.includes("--check");
const files = [
  { path: new URL("../infra/main.bicepparam", import.meta.url), generate: generatedBicepParam },
  { path: new URL("../local.settings.sample.json", import.meta.url), generate: generatedLocalSettings },
];
let stale = 0;
for (const { path, generate } of files) {
  const before = readFileSync(path, "utf8");
  const after = generate(before);
  if (after === before) continue;
  stale++;
  if (check) console.error(`${path.pathname}: schedule settings differ from the hunt catalog; run npm run gen:settings`);
  else writeFileSync(path, after);
}
console.log(stale === 0 ? "schedule settings are up to date" : check ? `${stale} file(s) out of date` : `${stale} file(s) regenerated`);
if (check && stale) process.exitCode = 1;
