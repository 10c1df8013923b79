/** What `zonenet` shows of a zone's interfaces: read in the zone's network namespace now. */
import { spawnSync } from "node:child_process";
import type { IpType } from "../../document/model.js";
import type { ZoneNet } from "./plan.js";

/** One row of `zonenet`: an interface of a zone as the zone has it now. */
export interface InterfaceRow {
  zone: string;
  ipType: IpType;
  link: string;
  hostLink: string;
  over: string;
  state: string;
  addresses: string[];
}

interface IpAddrJson {
  ifname: string;
  operstate?: string;
  addr_info?: Array<{ local: string; prefixlen: number; scope?: string }>;
}

/** The zone's interfaces, read in its network namespace (`pid`: a process of the zone). */
export function zoneInterfaces(net: ZoneNet, pid: number): InterfaceRow[] {
  const r = spawnSync("nsenter", [`--net=/proc/${pid}/ns/net`, "ip", "-json", "addr", "show"], { encoding: "utf8" });
  let live: IpAddrJson[] = [];
  try {
    // ip -json writes a link's name raw, and an exclusive-IP zone's root may put
    // control characters in it (only whitespace is refused): JSON.parse would reject
    // the whole listing and hide the zone's links. Outside strings none can occur.
    live = JSON.parse(r.stdout.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)) as IpAddrJson[];
  } catch {
    live = [];
  }
  const rows: InterfaceRow[] = [];
  for (const i of live) {
    if (i.ifname === "lo") continue;
    const l = net.links.find((x) => x.zoneIf === i.ifname);
    rows.push({
      zone: net.zone,
      ipType: net.ipType,
      link: i.ifname,
      hostLink: l?.hostIf || "-",
      over: l ? l.physical + (l.bridge && l.bridge !== l.physical ? `(${l.bridge})` : "") : "-",
      state: (i.operstate ?? "unknown").toLowerCase(),
      addresses: (i.addr_info ?? []).filter((a) => a.scope !== "link").map((a) => `${a.local}/${a.prefixlen}`),
    });
  }
  return rows;
}
