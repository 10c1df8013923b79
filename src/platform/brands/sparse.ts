/**
 * Brand `sparse` (the default): the zone owns /etc, /var, /tmp, /root and /home; the
 * host's /usr is shared read-only through an id-mapped mount, so its files appear
 * root-owned inside and set-uid programs (su, passwd, sudo) work as on any system.
 * /bin, /sbin and /lib* are the merged-usr links into /usr, as on the host. The parts
 * of /etc that follow /usr — the alternatives links and the certificate store — are
 * shared read-only the same way: they must match the shared /usr, and copying their
 * several hundred entries would make up most of an install's time.
 */
import * as fs from "node:fs";
import type { ZoneConfig } from "../../document/model.js";
import { accountFiles, baseDirs, identityFiles, initFiles, buildTree, ZoneTree } from "./tree.js";

/** What a working system needs from /etc beyond what the zone gets of its own. */
const ETC_SEED = [
  "adduser.conf", "bash.bashrc", "ca-certificates.conf", "debian_version", "default", "deluser.conf",
  "environment", "gai.conf", "host.conf", "inputrc", "issue", "issue.net", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
  "localtime", "login.defs", "motd", "networks", "nsswitch.conf", "os-release", "pam.conf", "pam.d", "profile", "profile.d",
  "protocols", "resolv.conf", "rpc", "security", "services", "shells", "skel", "sudoers", "sudoers.d", "terminfo",
  "timezone", "xattr.conf",
];

/** Host trees every sparse zone sees read-only, id-mapped. */
export const SPARSE_SHARED = [
  { source: "/usr", target: "/usr" },
  { source: "/etc/alternatives", target: "/etc/alternatives" },
  { source: "/etc/ssl", target: "/etc/ssl" },
];

export async function installSparse(root: string, base: number, z: ZoneConfig): Promise<void> {
  buildTree(root, base, (tree) => build(tree, z));
}

function build(tree: ZoneTree, z: ZoneConfig): void {
  baseDirs(tree);
  for (const d of SPARSE_SHARED) tree.dir(d.target.slice(1)); // mount points
  for (const l of ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]) {
    let target: string;
    try {
      target = fs.readlinkSync(`/${l}`);
    } catch {
      continue; // not a merged-usr link on this host
    }
    tree.symlink(l, target);
  }
  for (const name of ETC_SEED) tree.copyFromHost(`/etc/${name}`, `etc/${name}`);
  tree.symlink("etc/mtab", "../proc/self/mounts");
  accountFiles(tree);
  identityFiles(tree, z.zonename, z.hostid);
  initFiles(tree);
}
