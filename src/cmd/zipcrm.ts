/**
 * zipcrm: remove System V IPC objects in one zone's namespace (named so as not to
 * shadow ipcrm).
 *   zipcrm [-z zone] {-m shmid | -q msqid | -s semid | -M shmkey | -Q msgkey | -S semkey}...
 * Without -z, the caller's own zone. Only the global zone may name another zone; it
 * removes there by running util-linux ipcrm inside that zone's IPC namespace, so an
 * id or key can never reach an object of another zone.
 */
import { spawnSync } from "node:child_process";
import { EXIT_ERR, EXIT_OK, UsageError, ZoneError } from "../native/errors.js";
import { targetZone, zoneInit } from "../platform/ipc.js";
import { checkZoneName } from "../document/names.js";
import { zonePaths } from "../document/store/paths.js";
import { currentZoneName } from "../platform/zonename.js";
import { failure } from "./report.js";

const USAGE = "usage: zipcrm [-z zone] {-m shmid | -q msqid | -s semid | -M shmkey | -Q msgkey | -S semkey}...";
const BY_ID = new Set(["-m", "-q", "-s"]);
const BY_KEY = new Set(["-M", "-Q", "-S"]);

function parseArgs(argv: string[]): { zone: string | undefined; ops: string[] } {
  let zone: string | undefined;
  const ops: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === "-z") {
      if (v === undefined) throw new UsageError(`-z needs a zone name\n${USAGE}`);
      checkZoneName(v);
      zone = v;
    } else if (BY_ID.has(a)) {
      if (v === undefined || !/^\d{1,10}$/.test(v) || Number(v) > 0x7fffffff) throw new UsageError(`${a} needs an id, a number: ${JSON.stringify(v ?? "")}\n${USAGE}`);
      ops.push(a, v);
    } else if (BY_KEY.has(a)) {
      if (v === undefined || !/^(0x[0-9a-fA-F]{1,8}|\d{1,10})$/.test(v) || Number(v) > 0xffffffff) throw new UsageError(`${a} needs a key, a number or 0x hex: ${JSON.stringify(v ?? "")}\n${USAGE}`);
      if (Number(v) === 0) throw new UsageError(`${a}: key 0 is IPC_PRIVATE and names no object; remove such objects by id\n${USAGE}`);
      ops.push(a, v);
    } else throw new UsageError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
    i++;
  }
  if (ops.length === 0) throw new UsageError(USAGE);
  return { zone, ops };
}

function main(argv: string[]): number {
  let prefix = "zipcrm";
  try {
    const a = parseArgs(argv);
    prefix = `zipcrm: zone '${a.zone ?? currentZoneName()}'`;
    const zone = targetZone(a.zone);
    const argvRm = zone === undefined ? ["ipcrm", ...a.ops] : ["nsenter", `--ipc=/proc/${zoneInit(zonePaths(), zone)}/ns/ipc`, "--", "ipcrm", ...a.ops];
    const r = spawnSync(argvRm[0]!, argvRm.slice(1), { encoding: "utf8" });
    if (r.error) throw new ZoneError(`cannot run ${argvRm[0]}: ${r.error.message}`);
    // ipcrm names each object it could not remove; say it as ours.
    for (const line of r.stderr.split("\n").filter(Boolean)) process.stderr.write(`${prefix}: ${line.replace(/^ipcrm: /, "")}\n`);
    return r.status === 0 ? EXIT_OK : EXIT_ERR;
  } catch (e) {
    return failure(prefix, e);
  }
}

process.exitCode = main(process.argv.slice(2));
