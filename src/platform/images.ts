/**
 * The host-wide cache of base images a whole-root brand installs from (brand `debian`):
 * built once per host with mmdebstrap from the host's own Debian archive, kept as the
 * tarball mmdebstrap made (a host without network installs from a tarball copied there)
 * and as an extracted, scrubbed tree that zones mount read-only as their lower layer.
 *
 *   /var/lib/zones/images/debian-<suite>/
 *     image.tar          what mmdebstrap made (kept: rebuilds of the tree need no network)
 *     trees/<stamp>/     one extracted generation; zones record which one they use
 *     current            link to the newest generation (replaced atomically by rename)
 *     trees/<stamp>.users/<hold>  one empty file per zone installed from that generation
 *     build.lock         flock: one build at a time, across every ZONES_ROOT
 *     holds.lock         flock, held for milliseconds: taking a generation vs. pruning it
 *
 * Everything here is host root's and written by host root; no zone ever writes it.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { withLock } from "../native/lock.js";

export const IMAGES_DIR = "/var/lib/zones/images";

/** What a zone running systemd needs beyond minbase (apt is in minbase). */
export const DEBIAN_PACKAGES = ["systemd-sysv", "dbus", "libpam-systemd", "iproute2", "iputils-ping", "procps", "netbase", "ca-certificates", "less"];

/** The host's Debian release (VERSION_CODENAME), which the image follows. */
export function hostSuite(osRelease = "/etc/os-release"): string {
  let text = "";
  try {
    text = fs.readFileSync(osRelease, "utf8");
  } catch {
    // no os-release: assume the release this was built on
  }
  return /^VERSION_CODENAME="?([a-z]+)"?$/m.exec(text)?.[1] ?? "bookworm";
}

export function debianImageDir(suite = hostSuite()): string {
  return path.join(IMAGES_DIR, `debian-${suite}`);
}

