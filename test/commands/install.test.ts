/**
 * The install on a fresh machine: Node 20 from outside Debian (NodeSource's nodejs or a
 * tarball) with its own npm, and runc, crun, busybox-static, nftables, lxcfs, python3, zstd,
 * umoci, chromium and openssh-client absent. The Debian-package step (scripts/install-packages.sh, exactly as install.sh runs it) is
 * rehearsed in a private mount namespace over a copy of the dpkg status without those
 * packages, with apt-get replaced by a wrapper that logs its calls and only simulates
 * (`apt-get -s`), so apt resolves the install without changing the machine.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { TOP } from "../support/helpers.js";

const PACKAGES_SCRIPT = path.join(TOP, "scripts/install-packages.sh");
const INSTALL_SCRIPT = path.join(TOP, "scripts/install.sh");
const DPKG_STATUS = "/var/lib/dpkg/status";
const APT_LISTS = "/var/lib/apt/lists";
/** What a fresh machine of this kind lacks, and what must never be asked of apt there. */
const FRESH_MISSING = ["runc", "crun", "busybox-static", "nftables", "lxcfs", "python3", "zstd", "umoci", "chromium", "openssh-client"];
const NODE_PACKAGES = ["npm", "nodejs"];

const temps: string[] = [];
after(() => {
  for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
});
function tempDir(tag: string): string {
  const t = fs.mkdtempSync(path.join(os.tmpdir(), `zones-install-${tag}-`));
  temps.push(t);
  return t;
}

/** The machine's package state, to prove the rehearsals leave it as it was. */
function packageState(): string {
  const files = [DPKG_STATUS, "/var/lib/apt/extended_states", "/var/cache/apt/pkgcache.bin", "/var/cache/apt/srcpkgcache.bin"];
  return files.map((f) => `${f} ${fs.existsSync(f) ? createHash("sha256").update(fs.readFileSync(f)).digest("hex") : "absent"}`).join("\n");
}

/** apt can only simulate an install against package lists fetched by `apt-get update`. */
function requireAptLists(): void {
  const lists = fs.existsSync(APT_LISTS) ? fs.readdirSync(APT_LISTS).filter((f) => f.includes("_Packages")) : [];
  if (lists.length === 0) {
    assert.fail(`no package lists in ${APT_LISTS}: run 'apt-get update' on this machine first (the rehearsal simulates installs against them)`);
  }
}

/** The dpkg status with the stanzas of the given packages removed. */
function statusWithout(packages: string[]): string {
  const text = fs.readFileSync(DPKG_STATUS, "utf8");
  const stanzas = text.split(/\n\n+/).filter((s) => s.trim() !== "");
  const name = (s: string): string => /^Package: (\S+)$/m.exec(s)?.[1] ?? "";
  const kept = stanzas.filter((s) => !packages.includes(name(s)));
  for (const p of packages) {
    assert.ok(stanzas.some((s) => name(s) === p), `package '${p}' is not in ${DPKG_STATUS}: nothing to take away`);
  }
  return kept.join("\n\n") + "\n";
}

// Logs each call (arguments tab-separated, one call a line); `update` does nothing (no
// network in tests); `install` runs the real apt-get as a simulation, told to say why
// it fails even under the script's -qq. It runs as /usr/bin/apt-get, so it is told t.
const wrapper = (t: string): string => `#!/bin/bash
t='${t}'
(IFS=$'\\t'; printf '%s\\n' "$*") >> "$t/calls"
cmd=
for a in "$@"; do case $a in -*) ;; *) cmd=$a; break ;; esac; done
case $cmd in
  update) exit 0 ;;
  install) exec "$t/real/apt-get" -s "$@" -o quiet=1 ;;
esac
echo "rehearsal: unexpected apt-get call: $*" >&2
exit 2
`;

