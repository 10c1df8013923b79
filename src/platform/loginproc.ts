/**
 * The process a zlogin runs in a zone, built from the zone's process template: for
 * root's own zlogin (src/cmd/zlogin.ts) and for a delegated admin's, which zoneadmd
 * starts on her behalf (src/daemon/login.ts). One builder, so both get the same shell,
 * environment and working directory.
 */
import * as fs from "node:fs";
import type { OciProcess } from "./oci/spec.js";
import { zoneUser } from "./zoneusers.js";
import { ZoneRoot } from "./zonefs.js";

export interface LoginSpec {
  /** The zone's root directory (the run state's root). */
  root: string;
  /** The zone account; ignored in safe mode (root, /bin/sh). */
  user: string;
  safe: boolean;
  /** A pseudo-terminal in the zone: interactive login with a terminal on stdin. */
  terminal: boolean;
  /** The utility and its arguments; none for a shell. */
  argv: string[];
  term: string;
  /**
   * The zone pty's size from its creation (OCI consoleSize). Without it the runtime
   * sizes the pty once it has received it, which races with the process's start: a
   * shell running keys typed ahead may find a 0x0 terminal ("stty: standard input").
   */
  size?: WindowSize;
}

export interface WindowSize {
  height: number;
  width: number;
}

export function loginProcess(templateFile: string, s: LoginSpec): OciProcess {
  // Safe mode trusts nothing of the zone's account files: root, /bin/sh.
  const u = s.safe ? { name: "root", uid: 0, gid: 0, home: "/", shell: "/bin/sh" } : zoneUser(s.root, s.user);
  const template = JSON.parse(fs.readFileSync(templateFile, "utf8")) as OciProcess;
  const args = s.argv.length === 1 ? [u.shell, "-c", s.argv[0]!] : s.argv.length > 1 ? s.argv : s.terminal && !s.safe ? [u.shell, "-l"] : [u.shell];
  return {
    ...template,
    terminal: s.terminal,
    ...(s.terminal && s.size ? { consoleSize: s.size } : {}),
    user: { uid: u.uid, gid: u.gid },
    args,
    cwd: s.terminal && isZoneDir(s.root, u.home) ? u.home : "/",
    env: [...template.env.filter((e) => !e.startsWith("TERM=")), `TERM=${s.term}`, `HOME=${u.home}`, `USER=${u.name}`, `LOGNAME=${u.name}`, `SHELL=${u.shell}`],
  };
}

/** Is `dir` (a path inside the zone) a directory there? Checked without following links. */
function isZoneDir(root: string, dir: string): boolean {
  if (!dir.startsWith("/") || dir.split("/").includes("..")) return false;
  try {
    const zr = ZoneRoot.open(root);
    try {
      return zr.isDirectory(dir);
    } finally {
      zr.close();
    }
  } catch {
    return false;
  }
}
