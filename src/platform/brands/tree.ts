/**
 * Building a zone's file tree on the host: every file carries the zone's shifted owner
 * (host uid = slot base + zone uid), so the zone's root owns its own files and nothing
 * else. Helpers shared by the brand installers.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { SLOT_SIZE } from "../slots.js";
import { ZoneRoot } from "../zonefs.js";

/** Host owner of a zone-side id; ids outside the slot become the zone's nobody. */
export function shifted(base: number, id: number): number {
  return base + (id < SLOT_SIZE ? id : 65534);
}

/**
 * A zone's tree being built. Every write goes through zonefs: the tree is new at install,
 * but whatever builds on a zone's tree later (other brands, clone) inherits the rule that
 * nothing in it is followed.
 */
export class ZoneTree {
  /** The pinned zone root, for reads and removals beside the writes below. */
  readonly zr: ZoneRoot;

  constructor(
    readonly root: string,
    readonly base: number,
  ) {
    this.zr = ZoneRoot.open(root);
  }

  close(): void {
    this.zr.close();
  }

  dir(rel: string, mode = 0o755, uid = 0, gid = 0): void {
    this.zr.mkdir(rel, mode, shifted(this.base, uid), shifted(this.base, gid));
  }

  file(rel: string, content: string | Buffer, mode = 0o644, uid = 0, gid = 0): void {
    // fresh: the tree is being built, so most files are new (one rename saved each).
    this.zr.writeFile(rel, content, mode, shifted(this.base, uid), shifted(this.base, gid), true);
  }

  symlink(rel: string, target: string): void {
    this.zr.symlink(rel, target, this.base, this.base);
  }

  /**
   * Copy a host path (file, symlink or directory, recursively) into the tree, keeping
   * modes and symlinks, with owners shifted into the zone's slot.
   */
  copyFromHost(hostPath: string, rel: string): void {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(hostPath);
    } catch {
      return; // absent on this host: nothing to copy
    }
    const uid = shifted(this.base, st.uid);
    const gid = shifted(this.base, st.gid);
    if (st.isSymbolicLink()) {
      this.zr.symlink(rel, fs.readlinkSync(hostPath), uid, gid);
    } else if (st.isDirectory()) {
      this.zr.mkdir(rel, st.mode & 0o7777, uid, gid);
      for (const name of fs.readdirSync(hostPath)) this.copyFromHost(path.join(hostPath, name), path.join(rel, name));
    } else if (st.isFile()) {
      this.zr.writeFile(rel, fs.readFileSync(hostPath), st.mode & 0o7777, uid, gid);
    } // sockets, fifos, devices have no place in a zone's seed
  }
}

/** /etc/passwd-style lines of the host, filtered: system accounts only, no people. */
export function systemEntries(file: string, idField: number): string[] {
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text.split("\n").filter((l) => {
    const id = Number(l.split(":")[idField]);
    return l !== "" && !l.startsWith("#") && Number.isInteger(id) && (id < 1000 || id === 65534);
  });
}

/** The zone's own accounts: the host's system accounts and groups, passwords locked. */
export function accountFiles(tree: ZoneTree, hostEtc = "/etc"): void {
  const users = systemEntries(`${hostEtc}/passwd`, 2);
  const names = new Set(users.map((l) => l.split(":")[0]));
  const groups = systemEntries(`${hostEtc}/group`, 2).map((l) => {
    const f = l.split(":");
    f[3] = (f[3] ?? "").split(",").filter((m) => names.has(m)).join(",");
    return f.join(":");
  });
  const shadowGid = Number(groups.find((g) => g.startsWith("shadow:"))?.split(":")[2] ?? 0);
  tree.file("etc/passwd", users.join("\n") + "\n");
  tree.file("etc/group", groups.join("\n") + "\n");
  // Every account starts locked; the zone's root sets passwords with passwd inside.
  tree.file("etc/shadow", users.map((l) => `${l.split(":")[0]}:*:20000:0:99999:7:::`).join("\n") + "\n", 0o640, 0, shadowGid);
  tree.file("etc/gshadow", groups.map((l) => `${l.split(":")[0]}:*::${l.split(":")[3]}`).join("\n") + "\n", 0o640, 0, shadowGid);
}

/** busybox init's table: the zone's services start from /etc/rc.d at boot and stop at shutdown. */
export function initFiles(tree: ZoneTree): void {
  tree.file(
    "etc/inittab",
    "# Zone init (busybox init): services are the scripts in /etc/rc.d; a root shell waits\n" +
      "# on the zone console (zlogin -C), which only the global zone's root can reach.\n" +
      "::sysinit:/etc/init.d/rcS\n::respawn:-/bin/sh\n::shutdown:/etc/init.d/rcK\n",
  );
  tree.dir("etc/init.d");
  tree.dir("etc/rc.d");
  tree.file("etc/init.d/rcS", '#!/bin/sh\n# Start each executable /etc/rc.d/S* in order.\nfor s in /etc/rc.d/S*; do [ -x "$s" ] && "$s" start; done\nexit 0\n', 0o755);
  tree.file("etc/init.d/rcK", '#!/bin/sh\n# Stop each executable /etc/rc.d/S* in reverse order.\nfor s in $(ls -r /etc/rc.d/S* 2>/dev/null); do [ -x "$s" ] && "$s" stop; done\nexit 0\n', 0o755);
}

/** Identity files: hostname, hosts, machine-id, and the emulated hostid if configured. */
export function identityFiles(tree: ZoneTree, zonename: string, hostid: string): void {
  tree.file("etc/hostname", `${zonename}\n`);
  tree.file("etc/hosts", `127.0.0.1\tlocalhost\n127.0.1.1\t${zonename}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  tree.file("etc/machine-id", `${[...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("")}\n`, 0o444);
  if (hostid !== "") {
    // glibc's gethostid() reads /etc/hostid: four bytes in host byte order.
    const b = Buffer.alloc(4);
    b.writeUInt32LE(parseInt(hostid.replace(/^0x/i, ""), 16));
    tree.file("etc/hostid", b);
  }
}

/** The directories every zone root has, with their usual modes. */
export function baseDirs(tree: ZoneTree): void {
  tree.dir("", 0o755); // the root itself
  for (const d of ["etc", "var", "var/lib", "var/log", "var/cache", "var/spool", "home", "proc", "sys", "dev", "run", "mnt", "opt", "srv"]) tree.dir(d);
  tree.dir("root", 0o700);
  tree.dir("tmp", 0o1777);
  tree.dir("var/tmp", 0o1777);
}

/** Build a zone's tree at `root` with `build`, owners in the slot at `base`; its descriptors closed whatever happens. */
export function buildTree(root: string, base: number, build: (tree: ZoneTree) => void): void {
  const tree = new ZoneTree(root, base);
  try {
    build(tree);
  } finally {
    tree.close();
  }
}
