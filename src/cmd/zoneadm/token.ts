/**
 * zoneadm token create NAME [-u user] | list | revoke NAME: the API's bearer tokens
 * (daemon/api/tokens.ts). The secret is printed once, by create; the file keeps its hash.
 * Root's alone, like the repository: the token file is root's file.
 */
import { UsageError, ZoneError } from "../../native/errors.js";
import { printable } from "../../native/printable.js";
import { zonePaths } from "../../document/store/paths.js";
import { TokenStore } from "../../daemon/api/tokens.js";

const USAGE = "usage: zoneadm token create name [-u user] | token list | token revoke name";

interface TokenContext {
  args: string[];
  out(line: string): void;
}

export function tokenSubcommand() {
  return {
    name: "token",
    usage: "token create name [-u user] | list | revoke name",
    needsZone: false,
    run(ctx: TokenContext): void {
      const [verb, ...rest] = ctx.args;
      if (process.getuid?.() !== 0) throw new ZoneError("zoneadm token is for root only (the token file is root's)");
      const store = new TokenStore(zonePaths());
      if (verb === "create") {
        const [name, flag, user, ...extra] = rest;
        if (name === undefined || name.startsWith("-") || extra.length > 0 || (flag !== undefined && (flag !== "-u" || user === undefined))) throw new UsageError(USAGE);
        ctx.out(store.create(name, user ?? "root"));
      } else if (verb === "list") {
        if (rest.length > 0) throw new UsageError(USAGE);
        ctx.out("NAME                 USER         CREATED");
        for (const e of store.list()) ctx.out(`${printable(e.name).padEnd(20)} ${printable(e.user).padEnd(12)} ${printable(e.created)}`);
      } else if (verb === "revoke") {
        if (rest.length !== 1) throw new UsageError(USAGE);
        store.revoke(rest[0]!);
      } else throw new UsageError(USAGE);
    },
  };
}
