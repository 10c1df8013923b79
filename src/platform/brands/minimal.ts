/**
 * Brand `minimal`: a static busybox with busybox init and the zone's own /etc. Its /bin
 * — busybox and a link per applet — is one tree per host, built once and shared
 * read-only into every minimal zone, so an install writes a few dozen files and an
 * idle zone costs the host almost nothing beyond its init.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError } from "../../native/errors.js";
import type { ZoneConfig } from "../../document/model.js";
import { baseDirs, identityFiles, initFiles, buildTree, ZoneTree } from "./tree.js";

export const BUSYBOX = "/bin/busybox";

/** The host's shared busybox tree (host-wide, like the uid slot registry). */
export const BUSYBOX_TREE = "/var/lib/zones/busybox/bin";

function applets(): string[] {
  const r = spawnSync(BUSYBOX, ["--list"], { encoding: "utf8" });
  if (r.status !== 0) throw new ZoneError(`${BUSYBOX} is missing or not a busybox (apt-get install busybox-static)`);
  return r.stdout.split("\n").filter((l) => /^[a-z0-9_.[-]+$/.test(l) && l !== "busybox");
}

/** Build the shared tree unless it exists: in a temporary directory, then renamed into place. */
export function ensureBusyboxTree(dir = BUSYBOX_TREE): string {
  if (fs.existsSync(path.join(dir, "busybox"))) return dir;
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  fs.chmodSync(tmp, 0o755);
  fs.copyFileSync(BUSYBOX, path.join(tmp, "busybox"));
  fs.chmodSync(path.join(tmp, "busybox"), 0o755);
  for (const a of applets()) fs.symlinkSync("busybox", path.join(tmp, a));
  // zonename(1) for a zone without Node: the platform writes /etc/zonename at every ready.
  fs.writeFileSync(path.join(tmp, "zonename"), "#!/bin/sh\nexec cat /etc/zonename\n", { mode: 0o755 });
  try {
    fs.renameSync(tmp, dir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another install built it first
  }
  return dir;
}

export async function installMinimal(root: string, base: number, z: ZoneConfig): Promise<void> {
  ensureBusyboxTree();
  buildTree(root, base, (tree) => build(tree, z));
}

function build(tree: ZoneTree, z: ZoneConfig): void {
  baseDirs(tree);
  tree.dir("bin"); // mount point of the shared busybox tree
  tree.dir("usr");
  tree.symlink("sbin", "bin");
  tree.symlink("usr/bin", "../bin");
  tree.symlink("usr/sbin", "../bin");
  tree.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  tree.file("etc/group", "root:x:0:\nnogroup:x:65534:\n");
  tree.file("etc/shadow", "root:*:20000:0:99999:7:::\nnobody:*:20000:0:99999:7:::\n", 0o600);
  tree.file("etc/profile", "export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n");
  tree.symlink("etc/mtab", "../proc/self/mounts");
  identityFiles(tree, z.zonename, z.hostid);
  initFiles(tree);
}
