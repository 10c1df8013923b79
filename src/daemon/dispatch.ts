/**
 * The one implementation of every operation zoneadmd serves (protocol.ts names them):
 * each checked, run after the earlier operations on its zone (clone holds both zones'
 * queues), and answered as a Reply; an unexpected error is logged and answered as
 * internal. Its own file so that what each operation does reads apart from how requests
 * reach the daemon (serving.ts, adminsock.ts, api/).
 */
import { ZoneError } from "../native/errors.js";
import { checkZoneName } from "../document/names.js";
import { OPERATIONS, type Reply, type Request } from "./protocol.js";
import { cloneZone, type ZoneOps } from "../platform/clone.js";
import { moveZone } from "../platform/move.js";
import { attachZone, detachZone } from "../platform/attach.js";
import type { Daemon } from "./server.js";
import { installImage } from "./imagebuild.js";

export async function dispatch(this: Daemon, req: Request, progress?: (line: string) => void): Promise<Reply> {
  if (!OPERATIONS.includes(req.op)) return { ok: false, error: `unknown operation ${JSON.stringify(req.op)}` };
  if (req.op === "ping") return { ok: true, pid: process.pid, runtime: this.runtimeVersion };
  if (req.op === "stats") return { ok: true, pid: process.pid, stats: this.stats() };
  if (req.op === "web") return this.webLogin();
  if (req.op === "login") return { ok: false, error: "login is served on the admin socket (root's zlogin runs the runtime itself)" };
  if (req.op === "post") {
    // The global zone posts a fault or error event into a zone's event channel.
    try {
      return { ok: true, delivered: this.broker.post(req.zone ?? "", req.channel ?? "", Buffer.from(req.message ?? "")) };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }
  const zone = req.zone ?? "";
  try {
    checkZoneName(zone);
    const p = this.platform;
    // clone, move, detach, attach: their bodies are in platform/clone.ts and attach.ts.
    const ops: ZoneOps = { paths: p.paths, repo: p.repo, slots: p.slots, log: (l) => this.log(l) };
    if (req.op === "clone") {
      // The source must stay halted while it is copied: both zones' queues are held,
      // taken in name order so that two crossing clones cannot wait on each other.
      const source = req.source ?? "";
      checkZoneName(source);
      if (source === zone) return { ok: false, error: "a zone cannot be cloned from itself" };
      const [first, second] = [zone, source].sort() as [string, string];
      await this.serialize(first, () => this.serialize(second, () => cloneZone(ops, zone, source)));
      return { ok: true };
    }
    return await this.serialize(zone, async (): Promise<Reply> => {
      switch (req.op) {
        case "install":
          // The brand's base image first (imagebuild.ts), then the zone's tree.
          await installImage(this, zone, req, progress);
          await p.install(zone, { image: req.image, copy: req.copy === true });
          return { ok: true };
        case "uninstall":
          await p.uninstall(zone);
          return { ok: true };
        case "move":
          await moveZone(ops, zone, req.zonepath ?? "");
          return { ok: true };
        case "detach":
          await detachZone(ops, zone);
          return { ok: true };
        case "attach":
          await attachZone(ops, zone, req.force === true);
          return { ok: true };
        case "ready":
          return { ok: true, run: await p.ready(zone, req.init), runtime: this.runtimeVersion };
        case "boot":
          return { ok: true, run: await p.boot(zone, req.init), runtime: this.runtimeVersion };
        case "halt":
          await p.halt(zone);
          return { ok: true };
        case "reboot":
          return { ok: true, run: await p.reboot(zone) };
        case "shutdown":
          return { ok: true, run: await p.shutdown(zone, false) };
        case "shutdown-reboot":
          return { ok: true, run: await p.shutdown(zone, true) };
        default:
          return { ok: false, error: "unreachable" };
      }
    });
  } catch (e) {
    if (e instanceof ZoneError) return { ok: false, error: e.message, kind: e.kind };
    this.log(`internal error: ${(e as Error).stack}`);
    return { ok: false, error: `internal error: ${(e as Error).message}` };
  }
}