// Runs inside the private mount namespace; every mount dies with it. /var is read-only
// there, so nothing the script or apt does can change the machine's package state.
const NAMESPACE = `set -euo pipefail
t=$1 script=$2
mount --bind /usr/bin/apt-get "$t/real/apt-get"
mount --bind /var /var
mount -o remount,bind,ro /var
mount --bind -o ro "$t/status" ${DPKG_STATUS}
mount --bind -o ro "$t/apt-get" /usr/bin/apt-get
[ "$(type -P apt-get)" = /usr/bin/apt-get ] || { echo "rehearsal: apt-get on PATH is $(type -P apt-get), not the wrapper" >&2; exit 3; }
exec bash "$script"
`;

// Node's pipes are sockets, and bash reads ~/.bashrc when its standard input is a
// socket (it takes that for rshd): the scripts get /dev/null instead.
const NO_STDIN: ["ignore", "pipe", "pipe"] = ["ignore", "pipe", "pipe"];

interface Rehearsal {
  status: number;
  output: string;
  calls: string[][];
}

/** Run a package script with the given packages absent from the dpkg status. */
function rehearse(script: string, absent: string[]): Rehearsal {
  const t = tempDir("apt");
  fs.writeFileSync(path.join(t, "status"), statusWithout(absent));
  fs.writeFileSync(path.join(t, "apt-get"), wrapper(t), { mode: 0o755 });
  fs.mkdirSync(path.join(t, "real"));
  // The real apt-get is bound here, under its own name (apt reads its Binary:: options by it).
  fs.writeFileSync(path.join(t, "real/apt-get"), "");
  const before = packageState();
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", NAMESPACE, "bash", t, script], {
    encoding: "utf8",
    stdio: NO_STDIN,
    timeout: 60_000,
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" },
  });
  if (r.error) throw r.error;
  assert.equal(packageState(), before, "the rehearsal changed the machine's package state");
  const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8");
  assert.ok(!mounts.includes(t) && !mounts.includes(" /usr/bin/apt-get ") && !mounts.includes(` ${DPKG_STATUS} `), "a rehearsal mount leaked out of its namespace");
  const log = path.join(t, "calls");
  const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l !== "").map((l) => l.split("\t")) : [];
  return { status: r.status ?? -1, output: r.stdout + r.stderr, calls };
}

function command(call: string[]): string {
  return call.find((a) => !a.startsWith("-")) ?? "";
}
function installed(call: string[]): string[] {
  return call.slice(call.indexOf("install") + 1).filter((a) => !a.startsWith("-"));
}

/** The fresh-machine contract: one install of exactly what is missing, never Node's packages, and apt agrees. */
function assertFreshInstall(r: Rehearsal): void {
  const detail = `\n${r.output}\ncalls: ${JSON.stringify(r.calls)}`;
  assert.equal(r.status, 0, `install-packages.sh exited ${r.status}${detail}`);
  assert.deepEqual(r.calls.map(command), ["update", "install"], `apt-get calls${detail}`);
  const install = r.calls.find((c) => command(c) === "install") ?? [];
  assert.deepEqual([...installed(install)].sort(), [...FRESH_MISSING].sort(), `packages asked of apt${detail}`);
  for (const p of NODE_PACKAGES) assert.ok(!r.calls.flat().includes(p), `apt-get was asked for '${p}'${detail}`);
  assert.doesNotMatch(r.output, /Unmet dependencies|Conflicts|^E:/m, `apt's simulation failed${detail}`);
  // apt resolved against the faked status: the absent packages are new to it.
  for (const p of FRESH_MISSING) assert.match(r.output, new RegExp(`^Inst ${p} `, "m"), `apt would not install '${p}'${detail}`);
  for (const p of NODE_PACKAGES) assert.doesNotMatch(r.output, new RegExp(`^Inst ${p} `, "m"), `apt would install '${p}'${detail}`);
}

test("fresh machine with NodeSource's nodejs: only the missing Debian packages are installed, apt resolves them", { timeout: 60_000 }, () => {
  requireAptLists();
  assertFreshInstall(rehearse(PACKAGES_SCRIPT, FRESH_MISSING));
});

