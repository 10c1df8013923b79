/**
 * zoneadm -z zone install [-i image] [-x copy] [-x rebuild-image]: the brand's tree, made by
 * zoneadmd. A `debian` zone's base image is built first by zoneadmd when it is missing
 * (daemon/imagebuild.ts, the same step as the API's install), under a host-wide lock
 * (images.ts), so concurrent installs build it once; its progress lines come back over
 * the connection and are printed here.
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
import { printable } from "../../native/printable.js";

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
      // zoneadmd builds a missing base image (imagebuild.ts, for the API's install too) and streams its progress here.
      const request = { op: "install" as const, zone: ctx.zone, copy: x.has("copy"), rebuildImage: x.has("rebuild-image"), ...(image === undefined ? {} : { image }) };
      const reply = await call(zonePaths(), request, (l) => process.stderr.write(`zoneadm: ${printable(l)}\n`));
      if (!reply.ok) throw new ZoneError(reply.error);
    },
  };
}
