// Bundle each command into one CommonJS file under dist/bin: a command then starts
// in ~15 ms of Node instead of ~60 ms spent resolving and linking two dozen ES modules.
// tsc (npm run build) type-checks and compiles the tests; this only packs the commands.
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const commands = readdirSync("src/cmd").filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).filter((c) => c !== "report");
await build({
  entryPoints: Object.fromEntries(commands.map((c) => [c, `src/cmd/${c}.ts`])),
  outdir: "dist/bin",
  outExtension: { ".js": ".cjs" },
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  external: ["koffi"],
  // import.meta.url has no CommonJS meaning: give it this file's URL.
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { "import.meta.url": "__importMetaUrl" },
  logLevel: "warning",
});
