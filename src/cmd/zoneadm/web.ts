/**
 * zoneadm web: the web console's one-time login URL (as Jupyter prints one). zoneadmd
 * makes sure it listens on 127.0.0.1 (the configured api-listen port, or a free one
 * for as long as it runs) and makes a secret that opens one browser session, once.
 */
import { UsageError, ZoneError } from "../../native/errors.js";
import { zonePaths } from "../../document/store/paths.js";
import { call } from "../../daemon/client.js";

interface WebContext {
  args: string[];
  out(line: string): void;
}

export function webSubcommand() {
  return {
    name: "web",
    usage: "web",
    needsZone: false,
    async run(ctx: WebContext): Promise<void> {
      if (ctx.args.length > 0) throw new UsageError("usage: zoneadm web");
      const reply = await call(zonePaths(), { op: "web" });
      if (!reply.ok) throw new ZoneError(reply.error);
      if (!reply.url) throw new ZoneError("zoneadmd did not say where the web console is");
      ctx.out(reply.url);
    },
  };
}
