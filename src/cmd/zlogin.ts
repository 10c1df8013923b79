/**
 * zlogin(1): run a command in a zone.
 *   zlogin [-n] [-l user] zone utility [argument...]
 * One utility argument is a command line for the user's shell (`zlogin z 'cd /etc; ls'`);
 * several reach the program exactly as given. Standard input, output and error are the
 * caller's; SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on; the exit status is the
 * command's. Exit 1 when the zone cannot be reached, as in illumos.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { constants } from "node:os";
import * as path from "node:path";
import { EXIT_ERR, UsageError, ZoneError } from "../lib/errors.js";
import { checkZoneName } from "../lib/names.js";
import { makeRuntime, type RuntimeName } from "../lib/oci/runtime.js";
import { zoneProcess } from "../lib/oci/spec.js";
import { zonePaths } from "../lib/paths.js";
import { Repository } from "../lib/repository.js";
import { readRun, zoneRunDir } from "../lib/runstate.js";
import { zoneUser } from "../lib/zoneusers.js";
import { call } from "../daemon/client.js";
import { failure } from "./report.js";

const USAGE = "usage: zlogin [-n] [-l user] zone utility [argument...]";

interface Args {
  zone: string;
  user: string;
  nullInput: boolean;
  argv: string[];
}

function parseArgs(argv: string[]): Args {
  let user = "root";
  let nullInput = false;
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a === "-n") nullInput = true;
    else if (a === "-l") {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`-l needs a user name\n${USAGE}`);
      user = v;
    } else if (["-E", "-Q", "-S", "-C", "-d", "-e"].includes(a)) throw new UsageError(`${a} belongs to interactive and console logins, which are not built yet\n${USAGE}`);
    else throw new UsageError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
  }
  const zone = argv[i];
  if (zone === undefined) throw new UsageError(USAGE);
  const rest = argv.slice(i + 1);
  if (rest.length === 0) throw new UsageError(`interactive login (no utility) is not built yet; give a command\n${USAGE}`);
  return { zone, user, nullInput, argv: rest };
}

async function main(argv: string[]): Promise<number> {
  let prefix = "zlogin";
  try {
    const a = parseArgs(argv);
    checkZoneName(a.zone);
    prefix = `zlogin: zone '${a.zone}'`;
    const paths = zonePaths();
    // zoneadmd must be watching the zone (it is started if not): it reconciles a zone
    // whose init died while it was away, before we look at the zone's state.
    const ping = await call(paths, { op: "ping" });
    if (!ping.ok) throw new ZoneError(ping.error);
    const repo = new Repository(paths);
    const entry = repo.find(a.zone);
    if (!entry) throw new ZoneError("no such zone configured");
    const run = readRun(paths, a.zone);
    if (entry.state !== "running" || !run) throw new ZoneError(`zone is not running (it is ${entry.state})`);
    const z = repo.load(a.zone);
    const u = zoneUser(path.join(z.zonepath, "root"), a.user);
    const args = a.argv.length === 1 ? [u.shell, "-c", a.argv[0]!] : a.argv;
    const proc = zoneProcess(z, args, { uid: u.uid, gid: u.gid }, [`HOME=${u.home}`, `USER=${u.name}`, `LOGNAME=${u.name}`, `SHELL=${u.shell}`]);
    const processFile = path.join(zoneRunDir(paths, a.zone), `exec-${process.pid}.json`);
    fs.writeFileSync(processFile, JSON.stringify(proc), { mode: 0o600 });
    const [bin, ...rargs] = makeRuntime(run.runtime as RuntimeName, paths.runDir).execArgv(a.zone, { processFile });
    const child = spawn(bin!, rargs, { stdio: [a.nullInput ? "ignore" : "inherit", "inherit", "inherit"] });
    // The runtime passes the signals it gets to the process in the zone.
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) process.on(sig, () => child.kill(sig));
    return await new Promise<number>((resolve) => {
      child.on("error", (e) => {
        fs.rmSync(processFile, { force: true });
        resolve(failure(prefix, new ZoneError(`cannot start ${bin}: ${e.message}`)));
      });
      child.on("exit", (code, signal) => {
        fs.rmSync(processFile, { force: true });
        resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
      });
    });
  } catch (e) {
    const code = failure(prefix, e);
    return code === 2 ? 2 : EXIT_ERR;
  }
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
