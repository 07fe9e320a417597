/**
 * `npm run build`'s last step: bundles the logon graph page's browser code with Cytoscape.js and
 * writes it into dist/ beside the compiled page module, which reads it from there.
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { PAGE_DIR, PAGE_SCRIPT_FILE, writePageScript } from "../lib/logontracer/page/bundle.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = process.argv[2] ?? "dist";
const outfile = join(root, outDir, relative(root, PAGE_DIR), PAGE_SCRIPT_FILE);
writePageScript(outfile);
process.stdout.write(`wrote ${relative(root, outfile)}\n`);
