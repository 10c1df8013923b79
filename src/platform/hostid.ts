/**
 * The zone's hostid (illumos zonecfg hostid): gethostid(3) in glibc (and the static
 * busybox of our brands) reads /etc/hostid, four bytes in host byte order. Written
 * at each ready through the pinned zone root, so a `set hostid` takes effect at the
 * next boot and a link the zone left at /etc/hostid is replaced, never followed.
 * An unset hostid leaves the zone's own /etc/hostid, if any, alone (the zone may
 * manage it, as sethostid(3) does).
 */
import type { ZoneRoot } from "./zonefs.js";

export function hostidBytes(hostid: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(parseInt(hostid.replace(/^0x/i, ""), 16));
  return b;
}

export function writeHostid(zr: ZoneRoot, hostid: string, base: number): void {
  if (hostid !== "") zr.writeFile("etc/hostid", hostidBytes(hostid), 0o644, base, base);
}
