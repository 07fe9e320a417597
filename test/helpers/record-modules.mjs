// Preloaded with --import: appends the URL of every module the process resolves to the file named
// by RECORD_MODULES, so a test can tell what a command loaded (ES modules are in no require.cache).
import { register } from "node:module";

const hooks = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.RECORD_MODULES, resolved.url + "\\n");
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
