/**
 * The host's links as sysfs shows them: whether one exists, its index, whether it is a
 * bridge, its ifalias (where a root marks the links it made). Reads only, no netlink:
 * the checks (plan.ts) run in commands too, and the sweep finds a root's links by them.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Marker in the ifalias of every host link a root made: how sweeps find their own. */
export function aliasPrefix(hostPrefix: string): string {
  return `${hostPrefix}:`;
}

const SYS_NET = "/sys/class/net";

export function linkExists(name: string): boolean {
  return name !== "" && fs.existsSync(path.join(SYS_NET, name));
}

/** The ifindex of a host link, from sysfs. */
export function ifindex(name: string): number {
  return Number(fs.readFileSync(path.join(SYS_NET, name, "ifindex"), "utf8"));
}

/** The name of host link `index`, for messages. */
export function linkName(index: number): string {
  try {
    return fs.readdirSync(SYS_NET).find((n) => ifindex(n) === index) ?? `link ${index}`;
  } catch {
    return `link ${index}`;
  }
}

export function isBridge(name: string): boolean {
  return fs.existsSync(path.join(SYS_NET, name, "bridge"));
}

export function ifalias(name: string): string {
  try {
    return fs.readFileSync(path.join(SYS_NET, name, "ifalias"), "utf8").trim();
  } catch {
    return "";
  }
}

/** Zones of other roots on the host bridge `bridge`, and the addresses each may use. */
export function foreignPorts(hostPrefix: string, bridge: string): { zone: string; addresses: string[] }[] {
  let ports: string[] = [];
  try {
    ports = fs.readdirSync(path.join(SYS_NET, bridge, "brif"));
  } catch {
    return [];
  }
  const out: { zone: string; addresses: string[] }[] = [];
  for (const p of ports) {
    const m = /^([^:]+):zone:([^:]+):(.*)$/.exec(ifalias(p));
    if (m && m[1] !== hostPrefix) out.push({ zone: `${m[2]!}' of root '${m[1]!}`, addresses: m[3] ? m[3].split(",") : [] });
  }
  return out;
}

/** Host links (bridges, veth host sides) a root made, found by their ifalias marker. */
export function hostLinksOf(hostPrefix: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(SYS_NET);
  } catch {
    return [];
  }
  return names.filter((n) => ifalias(n).startsWith(aliasPrefix(hostPrefix)));
}
