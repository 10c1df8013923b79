/**
 * Which zone the caller is in. The global zone is the host: its processes live in the
 * initial pid namespace, whose inode number is fixed by the kernel (PROC_PID_INIT_INO).
 */
import * as fs from "node:fs";
import { GLOBAL_ZONE } from "./names.js";
import { ZoneError } from "./errors.js";

const PROC_PID_INIT_INO = 0xeffffffc;

export function inGlobalZone(): boolean {
  return fs.readlinkSync("/proc/self/ns/pid") === `pid:[${PROC_PID_INIT_INO}]`;
}

export function currentZoneName(): string {
  if (inGlobalZone()) return GLOBAL_ZONE;
  // Inside a zone the lifecycle layer publishes the zone's name (not built yet).
  throw new ZoneError("cannot tell which zone this is: not the global zone, and no zone name is published here");
}
