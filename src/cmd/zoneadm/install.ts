/**
 * zoneadm -z zone install [-i image] [-x copy] [-x rebuild-image]: the brand's tree, made by
 * zoneadmd. A `debian` zone's base image is built first, here in the command, so that
 * mmdebstrap's progress (a minute, once per host) reaches the terminal directly; the
 * build is under a host-wide lock (images.ts), so concurrent installs build it once.
 *   -i image          brand oci: the OCI image layout the zone is made from
 *   -x copy           a full private copy of the image instead of an overlay on it
 *   -x rebuild-image  fetch the image again from the archive, then install from it
 */
import * as path from "node:path";
import { UsageError, ZoneError, q } from "../../native/errors.js";
import { zonePaths } from "../../document/store/paths.js";
import type { IndexEntry, Repository } from "../../document/store/repository.js";
import { checkOperation } from "../../document/store/state.js";
import { call } from "../../daemon/client.js";
import { ensureDebianImage } from "../../platform/images.js";

interface InstallContext {
  repo: Repository;
  zone: string | undefined;
  args: string[];
  out(line: string): void;
}

const USAGE = "usage: zoneadm -z zone install [-i image] [-x copy] [-x rebuild-image]";
const EXTRAS = ["copy", "rebuild-image"];

export function parseInstallArgs(args: readonly string[]): { x: Set<string>; image?: string } {
  const x = new Set<string>();
  let image: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-i" && image === undefined && args[i + 1] !== undefined) {
      // zoneadmd has its own working directory: a relative path is this one's.
      image = path.resolve(args[++i]!);
      continue;
    }
    if (args[i] !== "-x") throw new UsageError(`unknown install argument ${q(args[i]!)}\n${USAGE}`);
    const v = args[++i];
    if (v === undefined || !EXTRAS.includes(v)) throw new UsageError(`install -x takes one of ${EXTRAS.join(", ")}, not ${q(v ?? "")}\n${USAGE}`);
    x.add(v);
  }
  return image === undefined ? { x } : { x, image };
}

export function installSubcommand(entryOf: (ctx: InstallContext) => IndexEntry) {
  return {
    name: "install",
    usage: "install [-i image] [-x copy] [-x rebuild-image]",
    needsZone: true,
    async run(ctx: InstallContext): Promise<void> {
      const e = entryOf(ctx);
      const { x, image } = parseInstallArgs(ctx.args);
      checkOperation("install", e.state);
      const brand = ctx.repo.load(e.name).brand;
      if (x.size > 0 && brand !== "debian") throw new ZoneError(`install -x ${[...x].join(" -x ")}: brand ${q(brand)} has no such option (the debian brand has)`);
      // Only root may install (zoneadmd says so to anyone else) or write the host's image cache.
      if (brand === "debian" && process.getuid?.() === 0) ensureDebianImage({ rebuild: x.has("rebuild-image"), stdio: "inherit", progress: (l) => process.stderr.write(`zoneadm: ${l}\n`) });
      const reply = await call(zonePaths(), { op: "install", zone: ctx.zone, copy: x.has("copy"), ...(image === undefined ? {} : { image }) });
      if (!reply.ok) throw new ZoneError(reply.error);
    },
  };
}
