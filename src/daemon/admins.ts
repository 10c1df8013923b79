/**
 * Delegated administration (zonecfg `add admin`): which operation a host user may ask
 * of zoneadmd on the admin socket. The caller is the uid the kernel gives for the
 * connection (SO_PEERCRED), never anything the request says; the zone's document is
 * read again at every request, so removing an admin resource revokes at once.
 *
 *   login   zlogin into the zone (a command or a shell) and attach to its console
 *   manage  boot, halt, reboot and shut the zone down
 *
 * Nothing else is open to a user: install, uninstall, ready, post and stats are
 * root's, and so is every change of configuration (the repository is root's files).
 */
import type { Repository } from "../document/store/repository.js";
import { checkZoneName } from "../document/names.js";
import { q } from "../native/errors.js";
import { hostUserName } from "../platform/hostusers.js";
import type { Operation, Request } from "./protocol.js";

type Auth = "login" | "manage";

/** What each operation open to users needs; "anyone" for the harmless ones. */
const NEEDS: Partial<Record<Operation, Auth | "anyone">> = {
  ping: "anyone",
  boot: "manage",
  halt: "manage",
  reboot: "manage",
  shutdown: "manage",
  "shutdown-reboot": "manage",
  console: "login",
  login: "login",
};

const VERBS: Partial<Record<Operation, string>> = { login: "log in to", console: "attach to the console of", "shutdown-reboot": "shut down and reboot" };

/** Why host uid `uid` may not make request `req`, or undefined when it may. */
export function refusal(repo: Repository, uid: number, req: Request, passwd?: string): string | undefined {
  if (uid === 0) return undefined;
  const op = req.op;
  const need = NEEDS[op];
  if (need === undefined) return `operation ${q(String(op))} is for root only`;
  if (need === "anyone") return undefined;
  const zone = typeof req.zone === "string" ? req.zone : "";
  try {
    checkZoneName(zone);
  } catch (e) {
    return (e as Error).message;
  }
  // Another init chooses what runs as the zone's root at boot: that is configuration.
  if (req.init !== undefined) return "boot arguments (-- -i init) are for root only";
  const name = hostUserName(uid, passwd);
  const who = name === undefined ? `uid ${uid}` : `user ${q(name)}`;
  // The same answer for a zone that does not exist: a user learns nothing by asking.
  const denied =
    name === undefined
      ? `${who} is not authorized to ${VERBS[op] ?? op} this zone (it has no name in /etc/passwd)`
      : `${who} is not authorized to ${VERBS[op] ?? op} this zone (that needs add admin; set user=${name}; set auths=${need})`;
  if (name === undefined) return denied;
  let auths: string[];
  try {
    auths = repo
      .load(zone)
      .admin.filter((a) => a.user === name)
      .flatMap((a) => a.auths.split(","));
  } catch {
    return denied;
  }
  return auths.includes(need) ? undefined : denied;
}
