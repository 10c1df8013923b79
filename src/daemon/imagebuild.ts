/**
 * The brand's base image, made by zoneadmd's install when it is missing (or asked for
 * again: `-x rebuild-image`), for `zoneadm install` and the API's install alike: one
 * implementation, images.ts ensureDebianImage, under its host-wide build lock.
 *
 * The build runs in a child process (zoneadmd's own script with BUILD_ARG): it spends a
 * minute in spawnSync(mmdebstrap) and may wait on the blocking flock of another root's
 * build, and neither may stall the daemon's event loop, which serves every other zone
 * meanwhile. The child's lines (its progress, mmdebstrap's own output) are the daemon's
 * progress lines, as they were the terminal's when the command built; the daemon hands them
 * to the operation's `progress` (the command's connection, the API operation's metadata)
 * and to its log (the API's logging events). An image already built costs no child:
 * the check is a readlink.
 */
import { spawn } from "node:child_process";
import * as readline from "node:readline";
import { EXIT_ERR, ZoneError, q } from "../native/errors.js";
import type { Repository } from "../document/store/repository.js";
import { checkOperation } from "../document/store/state.js";
import type { Request } from "./protocol.js";
import { currentTree, debianImageDir, ensureDebianImage } from "../platform/images.js";

/** zoneadmd's argument that makes it the image builder instead of the daemon. */
export const BUILD_ARG = "--build-image";

export interface ImageRequest {
  brand: string;
  /** `-x rebuild-image`: fetch the image again from the archive. */
  rebuild: boolean;
  /** `-x copy` is the debian brand's too; other brands refuse both, as the command does. */
  copy: boolean;
}

/** The brands whose install needs the host-wide base image. */
function needsImage(brand: string): boolean {
  return brand === "debian";
}

/** Refuse -x options a brand does not have (the command's message, now the daemon's). */
export function checkImageOptions(r: ImageRequest): void {
  const x = [...(r.copy ? ["copy"] : []), ...(r.rebuild ? ["rebuild-image"] : [])];
  if (x.length > 0 && !needsImage(r.brand)) throw new ZoneError(`install -x ${x.join(" -x ")}: brand ${q(r.brand)} has no such option (the debian brand has)`);
}

/**
 * The command line of the builder child: this daemon's own script. ZONES_IMAGE_BUILDER
 * (read only here, for tests: the real build takes minutes and the cache is the host's)
 * names an executable run in its place, with the same arguments after BUILD_ARG.
 */
export function builderCommand(rebuild: boolean): string[] {
  const fake = process.env.ZONES_IMAGE_BUILDER;
  if (fake !== undefined && fake !== "") return [fake, ...(rebuild ? ["rebuild"] : [])];
  const script = process.argv[1];
  if (script === undefined) throw new ZoneError("cannot build the base image: zoneadmd does not know its own script");
  return [process.execPath, script, BUILD_ARG, ...(rebuild ? ["rebuild"] : [])];
}

/**
 * Run a builder child: each stdout line is progress; a status other than 0 is an error
 * naming the last stderr line (the child's one-line message).
 */
export function runBuilder(argv: readonly string[], progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    // mmdebstrap's and tar's own lines come on stderr: progress too, but the last one is
    // held back until the end, for it is the child's error line when it fails.
    let last = "";
    readline.createInterface({ input: child.stdout }).on("line", (l) => progress(l));
    readline.createInterface({ input: child.stderr }).on("line", (l) => {
      if (l.trim() === "") return;
      if (last !== "") progress(last);
      last = l.trim();
    });
    child.on("error", (e) => reject(new ZoneError(`cannot start the image builder ${q(argv[0]!)}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) {
        if (last !== "") progress(last);
        resolve();
      } else reject(new ZoneError(last !== "" ? last : `the image builder ended with ${signal ?? `status ${code}`}`));
    });
  });
}

/** Before a brand's install: its image, built if missing or asked for again. */
export async function ensureImage(r: ImageRequest, progress: (line: string) => void, argv = builderCommand(r.rebuild)): Promise<void> {
  checkImageOptions(r);
  if (!needsImage(r.brand)) return;
  if (!r.rebuild && currentTree(debianImageDir()) !== undefined) return;
  await runBuilder(argv, progress);
}

/** The child's side (zoneadmd BUILD_ARG [rebuild]): build, say progress on stdout, exit. */
export function builderMain(args: readonly string[]): never {
  try {
    // mmdebstrap's own output goes to this child's stderr and stdout, relayed as progress (runBuilder).
    ensureDebianImage({ rebuild: args[0] === "rebuild", stdio: "inherit", progress: (l) => process.stdout.write(`${l}\n`) });
    process.exit(0);
  } catch (e) {
    process.stderr.write(`${(e as Error).message.split("\n")[0]}\n`);
    process.exit(1);
  }
}

/**
 * The install operation's first step (server.ts): the zone's state is checked before a
 * build of minutes, as the command did; each progress line is logged too.
 */
export async function installImage(d: { readonly platform: { readonly repo: Repository }; log(line: string): void }, zone: string, req: Request, progress?: (line: string) => void): Promise<void> {
  const e = d.platform.repo.find(zone);
  if (!e) throw new ZoneError("no such zone configured", EXIT_ERR, "missing");
  checkOperation("install", e.state);
  const brand = d.platform.repo.load(zone).brand;
  await ensureImage({ brand, rebuild: req.rebuildImage === true, copy: req.copy === true }, (l) => {
    d.log(`zone ${q(zone)}: install: ${l}`);
    progress?.(l);
  });
}
