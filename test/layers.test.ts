/**
 * The layers of src/ depend one way (README, Layout): commands -> daemon -> platform ->
 * document library -> native layer, and nothing imports a command. Every import of
 * every source file is read with TypeScript's own scanner (comments and strings are not
 * imports; `import type` and `import()` are) and checked against that order, so a
 * dependency that breaks it fails here, in CI, naming the file and the import.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import ts from "typescript";
import { TOP } from "./support/helpers.js";

const SRC = path.join(TOP, "src");

/** Each layer and the layers it may import (itself included). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  native: ["native"],
  document: ["document", "native"],
  platform: ["platform", "document", "native"],
  daemon: ["daemon", "platform", "document", "native"],
  cmd: ["cmd", "daemon", "platform", "document", "native"],
  launch: ["launch", "native"],
};

/** What the layers are called in messages. */
const NAME: Record<string, string> = {
  native: "the native layer",
  document: "the document library",
  platform: "the platform",
  daemon: "the daemon",
  cmd: "the commands",
  launch: "the launcher",
};

interface Import {
  /** The importing file, relative to src/. */
  from: string;
  /** The imported file, relative to src/ ("../x" when outside it). */
  to: string;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

/** The relative imports of `file` (packages and node: built-ins are no layer's). */
function importsOf(file: string): Import[] {
  const text = fs.readFileSync(file, "utf8");
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => ({
      from: path.relative(SRC, file),
      to: path.relative(SRC, path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts"))),
    }));
}

/** The layer of a path relative to src/: its first directory. */
function layerOf(rel: string): string | undefined {
  const top = rel.split(path.sep)[0]!;
  return rel.includes(path.sep) && top in MAY_IMPORT ? top : undefined;
}

/** A command: an entry point bundled into dist/bin (scripts/bundle.mjs), src/cmd/<name>.ts. */
function isCommand(rel: string): boolean {
  const parts = rel.split(path.sep);
  return parts.length === 2 && parts[0] === "cmd" && parts[1] !== "report.ts";
}

/** Every import that breaks the direction, one line each. */
function violations(imports: readonly Import[]): string[] {
  const out: string[] = [];
  for (const { from, to } of imports) {
    const a = layerOf(from);
    const b = layerOf(to);
    if (a === undefined) out.push(`src/${from}: not in a layer directory (${Object.keys(MAY_IMPORT).join(", ")})`);
    else if (b === undefined) out.push(`src/${from} imports '${to}', outside the layers of src/`);
    else if (isCommand(to)) out.push(`src/${from} imports the command src/${to}: nothing imports a command`);
    else if (!MAY_IMPORT[a]!.includes(b)) out.push(`src/${from} imports src/${to}: ${NAME[a]} may import only ${MAY_IMPORT[a]!.map((l) => NAME[l]).join(", ")}`);
  }
  return out;
}

describe("layers of src/", () => {
  const files = sources(SRC);
  const imports = files.flatMap(importsOf);

  test("every source file is in a layer directory", () => {
    const stray = files.map((f) => path.relative(SRC, f)).filter((f) => layerOf(f) === undefined);
    assert.deepEqual(stray, []);
  });

  test("the scanner sees the imports (a check of nothing would pass)", () => {
    assert.ok(files.length > 40, `only ${files.length} source files under ${SRC}`);
    assert.ok(imports.length > 200, `only ${imports.length} imports found`);
  });

  test("every import runs down the layers and none names a command", () => {
    assert.deepEqual(violations(imports), []);
  });

  test("an import against the direction is reported with the file and the import", () => {
    const bad = violations([
      { from: path.join("document", "properties.ts"), to: path.join("platform", "brands.ts") },
      { from: path.join("platform", "platform.ts"), to: path.join("daemon", "server.ts") },
      { from: path.join("daemon", "server.ts"), to: path.join("cmd", "zoneadm.ts") },
      { from: path.join("cmd", "zonecfg.ts"), to: path.join("cmd", "zonecfg", "session.ts") },
    ]);
    assert.deepEqual(bad, [
      "src/document/properties.ts imports src/platform/brands.ts: the document library may import only the document library, the native layer",
      "src/platform/platform.ts imports src/daemon/server.ts: the platform may import only the platform, the document library, the native layer",
      "src/daemon/server.ts imports the command src/cmd/zoneadm.ts: nothing imports a command",
    ]);
  });
});
