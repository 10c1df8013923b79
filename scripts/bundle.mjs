// Bundle each command into one CommonJS file under dist/bin: a command then starts
// in ~15 ms of Node instead of ~60 ms spent resolving and linking two dozen ES modules.
// tsc (npm run build) type-checks and compiles the tests; this only packs the commands.
import { build } from "esbuild";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";

// Node's built-in modules that its own start does not load: each costs 1-5 ms to load
// (crypto ~4, child_process ~5 with net and stream), and most runs of a command need
// none of them (zonecfg needs crypto only for a new zone's uuid, readline only at a
// terminal). The commands get them on first use instead (see lazyBuiltins).
const LAZY = ["child_process", "crypto", "dgram", "module", "net", "os", "readline", "stream", "tty"];
// The daemon starts once and keeps running: it keeps Node's modules as they are.
const EAGER_COMMANDS = new Set(["zoneadmd"]);

/**
 * esbuild wraps `import * as fs from "node:fs"` in __toESM, which copies each of the
 * module's ~100 properties into a new object at start: ~10 ms for a command's two dozen
 * such imports. A built-in module needs none of it: it has no `default` to add, and
 * the copy only mirrors it. The build fails if some code does use `.default` on one.
 */
function plainBuiltins(name, js) {
  const vars = [];
  const out = js.replace(/^var (\w+) = __toESM\((require\("node:[\w/]+"\)), 1\);$/gm, (_, v, req) => {
    vars.push(v);
    return `var ${v} = ${req};`;
  });
  for (const v of vars)
    if (new RegExp(`\\b${v}\\.default\\b`).test(out)) throw new Error(`bundle ${name}: ${v}.default is used; a built-in module has no default export`);
  return out;
}

/** Each `var x = require("node:<lazy>")` becomes an object that loads the module on first use. */
function lazyBuiltins(js) {
  const lazy = new RegExp(`^var (\\w+) = require\\("node:(${LAZY.join("|")})"\\);$`, "gm");
  return js.replace(lazy, (_, v, m) => `var ${v} = __lazyBuiltin("node:${m}");`);
}

// A property read loads the module; the rest (keys, `in`) never happens on a module
// namespace in this code, so only `get` is trapped.
const LAZY_HELPER = `function __lazyBuiltin(id) { let m; return new Proxy({}, { get: (_, k) => (m ??= require(id))[k] }); }\n`;

const commands = readdirSync("src/cmd").filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).filter((c) => c !== "report");
const result = await build({
  // _cached: the launchers' code-cache loader (src/launch/cached.ts).
  entryPoints: { ...Object.fromEntries(commands.map((c) => [c, `src/cmd/${c}.ts`])), _cached: "src/launch/cached.ts" },
  outdir: "dist/bin",
  outExtension: { ".js": ".cjs" },
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  external: ["koffi"],
  write: false,
  // import.meta.url has no CommonJS meaning: give it this file's URL, computed when
  // asked (loading the URL machinery at start costs ~1 ms; only sys.ts and the daemon's
  // client ask).
  banner: { js: "const __importMeta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
  define: { "import.meta.url": "__importMeta.url" },
  logLevel: "warning",
});
mkdirSync("dist/bin", { recursive: true });
for (const f of result.outputFiles) {
  const name = path.basename(f.path, ".cjs");
  let js = plainBuiltins(name, f.text);
  if (!EAGER_COMMANDS.has(name)) {
    js = lazyBuiltins(js);
    // After the banner line, before any module code runs.
    const nl = js.indexOf("\n") + 1;
    js = js.slice(0, nl) + LAZY_HELPER + js.slice(nl);
  }
  writeFileSync(f.path, js);
}
