/** Validation of names and paths that later reach the file system, a mount or a shell. */
import * as path from "node:path";
import { EXIT_ERR, ZoneError, q } from "../native/errors.js";

const ZONE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const GLOBAL_ZONE = "global";

/** Throws unless `name` can name a non-global zone. */
export function checkZoneName(name: string): void {
  if (!ZONE_NAME.test(name))
    throw new ZoneError(`invalid zone name ${q(name)}: must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit`, EXIT_ERR, "input");
  if (name === GLOBAL_ZONE) throw new ZoneError(`zone name ${q(name)} is reserved for the global zone`, EXIT_ERR, "input");
  if (name.startsWith("SUNW")) throw new ZoneError(`zone name ${q(name)} is reserved: names starting with SUNW belong to the system`, EXIT_ERR, "input");
}

/**
 * An absolute, normalized path without control characters: what a mount target or
 * a zonepath must be. `what` names the property in the message.
 */
export function checkAbsolutePath(what: string, p: string): void {
  if (!path.isAbsolute(p)) throw new ZoneError(`${what} must be absolute: ${q(p)}`);
  if (/[\0-\x1f\x7f]/.test(p)) throw new ZoneError(`${what} holds a control character: ${q(p)}`);
  if (p.split("/").some((c) => c === ".." || c === ".")) throw new ZoneError(`${what} must not contain '.' or '..' components: ${q(p)}`);
  if (p.length > 1 && (p.endsWith("/") || p.includes("//"))) throw new ZoneError(`${what} must be written without empty components: ${q(p)}`);
  if (p.length > 4095) throw new ZoneError(`${what} is longer than 4095 characters`);
}

/** Is `inner` equal to or below `outer`? Both normalized absolute paths. */
export function pathWithin(inner: string, outer: string): boolean {
  if (outer === "/") return true;
  return inner === outer || inner.startsWith(outer + "/");
}
