/**
 * Reads the table schemas Sentinel's KQL validation uses (Azure-Sentinel,
 * `.script/tests/KqlvalidationsTests/CustomTables/*.json`) and writes them as compact data into
 * sentinel-tables.json. Run: `npx tsx lib/schemas/custom-tables.ts <folder> [<folder> ...]`.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import type { Column } from "../kql/types.js";
import { normalizeTypeName } from "../kql/types.js";

const Property = z.union([
  z.object({ Name: z.string().min(1), Type: z.string().min(1) }).transform((p) => ({ name: p.Name, type: p.Type })),
  z.object({ name: z.string().min(1), type: z.string().min(1) }),
]);

const CustomTable = z.object({ Name: z.string().min(1), Properties: z.array(Property) });

/** One CustomTables document as a table name and its columns; duplicate columns keep their first type. */
export function parseCustomTable(document: unknown, file: string): { name: string; columns: Column[] } {
  const parsed = CustomTable.safeParse(document);
  if (!parsed.success) throw new Error(`${file}: not a CustomTables schema (${parsed.error.issues[0]?.message ?? "invalid"})`);
  const columns: Column[] = [];
  for (const property of parsed.data.Properties) {
    if (columns.some((c) => c.name === property.name)) continue;
    const type = normalizeTypeName(property.type);
    if (!type) throw new Error(`${file}: column '${property.name}' has unknown type '${property.type}'`);
    columns.push({ name: property.name, type });
  }
  return { name: parsed.data.Name, columns };
}

/** The compact form stored in sentinel-tables.json: `Name` for a string column, `Name:type` otherwise. */
export function compactColumns(columns: readonly Column[]): string {
  return columns.map((c) => (c.type === "string" ? c.name : `${c.name}:${c.type}`)).join(" ");
}

export function expandColumns(compact: string): Column[] {
  return compact
    .split(/\s+/)
    .filter(Boolean)
    .map((entry) => {
      const [name, typeName] = entry.split(":");
      return { name, type: (typeName && normalizeTypeName(typeName)) || "string" };
    });
}

async function main(folders: string[]) {
  const target = new URL("./sentinel-tables.json", import.meta.url);
  const data = JSON.parse(await readFile(target, "utf8")) as { tables: Record<string, string> };
  for (const folder of folders) {
    for (const file of (await readdir(folder)).filter((f) => f.endsWith(".json")).sort()) {
      try {
        const table = parseCustomTable(JSON.parse(await readFile(join(folder, file), "utf8")), file);
        data.tables[table.name] = compactColumns(table.columns);
      } catch (error) {
        console.error((error as Error).message); // one bad file never stops the others
      }
    }
  }
  data.tables = Object.fromEntries(Object.entries(data.tables).sort(([a], [b]) => a.localeCompare(b)));
  await writeFile(target, `${JSON.stringify(data, null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
