/**
 * The runc peer of bench/api.ts: `runc run -d` of bundles made with our own OCI spec
 * (zoneSpec: the same capabilities, seccomp, masked paths, user namespace map) on one
 * busybox tree shared by all, the minimal brand's, owned by a uid slot of its own; no
 * console socket (terminal off), no network, no install. Everything it makes goes in
 * cleanup(), also after a failure.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { BUSYBOX_TREE, installMinimal } from "../src/platform/brands/minimal.js";
import { idmappedBind, MOUNT_ATTR_RDONLY, mountsBelow, unmount } from "../src/platform/idmap.js";
import { blankZone } from "../src/document/model.js";
import { zoneSpec } from "../src/platform/oci/spec.js";
import type { ZonePaths } from "../src/document/store/paths.js";
import { removeCgroups } from "../src/platform/teardown.js";
import { SLOT_SIZE, SlotRegistry } from "../src/platform/slots.js";

export class RuncPeer {
  private readonly slots = new SlotRegistry();
  private readonly uuid = `bench-api-peer-${process.pid}`;
  private readonly ids = new Set<string>();
  private base = 0;

  private constructor(
    private readonly dir: string,
    private readonly state: string,
    private readonly paths: ZonePaths,
  ) {}

  static async make(dir: string, state: string, paths: ZonePaths): Promise<RuncPeer> {
    const p = new RuncPeer(path.join(dir, "peer"), state, paths);
    p.base = p.slots.allocate(p.uuid, paths.configDir, "peer") * SLOT_SIZE;
    const root = path.join(p.dir, "root");
    fs.mkdirSync(root, { recursive: true });
    await installMinimal(root, p.base, blankZone("peer"));
    await idmappedBind(BUSYBOX_TREE, path.join(root, "bin"), p.base, SLOT_SIZE, MOUNT_ATTR_RDONLY);
    return p;
  }

  /**
   * runc with its output to a log file: the container's init inherits runc's stdio, so
   * pipes of ours would stay open as long as the container runs.
   */
  private runc(args: string[]): Promise<void> {
    const log = path.join(this.dir, "runc.log");
    fs.mkdirSync(this.dir, { recursive: true });
    const fd = fs.openSync(log, "a", 0o600);
    return new Promise((resolve, reject) => {
      const child = spawn("runc", ["--root", this.state, ...args], { stdio: ["ignore", fd, fd] });
      fs.closeSync(fd);
      child.on("error", (e) => reject(new Error(`runc ${args.join(" ")}: ${e.message}`)));
      child.on("exit", (code) => {
        if (code === 0) return resolve();
        const last = fs.readFileSync(log, "utf8").trim().split("\n").pop() ?? "";
        reject(new Error(`runc ${args.join(" ")} failed (${code}): ${last}`));
      });
    });
  }

  /** One container: its bundle is written inside the timing, as a zone's ready writes its own. */
  async run(id: string): Promise<void> {
    const bundle = path.join(this.dir, "bundles", id);
    const spec = zoneSpec({ zone: blankZone(id), base: this.base, root: path.join(this.dir, "root"), init: ["/sbin/init"], cgroupParent: `${this.paths.hostPrefix}-peer`, zoneId: 0 });
    spec.process.terminal = false; // plain runc run -d, no console socket
    fs.mkdirSync(bundle, { recursive: true });
    fs.writeFileSync(path.join(bundle, "config.json"), JSON.stringify(spec));
    this.ids.add(id);
    await this.runc(["run", "-d", "--bundle", bundle, id]);
  }

  /** Every container of the peer's runc state, also ones started by a call cut short. */
  async removeAll(): Promise<void> {
    const listed = spawnSync("runc", ["--root", this.state, "list", "-q"], { encoding: "utf8" }).stdout ?? "";
    for (const id of listed.split("\n").filter(Boolean)) this.ids.add(id);
    await Promise.all(
      [...this.ids].map(async (id) => {
        await this.runc(["delete", "--force", id]).catch(() => undefined);
        removeCgroups(`${this.paths.hostPrefix}-peer`, id);
        this.ids.delete(id);
      }),
    );
    fs.rmSync(path.join(this.dir, "bundles"), { recursive: true, force: true });
  }

  async cleanup(): Promise<void> {
    await this.removeAll();
    for (const m of mountsBelow(this.dir)) unmount(m);
    this.slots.release(this.uuid);
  }
}
