/**
 * Delegated administration (zonecfg `add admin`): which operation a host user may ask
 * of zoneadmd on the admin socket. The caller is the uid the kernel gives for the
 * connection (SO_PEERCRED), never anything the request says; the zone's document is
 * read again at every request, so removing an admin resource revokes at once.
 *
 *   login   zlogin into the zone (a command or a shell) and attach to its console
 *   manage  boot, halt, reboot and shut the zone down
 *   (any)   see the zone: its state, configuration and events (the HTTP API's reads)
 *
 * Nothing else is open to a user: install, uninstall, ready, post and stats are
 * root's, and so is every change of configuration (the repository is root's files).
 * The commands and the HTTP API (src/daemon/api/access.ts) ask this same rule.
 */
import type { Repository } from "../document/store/repository.js";
import { checkZoneName } from "../document/names.js";
import { q } from "../native/errors.js";
import { hostUserName } from "../platform/hostusers.js";
import type { Operation, Request } from "./protocol.js";

type Auth = "login" | "manage";

/**
 * What the HTTP API asks beside the protocol's operations: reading a zone (`show`),
 * and root's configuration changes and checks, named so that a refusal says which.
 */
export type ApiVerb = "show" | "configure" | "create" | "delete" | "verify";
export type Verb = Operation | ApiVerb;

/** What each verb open to users needs; "anyone" for the harmless ones, "any" for any admin entry. */
const NEEDS: Partial<Record<Verb, Auth | "anyone" | "any">> = {
  ping: "anyone",
  show: "any",
  boot: "manage",
  halt: "manage",
  reboot: "manage",
  shutdown: "manage",
  "shutdown-reboot": "manage",
  console: "login",
  login: "login",
};

const VERBS: Partial<Record<Verb, string>> = { login: "log in to", console: "attach to the console of", "shutdown-reboot": "shut down and reboot", show: "see" };

/** What refusal reads of a request: the protocol's, or an API verb on a zone. */
export type Asked = Pick<Request, "zone" | "init"> & { op: Verb };

/** Why host uid `uid` may not make request `req`, or undefined when it may. */
export function refusal(repo: Repository, uid: number, req: Asked, passwd?: string): string | undefined {
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
      : `${who} is not authorized to ${VERBS[op] ?? op} this zone (that needs add admin; set user=${name}${need === "any" ? "" : `; set auths=${need}`})`;
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
  return (need === "any" ? auths.length > 0 : auths.includes(need)) ? undefined : denied;
}

/**
 * The zones whose admin resources name host uid `uid` (every zone for root): what a
 * delegated admin sees of the repository. A zone whose document cannot be read is not
 * hers. Costs one document read per zone; the API's lists are bounded by that.
 */
export function administered(repo: Repository, uid: number, passwd?: string): string[] {
  const names = repo.list().map((e) => e.name);
  if (uid === 0) return names;
  const name = hostUserName(uid, passwd);
  if (name === undefined) return [];
  return names.filter((z) => {
    try {
      return repo.load(z).admin.some((a) => a.user === name && a.auths !== "");
    } catch {
      return false;
    }
  });
}

/** The one-line refusal for a caller who administers no zone at all (a stranger). */
export function strangerRefusal(uid: number, what: string, passwd?: string): string {
  const name = hostUserName(uid, passwd);
  return `${name === undefined ? `uid ${uid}` : `user ${q(name)}`} is not authorized to ${what} (no zone's admin resource names it)`;
}
