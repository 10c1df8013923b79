/**
 * zoneadm -z zone image [-p]: what an oci zone was installed from (illumos has no
 * images; `zonecfg info` shows configuration only, and list -p keeps its seven fields).
 * The digest of the image's manifest identifies it; -p prints it alone, for scripts.
 * The values came from the image, not from the global zone: printed escaped.
 */
import { UsageError, ZoneError } from "../../native/errors.js";
import { printable } from "../../native/printable.js";
import type { IndexEntry, Repository } from "../../document/store/repository.js";
import { readImageRecord } from "../../platform/brands/oci.js";

interface ImageContext {
  repo: Repository;
  zone: string | undefined;
  args: string[];
  out(line: string): void;
}

export function imageSubcommand(entryOf: (ctx: ImageContext) => IndexEntry) {
  return {
    name: "image",
    usage: "image [-p]",
    needsZone: true,
    run(ctx: ImageContext): void {
      if (ctx.args.length > 1 || (ctx.args.length === 1 && ctx.args[0] !== "-p")) throw new UsageError("usage: zoneadm -z zone image [-p]");
      const e = entryOf(ctx);
      const z = ctx.repo.load(e.name);
      if (z.brand !== "oci") throw new ZoneError(`zone '${e.name}' has brand ${JSON.stringify(z.brand)}; only oci zones have an image`);
      if (e.state === "configured" || e.state === "incomplete") throw new ZoneError(`zone '${e.name}' is ${e.state}; it has an image once installed`);
      const r = readImageRecord(z.zonepath);
      if (!r) throw new ZoneError(`zone '${e.name}' has no image record in ${JSON.stringify(z.zonepath)}`);
      if (ctx.args[0] === "-p") return ctx.out(printable(r.digest));
      // A word with a blank or a quote is quoted; printable has escaped backslashes already.
      const words = (a: string[]): string => a.map((w) => (w === "" || /[\s"]/.test(w) ? `"${printable(w).replace(/"/g, '\\"')}"` : printable(w))).join(" ");
      ctx.out(`digest:      ${printable(r.digest)}`);
      ctx.out(`source:      ${printable(r.source)}`);
      if (r.ref !== undefined) ctx.out(`ref:         ${printable(r.ref)}`);
      ctx.out(`init:        ${words(r.init)}`);
      ctx.out(`user:        ${r.user.uid}:${r.user.gid}`);
      ctx.out(`workingdir:  ${printable(r.cwd)}`);
      ctx.out(`stopsignal:  ${r.stopSignal}`);
      for (const v of r.env) ctx.out(`env:         ${printable(v)}`);
    },
  };
}
