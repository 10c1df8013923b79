/**
 * zoneadm detach [-n] and attach [-F] [-n path]. The dry runs (-n) are read-only and
 * done here; the transitions go to zoneadmd, which owns them all.
 */
import * as path from "node:path";
import { UsageError, ZoneError } from "../../native/errors.js";
import { zonePaths } from "../../document/store/paths.js";
import type { IndexEntry, Repository } from "../../document/store/repository.js";
import { checkOperation } from "../../document/store/state.js";
import { call } from "../../daemon/client.js";
import { attachPlan, detachPlan, manifestText } from "../../platform/attach.js";
import { SlotRegistry } from "../../platform/slots.js";

interface Context {
  repo: Repository;
  zone: string | undefined;
  args: string[];
  out(line: string): void;
}

async function viaDaemon(op: "detach" | "attach", zone: string, force = false): Promise<void> {
  const reply = await call(zonePaths(), { op, zone, force });
  if (!reply.ok) throw new ZoneError(reply.error);
}

export function detachSubcommand(entryOf: (ctx: Context) => IndexEntry) {
  return {
    name: "detach",
    usage: "detach [-n]",
    needsZone: true,
    async run(ctx: Context): Promise<void> {
      if (ctx.args.length > 1 || (ctx.args.length === 1 && ctx.args[0] !== "-n")) throw new UsageError("usage: zoneadm -z zone detach [-n]");
      const e = entryOf(ctx);
      // An incomplete zone may be a detach cut short: zoneadmd finishes it if so.
      if (e.state !== "incomplete" || ctx.args[0] === "-n") checkOperation("detach", e.state);
      if (ctx.args[0] === "-n") {
        const m = detachPlan({ paths: zonePaths(), repo: ctx.repo, slots: new SlotRegistry(), log: () => {} }, e.name);
        ctx.out(`would write ${path.join(e.zonepath, "zone-detached.json")} and release uid slot ${m.slot}:`);
        // JSON with every non-ASCII character escaped: still the manifest, and plain text.
        ctx.out(manifestText(m).replace(/[^\x20-\x7e\n]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).trimEnd());
        return;
      }
      await viaDaemon("detach", e.name);
    },
  };
}

export function attachSubcommand(entryOf: (ctx: Context) => IndexEntry) {
  return {
    name: "attach",
    usage: "attach [-F] [-n path]",
    needsZone: true,
    async run(ctx: Context): Promise<void> {
      let force = false;
      let dry: string | undefined;
      const usage = new UsageError("usage: zoneadm -z zone attach [-F] [-n path]");
      for (let i = 0; i < ctx.args.length; i++) {
        const a = ctx.args[i];
        if (a === "-F") force = true;
        else if (a === "-n" && ctx.args[i + 1] !== undefined) dry = ctx.args[++i];
        else throw usage;
      }
      const e = entryOf(ctx);
      if (dry !== undefined) {
        if (!path.isAbsolute(dry)) throw new ZoneError(`attach -n needs an absolute path, not ${JSON.stringify(dry)}`);
        for (const line of attachPlan(dry)) ctx.out(line);
        return;
      }
      if (e.state !== "incomplete") checkOperation("attach", e.state);
      await viaDaemon("attach", e.name, force);
    },
  };
}
