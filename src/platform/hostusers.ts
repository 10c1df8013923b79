/**
 * Host accounts, for `add admin` (src/daemon/admins.ts): the user an admin resource
 * names must exist on the host, and zoneadmd maps a caller's kernel-given uid to the
 * name the resource holds. Read from /etc/passwd (no NSS: zoneadmd loads no modules,
 * and a directory service that is down must not change who may boot a zone).
 */
import * as fs from "node:fs";
import { q } from "../native/errors.js";
import type { ZoneConfig } from "../document/model.js";

export interface HostUser {
  name: string;
  uid: number;
}

/** Every account of /etc/passwd (or `file`); an unreadable file has none. */
export function hostUsers(file = "/etc/passwd"): HostUser[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const users: HostUser[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || !/^[0-9]+$/.test(f[2]!)) continue;
    users.push({ name: f[0]!, uid: Number(f[2]) });
  }
  return users;
}

/** The name of host uid `uid`, or undefined when /etc/passwd has none. */
export function hostUserName(uid: number, file?: string): string | undefined {
  return hostUsers(file).find((u) => u.uid === uid)?.name;
}

/** zoneadm verify, install, boot: an admin resource for a user the host lacks would do nothing. */
export function adminUserProblems(z: ZoneConfig, file?: string): string[] {
  if (z.admin.length === 0) return [];
  const names = new Set(hostUsers(file).map((u) => u.name));
  return z.admin.filter((a) => !names.has(a.user)).map((a) => `admin user ${q(a.user)} does not exist on this host`);
}
