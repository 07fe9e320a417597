/** `npm run docs`: regenerates the README's hunt table from the catalog and its supported-KQL list from the engine. */
import { readFileSync, writeFileSync } from "node:fs";
import { replaceHuntsSection } from "../lib/hunts/docs.js";
import { supportedKqlMarkdown } from "../lib/kql/support.js";

const KQL_START = "<!-- kql-support:start -->";
const KQL_END = "<!-- kql-support:end -->";

/** Replaces the text between the kql-support markers; a README without them is left as it is. */
function replaceKqlSection(text: string): string {
  const start = text.indexOf(KQL_START);
  const end = text.indexOf(KQL_END);
  if (start < 0 || end < start) return text;
  return `${text.slice(0, start + KQL_START.length)}\n\n${supportedKqlMarkdown()}\n\n${text.slice(end)}`;
}

const path = new URL("../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = replaceKqlSection(replaceHuntsSection(before));
if (after !== before) writeFileSync(path, after);
console.log(after === before ? "README generated sections are up to date" : "README generated sections regenerated");
