/**
 * zlogin(1): log into a zone, or run a command in it.
 *   zlogin [-EQS] [-l user] zone                     interactive login
 *   zlogin [-nEQS] [-l user] zone utility [argument...]
 * Without a utility and with a terminal on standard input, the user's login shell runs
 * on a pseudo-terminal allocated inside the zone (its own /dev/pts; the runtime relays
 * it, passes window-size changes on and keeps no host terminal in the zone). Without a
 * terminal, the shell reads standard input. One utility argument is a command line for
 * the user's shell (`zlogin z 'cd /etc; ls'`); several reach the program exactly as
 * given. SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on; the exit status is the
 * command's. Exit 1 when the zone cannot be reached, as in illumos.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { constants } from "node:os";
import * as path from "node:path";
import { EXIT_ERR, UsageError, ZoneError } from "../lib/errors.js";
import { checkZoneName } from "../lib/names.js";
import { makeRuntime, type RuntimeName } from "../lib/oci/runtime.js";
import type { OciProcess } from "../lib/oci/spec.js";
import { zonePaths } from "../lib/paths.js";
import { processTemplateFile, readRun, zoneRunDir } from "../lib/runstate.js";
import { zoneUser } from "../lib/zoneusers.js";
import { call } from "../daemon/client.js";
import { failure } from "./report.js";

const USAGE = "usage: zlogin [-EQS] [-l user] zone\n       zlogin [-nEQS] [-l user] zone utility [argument...]";

interface Args {
  zone: string;
  user: string;
  nullInput: boolean;
  quiet: boolean;
  /** Safe mode: root's plain /bin/sh, no login shell, for repairs. */
  safe: boolean;
  argv: string[];
}

function parseArgs(argv: string[]): Args {
  let user: string | undefined;
  let nullInput = false;
  let quiet = false;
  let safe = false;
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a === "-n") nullInput = true;
    else if (a === "-Q") quiet = true;
    else if (a === "-S") safe = true;
    else if (a === "-E") continue; // no escape character: the only mode there is yet
    else if (a === "-l") {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`-l needs a user name\n${USAGE}`);
      user = v;
    } else if (["-C", "-d", "-e"].includes(a)) throw new UsageError(`${a} belongs to the zone console and escape characters, which are not built yet\n${USAGE}`);
    else throw new UsageError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (safe && user !== undefined) throw new UsageError(`-S and -l cannot be used together\n${USAGE}`);
  const zone = argv[i];
  if (zone === undefined) throw new UsageError(USAGE);
  return { zone, user: user ?? "root", nullInput, quiet, safe, argv: argv.slice(i + 1) };
}

/** Is `pid` a live process (not a zombie)? */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<number> {
  let prefix = "zlogin";
  try {
    const a = parseArgs(argv);
    checkZoneName(a.zone);
    prefix = `zlogin: zone '${a.zone}'`;
    const paths = zonePaths();
    // zoneadmd must be watching the zones (it is started if not running); this does not
    // wait for it: the zone's own run state says whether it is running.
    const daemon = call(paths, { op: "ping" }).catch((e: Error) => e);
    const run = readRun(paths, a.zone);
    if (!run || !run.booted || !alive(run.pid)) {
      await daemon; // lets the daemon reconcile a zone whose init died
      throw new ZoneError(fs.existsSync(paths.configDir) && zoneExists(paths.configDir, a.zone) ? "zone is not running" : "no such zone configured");
    }
    // Safe mode trusts nothing of the zone's account files: root, /bin/sh.
    const u = a.safe ? { name: "root", uid: 0, gid: 0, home: "/", shell: "/bin/sh" } : zoneUser(run.root, a.user);
    const template = JSON.parse(fs.readFileSync(processTemplateFile(paths, a.zone), "utf8")) as OciProcess;
    const interactive = a.argv.length === 0 && process.stdin.isTTY === true && !a.nullInput;
    const args = a.argv.length === 1 ? [u.shell, "-c", a.argv[0]!] : a.argv.length > 1 ? a.argv : interactive && !a.safe ? [u.shell, "-l"] : [u.shell];
    const proc: OciProcess = {
      ...template,
      terminal: interactive,
      user: { uid: u.uid, gid: u.gid },
      args,
      cwd: interactive && isZoneDir(run.root, u.home) ? u.home : "/",
      env: [
        ...template.env.filter((e) => !e.startsWith("TERM=")),
        `TERM=${process.env.TERM || "xterm"}`,
        `HOME=${u.home}`,
        `USER=${u.name}`,
        `LOGNAME=${u.name}`,
        `SHELL=${u.shell}`,
      ],
    };
    const processFile = path.join(zoneRunDir(paths, a.zone), `exec-${process.pid}.json`);
    fs.writeFileSync(processFile, JSON.stringify(proc), { mode: 0o600 });
    const [bin, ...rargs] = makeRuntime(run.runtime as RuntimeName, paths.runDir).execArgv(a.zone, { processFile });
    if (interactive && !a.quiet) process.stdout.write(`[Connected to zone '${a.zone}']\n`);
    const child = spawn(bin!, rargs, { stdio: [a.nullInput ? "ignore" : "inherit", "inherit", "inherit"] });
    // The runtime passes the signals it gets to the process in the zone.
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) process.on(sig, () => child.kill(sig));
    const code = await new Promise<number>((resolve) => {
      child.on("error", (e) => resolve(failure(prefix, new ZoneError(`cannot start ${bin}: ${e.message}`))));
      child.on("exit", (c, signal) => resolve(c ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
    fs.rmSync(processFile, { force: true });
    if (interactive && !a.quiet) process.stdout.write(`\n[Connection to zone '${a.zone}' closed]\n`);
    await daemon;
    return code;
  } catch (e) {
    const code = failure(prefix, e);
    return code === 2 ? 2 : EXIT_ERR;
  }
}

/** Is `dir` (a path inside the zone) a directory there? Checked without following links. */
function isZoneDir(root: string, dir: string): boolean {
  if (!dir.startsWith("/") || dir.split("/").includes("..")) return false;
  try {
    return fs.lstatSync(path.join(root, dir)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether the repository index names the zone (read directly: zlogin stays small). */
function zoneExists(configDir: string, name: string): boolean {
  try {
    return fs.readFileSync(path.join(configDir, "index"), "utf8").split("\n").some((l) => l.startsWith(`${name}:`));
  } catch {
    return false;
  }
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
