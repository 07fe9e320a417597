/**
 * ARCHITECTURE.md's layers, checked: every import in lib/, functions/ and bin/ goes to its own
 * layer or one below, never above, and no two folders import each other (even through others).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Lowest first; the same list, with what each layer is for, is in ARCHITECTURE.md. */
export const LAYERS: readonly (readonly string[])[] = [
  ["lib/time", "lib/log", "lib/json", "lib/state"],
  ["lib/kql"],
  ["lib/schemas"],
  ["lib/readers", "lib/baselines"],
  ["lib/sources", "lib/synth"],
  ["lib/logontracer"],
  ["lib/hunts"],
  ["lib/scoring"],
  ["lib/findings"],
  ["lib/incidents", "lib/exceptions", "lib/links"],
  ["lib/notify"],
  ["lib/runs"],
  ["lib/quality", "lib/settings", "lib/settings-files"],
  ["lib/runtime"],
  ["lib/http"],
  ["lib/host"],
  ["lib/local", "functions"],
  ["bin"],
];

/** The module a file belongs to: a folder under lib/, a file directly in lib/, or functions/ and bin/. */
function moduleOf(file: string): string {
  const parts = relative(ROOT, file).replace(/\\/g, "/").split("/");
  if (parts[0] !== "lib") return parts[0];
  return parts.length === 2 ? `lib/${parts[1].replace(/\.ts$/, "")}` : `lib/${parts[1]}`;
}

function layerOf(module: string): number {
  const index = LAYERS.findIndex((layer) => layer.includes(module));
  if (index < 0) throw new Error(`${module} is in no layer of ARCHITECTURE.md`);
  return index;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "browser" ? [] : sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s+"(\.{1,2}\/[^"]+)"/g)].map((m) =>
    join(file, "..", m[1].replace(/\.js$/, ".ts")),
  );
}

describe("architecture", () => {
  const files = ["lib", "functions", "bin"].flatMap((d) => sourceFiles(join(ROOT, d)));
  const edges = new Map<string, Set<string>>();
  for (const file of files) {
    const from = moduleOf(file);
    for (const target of imports(file)) {
      const to = moduleOf(target);
      if (to !== from) edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }

  it("no module imports one above it", () => {
    const upward = [...edges].flatMap(([from, targets]) =>
      [...targets].filter((to) => layerOf(to) > layerOf(from)).map((to) => `${from} -> ${to}`),
    );
    expect(upward).toEqual([]);
  });

  it("no folder cycles", () => {
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      for (const next of edges.get(node) ?? []) {
        if (next === path[0]) cycles.push([...path, next].join(" -> "));
        else if (!path.includes(next) && layerOf(next) === layerOf(path[0])) visit(next, [...path, next]);
      }
    };
    for (const node of edges.keys()) visit(node, [node]);
    expect(cycles).toEqual([]);
  });

  it("lib/ never imports the Functions host", () => {
    const offenders = files.filter((f) => moduleOf(f).startsWith("lib/") && /from "@azure\/functions"/.test(readFileSync(f, "utf8")));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
