/**
 * zps: every process of the host with its ZONE, as illumos `ps -eZ` shows it (Linux's
 * ps cannot be taught a zone column). A process belongs to the zone whose init shares
 * its pid namespace; the global zone is the initial pid namespace.
 *   zps [-z zone]
 */
import * as fs from "node:fs";
import { EXIT_OK, UsageError } from "../native/errors.js";
import { GLOBAL_ZONE } from "../document/names.js";
import { zonePaths } from "../document/store/paths.js";
import { readRun } from "../document/store/runstate.js";
import { Repository } from "../document/store/repository.js";
import { GLOBAL_PID_NS } from "../platform/zonename.js";
import { printable } from "../native/printable.js";
import { failure } from "./report.js";

function nsOf(pid: number | string): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** /proc/PID/cmdline's NUL-separated arguments, joined by spaces (trailing NULs dropped). */
function argvText(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  const out = Buffer.from(b.subarray(0, end));
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = 0x20;
  return out;
}

/** /proc/PID/comm ends in the newline the kernel adds. */
const stripNewline = (b: Buffer): Buffer => (b[b.length - 1] === 0x0a ? b.subarray(0, b.length - 1) : b);

function main(argv: string[]): number {
  let only: string | undefined;
  if (argv.length === 2 && argv[0] === "-z") only = argv[1];
  else if (argv.length > 0) throw new UsageError("usage: zps [-z zone]");
  const paths = zonePaths();
  const zoneOfNs = new Map<string, { name: string; base: number }>([[GLOBAL_PID_NS, { name: GLOBAL_ZONE, base: 0 }]]);
  for (const e of new Repository(paths).list()) {
    const run = readRun(paths, e.name);
    const ns = run && run.pid > 0 ? nsOf(run.pid) : undefined;
    if (!ns) continue;
    const base = Number(fs.readFileSync(`/proc/${run!.pid}/uid_map`, "utf8").trim().split(/\s+/)[1] ?? 0);
    zoneOfNs.set(ns, { name: e.name, base });
  }
  const lines = [`${"ZONE".padStart(12)} ${"UID".padStart(6)} ${"PID".padStart(7)} ${"PPID".padStart(7)} CMD`];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).sort((a, b) => a - b)) {
    const ns = nsOf(pid);
    const zone = ns === undefined ? undefined : zoneOfNs.get(ns);
    const name = zone?.name ?? "-";
    if (only !== undefined && name !== only) continue;
    let status: string;
    let cmd: string;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      // A zone's processes choose their argv and name: bytes, escaped (printable.ts).
      cmd = printable(argvText(fs.readFileSync(`/proc/${pid}/cmdline`)));
      if (cmd === "") cmd = `[${printable(stripNewline(fs.readFileSync(`/proc/${pid}/comm`)))}]`;
    } catch {
      continue; // gone meanwhile
    }
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1) - (zone?.base ?? 0);
    const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1] ?? "?";
    lines.push(`${name.padStart(12)} ${String(uid).padStart(6)} ${String(pid).padStart(7)} ${ppid.padStart(7)} ${cmd}`);
  }
  process.stdout.write(lines.join("\n") + "\n");
  return EXIT_OK;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.exitCode = failure("zps", e);
}
