/**
 * The runc peer of bench/api.ts: `runc run -d` of bundles made with our own OCI spec
 * (zoneSpec: the same capabilities, seccomp, masked paths, user namespace map) on one
 * busybox tree shared by all, the minimal brand's, owned by a uid slot of its own; no
 * console socket (terminal off), no network, no install. Everything it makes goes in
 * cleanup(), also after a failure.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { BUSYBOX_TREE, installMinimal } from "../src/platform/brands/minimal.js";
import { idmappedBind, MOUNT_ATTR_RDONLY, mountsBelow, unmount } from "../src/platform/idmap.js";
import { blankZone } from "../src/document/model.js";
import { zoneSpec } from "../src/platform/oci/spec.js";
import type { ZonePaths } from "../src/document/store/paths.js";
import { removeCgroups } from "../src/platform/platform.js";
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

  private runc(args: string[]): Promise<void> {
    return new Promise((resolve, reject) =>
      execFile("runc", ["--root", this.state, ...args], (err, _o, stderr) => (err ? reject(new Error(`runc ${args.join(" ")}: ${stderr.trim() || err.message}`)) : resolve())),
    );
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

  async removeAll(): Promise<void> {
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
