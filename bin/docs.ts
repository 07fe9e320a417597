/** `npm run docs`: regenerates the README's hunt table from the catalog. */
import { readFileSync, writeFileSync } from "node:fs";
import { replaceHuntsSection } from "../lib/hunts/docs.js";

const path = new URL("../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = replaceHuntsSection(before);
if (after !== before) writeFileSync(path, after);
console.log(after === before ? "README hunts table is up to date" : "README hunts table regenerated");
