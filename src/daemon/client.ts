/**
 * Talking to zoneadmd, starting it first if it is not running (as zoneadm starts
 * zoneadmd in illumos). The daemon runs in a session of its own, so it outlives the
 * command that started it.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ZoneError } from "../lib/errors.js";
import type { ZonePaths } from "../lib/paths.js";
import { socketPath, type Reply, type Request } from "./protocol.js";

function send(sock: string, req: Request): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    let buf = "";
    c.setEncoding("utf8");
    c.on("connect", () => c.write(JSON.stringify(req) + "\n"));
    c.on("data", (d) => (buf += d));
    c.on("end", () => {
      try {
        resolve(JSON.parse(buf) as Reply);
      } catch {
        reject(new ZoneError("zoneadmd closed the connection without a reply"));
      }
    });
    c.on("error", reject);
  });
}

/** The daemon's entry point, beside this bundle (dist/bin) or the build (dist/src/cmd). */
function daemonScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const p of [path.join(here, "zoneadmd.cjs"), path.join(here, "../../bin/zoneadmd.cjs")]) if (fs.existsSync(p)) return p;
  throw new ZoneError("cannot find zoneadmd (dist/bin/zoneadmd.cjs): run npm run build");
}

export function startDaemon(paths: ZonePaths): void {
  fs.mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  const log = fs.openSync(`${paths.runDir}/zoneadmd.log`, "a", 0o600);
  const child = spawn(process.execPath, [daemonScript()], { detached: true, stdio: ["ignore", log, log] });
  fs.closeSync(log);
  child.unref();
}

export async function call(paths: ZonePaths, req: Request): Promise<Reply> {
  const sock = socketPath(paths.runDir);
  try {
    return await send(sock, req);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ECONNREFUSED") throw e;
  }
  startDaemon(paths);
  const deadline = Date.now() + 10_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    try {
      return await send(sock, req);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== "ENOENT" && code !== "ECONNREFUSED") || Date.now() > deadline)
        throw new ZoneError(`cannot reach zoneadmd at ${sock}: ${(e as Error).message} (see ${paths.runDir}/zoneadmd.log)`);
    }
  }
}