test("fresh machine with Node from a tarball (no nodejs package): the same install", { timeout: 60_000 }, () => {
  requireAptLists();
  assertFreshInstall(rehearse(PACKAGES_SCRIPT, [...FRESH_MISSING, "nodejs"]));
});

test("control: with every package present, apt-get is never called", { timeout: 60_000 }, () => {
  const r = rehearse(PACKAGES_SCRIPT, []);
  assert.equal(r.status, 0, r.output);
  assert.deepEqual(r.calls, [], `apt-get was called: ${JSON.stringify(r.calls)}`);
  assert.equal(r.output, "");
});

test("control: asking apt for Debian's npm beside NodeSource's nodejs fails the simulation (the regression)", { timeout: 60_000 }, () => {
  requireAptLists();
  const t = tempDir("npm");
  const original = fs.readFileSync(PACKAGES_SCRIPT, "utf8");
  const withNpm = original.replace(/^packages=\((.*)\)$/m, "packages=($1 npm)");
  assert.notEqual(withNpm, original, "the package list of install-packages.sh was not found");
  const script = path.join(t, "install-packages.sh");
  fs.writeFileSync(script, withNpm);
  const r = rehearse(script, FRESH_MISSING);
  assert.notEqual(r.status, 0, r.output);
  assert.ok(installed(r.calls.find((c) => command(c) === "install") ?? []).includes("npm"), JSON.stringify(r.calls));
  assert.match(r.output, /nodejs : Conflicts: npm/);
  assert.match(r.output, /^E: /m);
});

test("install.sh leaves the Debian packages to install-packages.sh, which the rehearsals run", () => {
  const install = fs.readFileSync(INSTALL_SCRIPT, "utf8");
  assert.match(install, /^bash scripts\/install-packages\.sh$/m);
  const code = install.split("\n").filter((l) => !l.trimStart().startsWith("#"));
  assert.deepEqual(code.filter((l) => /\b(apt-get|apt|dpkg|dpkg-query)\b/.test(l)), [], "install.sh runs apt or dpkg itself");
});

// install.sh's preconditions come before it changes anything: with a PATH holding only
// what it runs before them (dirname, id), any other step would fail differently.
const NODE_NEEDED = "install: Node.js 20 or newer with npm is needed on PATH (NodeSource's nodejs, or a tarball from nodejs.org)";

/** Where a command lives on this machine's PATH (npm may be NodeSource's or a tarball's). */
function onPath(name: string): string {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  assert.equal(r.status, 0, `no ${name} on PATH`);
  return r.stdout.trim();
}

function installWithPath(tools: Record<string, string>): { status: number; stdout: string; stderr: string } {
  const bin = tempDir("path");
  for (const tool of ["dirname", "id"]) fs.symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
  for (const [name, target] of Object.entries(tools)) fs.symlinkSync(target, path.join(bin, name));
  const r = spawnSync("/bin/bash", [INSTALL_SCRIPT], { encoding: "utf8", stdio: NO_STDIN, timeout: 30_000, env: { PATH: bin, LANG: "C" } });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("install.sh without node or npm on PATH fails at once with one line", { timeout: 30_000 }, () => {
  const npm = onPath("npm");
  const cases: Record<string, string>[] = [{}, { npm }, { node: process.execPath }];
  for (const tools of cases) {
    const r = installWithPath(tools);
    assert.equal(r.status, 1, `${JSON.stringify(tools)}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `${NODE_NEEDED}\n`);
  }
});

test("install.sh with Node 18 on PATH fails at once with one line", { timeout: 30_000 }, () => {
  const t = tempDir("node18");
  // A machine whose node is too old: only the two questions install.sh asks of it.
  const node = path.join(t, "node");
  fs.writeFileSync(node, '#!/bin/sh\ncase "$1" in --version) echo v18.19.1 ;; -p) echo 18 ;; esac\n', { mode: 0o755 });
  const r = installWithPath({ node, npm: onPath("npm") });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "install: Node.js 20 or newer is needed (found v18.19.1); install nodejs 20 from NodeSource\n");
});
