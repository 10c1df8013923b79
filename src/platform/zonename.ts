/**
 * Which zone the caller is in. The global zone is the host: its processes live in the
 * initial pid namespace, whose inode number is fixed by the kernel (PROC_PID_INIT_INO).
 */
import * as fs from "node:fs";
import { GLOBAL_ZONE } from "../document/names.js";
import { ZoneError } from "../native/errors.js";

const PROC_PID_INIT_INO = 0xeffffffc;

/** What /proc/PID/ns/pid reads for a process of the global zone. */
export const GLOBAL_PID_NS = `pid:[${PROC_PID_INIT_INO}]`;

export function inGlobalZone(): boolean {
  return fs.readlinkSync("/proc/self/ns/pid") === GLOBAL_PID_NS;
}

export function currentZoneName(): string {
  if (inGlobalZone()) return GLOBAL_ZONE;
  // In a zone: the platform writes the zone's name to /etc/zonename at every ready.
  try {
    return fs.readFileSync("/etc/zonename", "utf8").trim();
  } catch {
    throw new ZoneError("cannot tell which zone this is: not the global zone, and /etc/zonename is missing");
  }
}
