/**
 * Brand `minimal`: a static busybox and its applet links, busybox init, and the zone's
 * own /etc. No host tree is shared, so the zone needs no mount beyond its own root:
 * the smallest and densest kind of zone.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ZoneError } from "../errors.js";
import type { ZoneConfig } from "../model.js";
import { baseDirs, identityFiles, initFiles, ZoneTree } from "./tree.js";

export const BUSYBOX = "/bin/busybox";

function applets(): string[] {
  const r = spawnSync(BUSYBOX, ["--list-full"], { encoding: "utf8" });
  if (r.status !== 0) throw new ZoneError(`${BUSYBOX} is missing or not a busybox with --list-full (apt-get install busybox-static)`);
  return r.stdout.split("\n").filter((l) => /^[a-z/]+\/[^/]+$/.test(l));
}

export async function installMinimal(root: string, base: number, z: ZoneConfig): Promise<void> {
  const tree = new ZoneTree(root, base);
  baseDirs(tree);
  for (const d of ["bin", "sbin", "usr", "usr/bin", "usr/sbin"]) tree.dir(d);
  tree.copyFromHost(BUSYBOX, "bin/busybox");
  for (const a of applets()) {
    if (a === "bin/busybox") continue;
    tree.symlink(a, path.relative(path.dirname("/" + a), "/bin/busybox"));
  }
  tree.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  tree.file("etc/group", "root:x:0:\nnogroup:x:65534:\n");
  tree.file("etc/shadow", "root:*:20000:0:99999:7:::\nnobody:*:20000:0:99999:7:::\n", 0o600);
  tree.file("etc/profile", "export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n");
  tree.symlink("etc/mtab", "../proc/self/mounts");
  // zonename(1) for a zone without Node: the platform writes /etc/zonename at every ready.
  tree.file("bin/zonename", "#!/bin/sh\nexec cat /etc/zonename\n", 0o755);
  identityFiles(tree, z.zonename, z.hostid);
  initFiles(tree);
}
