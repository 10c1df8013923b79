/**
 * System V IPC objects of a zone, read from /proc/sysvipc. Each zone has an IPC
 * namespace of its own, and /proc/sysvipc shows the namespace of the thread that reads
 * it; so in a zone the files show that zone's objects, and the global zone reads a
 * zone's by entering the namespace of the zone's init (nsenter --ipc) for one read.
 * Nothing here needs a native module: zipcs runs inside sparse zones too.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import type { ZonePaths } from "../document/store/paths.js";
import { readRun } from "../document/store/runstate.js";
import { currentZoneName } from "./zonename.js";
import { ZoneRoot } from "./zonefs.js";
import { GLOBAL_ZONE } from "../document/names.js";
import { printable } from "../native/printable.js";

export type IpcKind = "msg" | "shm" | "sem";
export const IPC_KINDS: readonly IpcKind[] = ["msg", "shm", "sem"];

export interface IpcObject {
  kind: IpcKind;
  key: number;
  id: number;
  /** Permission bits and, for shm, SHM_DEST (01000) and SHM_LOCKED (02000). */
  mode: number;
  /** Owner's uid as the zone sees it. */
  uid: number;
  /** msg: bytes queued; shm: segment size; sem: number of semaphores. */
  size: number;
  /** msg: messages queued; shm: attachments; sem: unused. */
  count: number;
}

/** Host uid to the zone's own: a zone's ids are its uid slot (65536 wide) plus its own. */
const zoneUid = (hostUid: number): number => hostUid % 65536;

/** Parse one /proc/sysvipc file (a header line naming the columns, then one line an object). */
export function parseSysvipc(kind: IpcKind, text: string): IpcObject[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines.shift()?.trim().split(/\s+/) ?? [];
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new ZoneError(`/proc/sysvipc/${kind} has no ${q(name)} column`);
    return i;
  };
  const idCol = col(kind === "msg" ? "msqid" : kind === "shm" ? "shmid" : "semid");
  const sizeCol = col(kind === "msg" ? "cbytes" : kind === "shm" ? "size" : "nsems");
  const countCol = kind === "msg" ? col("qnum") : kind === "shm" ? col("nattch") : -1;
  const [keyCol, permsCol, uidCol] = [col("key"), col("perms"), col("uid")];
  return lines.map((l) => {
    const f = l.trim().split(/\s+/);
    return {
      kind,
      key: Number(f[keyCol]) >>> 0, // printed signed
      id: Number(f[idCol]),
      mode: parseInt(f[permsCol] ?? "0", 8),
      uid: zoneUid(Number(f[uidCol])),
      size: Number(f[sizeCol]),
      count: countCol < 0 ? 0 : Number(f[countCol]),
    };
  });
}

/** The three files read in one go; each starts with its header line. */
function splitSections(text: string): Record<IpcKind, string> {
  const out: Record<IpcKind, string> = { msg: "", shm: "", sem: "" };
  let cur: IpcKind | undefined;
  for (const line of text.split("\n")) {
    if (/^\s*key\s/.test(line)) cur = / msqid /.test(line) ? "msg" : / shmid /.test(line) ? "shm" : "sem";
    if (cur) out[cur] += line + "\n";
  }
  return out;
}

/** The caller's own zone's objects. */
export function ownObjects(): IpcObject[] {
  return IPC_KINDS.flatMap((k) => parseSysvipc(k, fs.readFileSync(`/proc/sysvipc/${k}`, "utf8")));
}

/** Host pid of a running zone's init, to enter its namespaces; fails for a zone that is not up. */
export function zoneInit(paths: ZonePaths, zone: string): number {
  const run = readRun(paths, zone);
  if (!run || run.pid <= 0 || !fs.existsSync(`/proc/${run.pid}/ns/ipc`)) {
    throw new ZoneError(zoneConfigured(paths, zone) ? "zone is not ready or running: its IPC namespace exists only then" : "no such zone configured");
  }
  return run.pid;
}

/** A zone's objects, read from the global zone inside the zone's IPC namespace. */
export function zoneObjects(paths: ZonePaths, zone: string): IpcObject[] {
  const pid = zoneInit(paths, zone);
  const files = IPC_KINDS.map((k) => `/proc/sysvipc/${k}`);
  const r = spawnSync("nsenter", [`--ipc=/proc/${pid}/ns/ipc`, "--", "cat", ...files], { encoding: "utf8" });
  if (r.status !== 0) throw new ZoneError(`cannot enter the zone's IPC namespace: ${(r.stderr || r.error?.message || "").trim()}`);
  const s = splitSections(r.stdout);
  return IPC_KINDS.flatMap((k) => parseSysvipc(k, s[k]));
}

/** Zones that have an IPC namespace now (ready or running), by name. */
export function zonesUp(paths: ZonePaths): string[] {
  const dir = path.join(paths.runDir, "zone");
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  return names.filter((n) => {
    const run = readRun(paths, n);
    return run !== undefined && run.pid > 0 && fs.existsSync(`/proc/${run.pid}/ns/ipc`);
  });
}

/** Whether the repository index names the zone (read directly; no lock needed to look). */
export function zoneConfigured(paths: ZonePaths, zone: string): boolean {
  try {
    return fs.readFileSync(path.join(paths.configDir, "index"), "utf8").split("\n").some((l) => l.startsWith(`${zone}:`));
  } catch {
    return false;
  }
}

/**
 * The zone a -z option may name from where the caller is: any zone from the global
 * zone; from inside a zone only that zone itself (undefined: the caller's own objects).
 */
export function targetZone(requested: string | undefined): string | undefined {
  const here = currentZoneName();
  if (requested === undefined || requested === here) return undefined;
  if (here !== GLOBAL_ZONE) throw new ZoneError(`zone ${q(requested)} is not visible from zone ${q(here)}; only the global zone may name other zones`);
  if (requested === GLOBAL_ZONE) return undefined;
  return requested;
}

/**
 * User names of a zone's /etc/passwd by uid, escaped for printing (printable.ts): the
 * zone's root writes that file, bytes and all. The tree is read without following links.
 */
export function passwdNames(root: string): Map<number, string> {
  const out = new Map<number, string>();
  let text = "";
  try {
    const zr = ZoneRoot.open(root);
    try {
      // latin1: one char per byte, so invalid UTF-8 reaches printable() as the bytes it was.
      text = zr.readFile("etc/passwd", 16 << 20).toString("latin1");
    } finally {
      zr.close();
    }
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const [name, , uid] = line.split(":");
    if (name && uid !== undefined && /^\d+$/.test(uid) && !out.has(Number(uid))) out.set(Number(uid), printable(Buffer.from(name, "latin1")));
  }
  return out;
}
