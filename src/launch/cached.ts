/**
 * Start a bundled command with V8's code cache: `node dist/bin/_cached.cjs NAME ARGS...`
 * runs dist/bin/NAME.cjs as `node dist/bin/NAME.cjs ARGS...` would, minus most of the
 * 3-5 ms V8 spends parsing and compiling a 100 KiB bundle at every start (the launchers
 * in bin/ use it; see scripts/node-command.sh).
 *
 * The cache holds V8's bytecode for the functions one run compiled. Its file name holds
 * the bundle's size, modification time and inode and Node's version, so a rebuilt or
 * edited bundle never meets the cache of another (and V8 itself refuses a cache made by
 * another V8, other flags or for a source of another length). It lives in
 * dist/bin/.v8-cache, never within a zone's reach, and is used only if that directory
 * and the file are this user's own and nobody else can write them. Anything wrong with
 * the cache costs only the cache: the command then runs as if there were none.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as vm from "node:vm";

type Wrapper = (exports: object, req: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

const euid = process.geteuid?.() ?? 0;

/** The file's bytes if it is a regular file of ours in a directory of ours nobody else can write. */
function readOwn(dir: string, file: string): Buffer | undefined {
  try {
    const d = fs.lstatSync(dir);
    if (!d.isDirectory() || d.uid !== euid || (d.mode & 0o022) !== 0) return undefined;
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.uid !== euid || (st.mode & 0o022) !== 0) return undefined;
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** Store the cache for the next run, replacing those of earlier builds of this command. */
function store(dir: string, file: string, name: string, data: Buffer): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch {
    // it exists (readOwn checks it next time), or it cannot be made: no cache then
  }
  try {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data, { mode: 0o600 });
    fs.renameSync(tmp, file);
    for (const f of fs.readdirSync(dir)) if (f.startsWith(`${name}-`) && path.join(dir, f) !== file) fs.rmSync(path.join(dir, f), { force: true });
  } catch {
    // a read-only checkout, a full disk: the next run compiles again
  }
}

function main(): void {
  const name = process.argv[2] ?? "";
  // Hyphens inside a name, for svc-zones (the illumos service method's name).
  if (!/^[a-z]+(-[a-z]+)*$/.test(name)) {
    process.stderr.write(`_cached: no command named ${JSON.stringify(name)}\n`);
    process.exit(2);
  }
  const file = path.join(__dirname, `${name}.cjs`);
  // The command sees the argv it would see run directly.
  process.argv.splice(1, 2, file);
  let run: Wrapper;
  try {
    const fd = fs.openSync(file, "r");
    let src: string;
    let st: fs.BigIntStats;
    try {
      st = fs.fstatSync(fd, { bigint: true });
      src = fs.readFileSync(fd, "utf8");
    } finally {
      fs.closeSync(fd);
    }
    const dir = path.join(__dirname, ".v8-cache");
    const cacheFile = path.join(dir, `${name}-${st.size}-${st.mtimeNs}-${st.ino}-${process.version}.bin`);
    const cached = readOwn(dir, cacheFile);
    // Node's own CommonJS wrapper, on the same line as the first line: stack traces
    // name the bundle's lines as they do without the cache.
    const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${src}\n})`, { filename: file, cachedData: cached });
    if (cached === undefined || script.cachedDataRejected === true)
      process.once("exit", () => store(dir, cacheFile, name, script.createCachedData()));
    run = script.runInThisContext() as Wrapper;
  } catch {
    // No cache: the bundle as node would load it.
    require(file);
    return;
  }
  const module = { exports: {} };
  // This file's require resolves from dist/bin, as the bundle's own would.
  run(module.exports, require, module, file, __dirname);
}

main();