/** The newest extracted generation of the image in `dir`, or undefined if none is built. */
export function currentTree(dir: string): string | undefined {
  try {
    const t = fs.realpathSync(path.join(dir, "current"));
    return fs.statSync(t).isDirectory() ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The host's apt sources naming `suite` (deb822 .sources or one-line .list files, as
 * mmdebstrap takes them): the image comes from the archive the host itself uses.
 */
export function hostSources(suite: string): string[] {
  const files = ["/etc/apt/sources.list"];
  try {
    for (const f of fs.readdirSync("/etc/apt/sources.list.d")) if (/\.(list|sources)$/.test(f)) files.push(path.join("/etc/apt/sources.list.d", f));
  } catch {
    // no directory
  }
  return files.filter((f) => {
    try {
      return new RegExp(`\\b${suite}\\b`).test(fs.readFileSync(f, "utf8").replace(/^#.*$/gm, ""));
    } catch {
      return false;
    }
  });
}

export interface BuildOptions {
  /** Fetch the image again from the archive even if a tarball is kept (`-x rebuild-image`). */
  rebuild?: boolean;
  /** Progress lines for the terminal; mmdebstrap's own output goes to `stdio`. */
  progress?: (line: string) => void;
  /** Where mmdebstrap's and tar's output goes (the terminal in zoneadm). */
  stdio?: "inherit" | "ignore";
}

function run(cmd: string, args: string[], stdio: "inherit" | "ignore", what: string): void {
  const r = spawnSync(cmd, args, { stdio: ["ignore", stdio, stdio === "inherit" ? "inherit" : "pipe"], encoding: "utf8" });
  if (r.error) throw new ZoneError(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = (r.stderr ?? "").trim().split("\n").pop() ?? "";
    throw new ZoneError(`${what}: ${cmd} ended with ${r.signal ?? `status ${r.status}`}${tail ? `: ${tail}` : ""}`);
  }
}

/**
 * The current tree of the Debian image, built first if there is none (or with
 * `rebuild`). Under the build lock, so two installs never build at once: the second
 * waits and finds the first one's tree. Each step writes beside its result and renames
 * into place, so a build killed half-way leaves the previous state whole.
 */
export function ensureDebianImage(opts: BuildOptions = {}): string {
  const suite = hostSuite();
  const dir = debianImageDir(suite);
  const say = opts.progress ?? (() => {});
  const stdio = opts.stdio ?? "ignore";
  if (!opts.rebuild) {
    const t = currentTree(dir);
    if (t) return t;
  }
  fs.mkdirSync(path.join(dir, "trees"), { recursive: true, mode: 0o755 });
  return withLock(path.join(dir, "build.lock"), () => {
    const tarball = path.join(dir, "image.tar");
    if (!opts.rebuild) {
      const t = currentTree(dir); // another install built it while we waited
      if (t) return t;
    }
    const started = Date.now();
    if (opts.rebuild || !fs.existsSync(tarball)) {
      const sources = hostSources(suite);
      if (sources.length === 0) throw new ZoneError(`no apt source of the host names ${q(suite)} (looked in /etc/apt/sources.list and /etc/apt/sources.list.d); copy an image.tar into ${dir} to install offline`);
      say(`building the Debian ${suite} base image in ${dir} with mmdebstrap from ${sources.join(", ")} (about a minute, once per host)`);
      const tmp = `${tarball}.tmp-${process.pid}`;
      try {
        run("mmdebstrap", ["--variant=minbase", `--include=${DEBIAN_PACKAGES.join(",")}`, "--format=tar", suite, tmp, ...sources], stdio, `building the Debian ${suite} image`);
        fs.renameSync(tmp, tarball);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    } else {
      say(`extracting the Debian ${suite} base image from the kept ${tarball} (no network needed)`);
    }
    const tree = extract(dir, tarball);
    pruneTrees(dir);
    say(`base image ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${tree}`);
    return tree;
  });
}

/** A new generation from the tarball, scrubbed, then made current by one rename. */
function extract(dir: string, tarball: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const final = path.join(dir, "trees", stamp);
  const tmp = fs.mkdtempSync(path.join(dir, "trees", ".tmp-"));
  try {
    // Device nodes stay out: the runtime gives each zone its own /dev.
    run("tar", ["-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--exclude=./dev/*", "-f", tarball, "-C", tmp], "ignore", `extracting ${tarball}`);
    fs.chmodSync(tmp, 0o755);
    scrub(tmp);
    fs.renameSync(tmp, final);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const link = path.join(dir, `current.tmp-${process.pid}`);
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.join("trees", stamp), link);
  fs.renameSync(link, path.join(dir, "current"));
  return final;
}

/**
 * What must differ per zone leaves the image: the machine-id (install writes each zone
 * its own; D-Bus's copy becomes a link to it), the hostname, any SSH host key (each zone
 * makes its own when openssh-server is installed in it).
 */
export function scrub(tree: string): void {
  fs.writeFileSync(path.join(tree, "etc/machine-id"), "", { mode: 0o444 });
  fs.mkdirSync(path.join(tree, "var/lib/dbus"), { recursive: true, mode: 0o755 });
  fs.rmSync(path.join(tree, "var/lib/dbus/machine-id"), { force: true });
  fs.symlinkSync("/etc/machine-id", path.join(tree, "var/lib/dbus/machine-id"));
  fs.rmSync(path.join(tree, "etc/hostname"), { force: true });
  const ssh = path.join(tree, "etc/ssh");
  if (fs.existsSync(ssh)) for (const f of fs.readdirSync(ssh)) if (f.startsWith("ssh_host_")) fs.rmSync(path.join(ssh, f), { force: true });
  // mmdebstrap leaves its sources as sources.list.d/0000<name>.sources (or .list): named
  // as Debian's installers name them, so that the package proxy's apt files replace them
  // (brands/aptproxy.ts) instead of every index being fetched twice.
  const d = path.join(tree, "etc/apt/sources.list.d");
  for (const [ext, into] of [[".sources", path.join(d, "debian.sources")], [".list", path.join(tree, "etc/apt/sources.list")]] as const) {
    const own = fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.startsWith("0000") && f.endsWith(ext)).sort() : [];
    if (own.length === 0) continue;
    fs.writeFileSync(into, own.map((f) => fs.readFileSync(path.join(d, f), "utf8").trimEnd() + "\n").join("\n"), { mode: 0o644 });
    for (const f of own) fs.rmSync(path.join(d, f));
  }
  // zonename(1): the platform writes /etc/zonename at every ready.
  fs.mkdirSync(path.join(tree, "usr/local/bin"), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(tree, "usr/local/bin/zonename"), "#!/bin/sh\nexec cat /etc/zonename\n", { mode: 0o755 });
}

/**
 * The current generation, held for a zone (`hold`: a name of the zone's own, recorded in
 * its zonepath) so that no rebuild prunes it while the zone exists. Undefined if none is
 * built. Under the holds lock, which a prune takes too, so a generation is never taken
 * and removed at once; it is held for milliseconds, never for a build.
 */
export function holdCurrentTree(dir: string, hold: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  return withLock(path.join(dir, "holds.lock"), () => {
    const t = currentTree(dir);
    if (!t) return undefined;
    fs.mkdirSync(`${t}.users`, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(`${t}.users`, hold), "");
    return t;
  });
}

/** Hold generation `tree` for another zone (a clone of one installed from it); false if it is gone. */
export function holdTree(tree: string, hold: string): boolean {
  if (!isImageTree(tree)) return false;
  return withLock(path.join(path.dirname(path.dirname(tree)), "holds.lock"), () => {
    if (!fs.existsSync(tree)) return false;
    fs.mkdirSync(`${tree}.users`, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(`${tree}.users`, hold), "");
    return true;
  });
}

/**
 * Is `tree` a generation of an image of ours (IMAGES_DIR/<image>/trees/<stamp>)? A zone's
 * record is checked with it before its tree becomes a lower layer: a record brought from
 * elsewhere (attach) must not make the host's own tree, read-only or not, a zone's root.
 */
export function isImageTree(tree: string): boolean {
  const rel = path.relative(IMAGES_DIR, tree).split(path.sep);
  return path.isAbsolute(tree) && path.normalize(tree) === tree && rel.length === 3 && /^[a-z0-9-]+$/.test(rel[0]!) && rel[1] === "trees" && /^\d{8}T\d{6}$/.test(rel[2]!);
}

/** A zone made from `tree` is gone: drop its hold, and prune what no zone holds any more. */
export function releaseTree(tree: string, hold: string): void {
  const dir = path.dirname(path.dirname(tree));
  // Only a generation of an image of ours: a record naming anything else is ignored.
  if (!/^[0-9a-f]{32}$/.test(hold) || !isImageTree(tree)) return;
  fs.rmSync(path.join(`${tree}.users`, hold), { force: true });
  pruneTrees(dir);
}

/**
 * Remove every generation that is not current and that no zone holds. Each is renamed
 * aside under the holds lock and removed after it, so the lock is held for a rename.
 */
function pruneTrees(dir: string): void {
  const trees = path.join(dir, "trees");
  const doomed: string[] = [];
  withLock(path.join(dir, "holds.lock"), () => {
    const current = currentTree(dir);
    for (const name of fs.readdirSync(trees)) {
      if (!/^\d{8}T\d{6}$/.test(name)) continue;
      const t = path.join(trees, name);
      if (t === current) continue;
      let users: string[] = [];
      try {
        users = fs.readdirSync(`${t}.users`);
      } catch {
        // never held
      }
      if (users.length > 0) continue;
      const aside = path.join(trees, `.old-${name}`);
      fs.renameSync(t, aside);
      doomed.push(aside, `${t}.users`);
    }
  });
  for (const d of doomed) fs.rmSync(d, { recursive: true, force: true });
}
