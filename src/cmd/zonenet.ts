/**
 * zonenet [-p] [-z zone]: each ready or running zone's interfaces and addresses, seen
 * from the global zone (illumos: `ipadm show-addr` and `dladm show-link` run with -z).
 * Addresses are read live in the zone's network namespace, so an exclusive-IP zone
 * shows what its own administrator configured.
 *
 *   ZONE  IP  LINK  HOST-LINK  OVER  STATE  ADDRESSES
 *
 * OVER is the configured physical, with the host bridge in parentheses where its host
 * name differs (under a ZONES_ROOT). -p prints zone:ip:link:host-link:over:state:addresses.
 */
import { EXIT_OK, UsageError, ZoneError } from "../native/errors.js";
import { checkZoneName } from "../document/names.js";
import { zoneInterfaces, type InterfaceRow } from "../platform/network/interfaces.js";
import { readNets } from "../platform/network/netrecords.js";
import { zonePaths } from "../document/store/paths.js";
import { alive } from "../platform/halt.js";
import { readRun } from "../document/store/runstate.js";
import { printable } from "../native/printable.js";
import { failure } from "./report.js";

const USAGE = "usage: zonenet [-p] [-z zone]";

/**
 * An exclusive-IP zone's root names its own links and sets their state and addresses:
 * every field read from its namespace is escaped (printable.ts; the backslash too, as
 * -p always did).
 */
function escapeRow(r: InterfaceRow): InterfaceRow {
  return { ...r, link: printable(r.link), hostLink: printable(r.hostLink), over: printable(r.over), state: printable(r.state), addresses: r.addresses.map((a) => printable(a)) };
}

function main(argv: string[]): number {
  let prefix = "zonenet";
  try {
    let zone: string | undefined;
    let parsable = false;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === "-p") parsable = true;
      else if (a === "-z" && argv[i + 1] !== undefined) zone = argv[++i];
      else throw new UsageError(USAGE);
    }
    if (zone !== undefined) {
      checkZoneName(zone);
      prefix = `zonenet: zone '${zone}'`;
    }
    const paths = zonePaths();
    const nets = readNets(paths)
      .filter((n) => zone === undefined || n.zone === zone)
      .sort((a, b) => a.zone.localeCompare(b.zone));
    if (zone !== undefined && nets.length === 0) throw new ZoneError("zone is not ready or running, or has no net resource");
    const rows: InterfaceRow[] = [];
    for (const n of nets) {
      const pid = readRun(paths, n.zone)?.pid ?? 0;
      if (pid > 0 && alive(pid)) rows.push(...zoneInterfaces(n, pid).map(escapeRow));
    }
    const out = (l: string): boolean => process.stdout.write(l + "\n");
    if (parsable) {
      for (const r of rows) out([r.zone, r.ipType === "exclusive" ? "excl" : "shared", r.link, r.hostLink, r.over, r.state, r.addresses.join(",")].join(":"));
      return EXIT_OK;
    }
    const w = (k: (r: InterfaceRow) => string, title: string): number => Math.max(title.length, ...rows.map((r) => k(r).length));
    const cols: Array<[string, (r: InterfaceRow) => string]> = [
      ["ZONE", (r) => r.zone],
      ["IP", (r) => (r.ipType === "exclusive" ? "excl" : "shared")],
      ["LINK", (r) => r.link],
      ["HOST-LINK", (r) => r.hostLink],
      ["OVER", (r) => r.over],
      ["STATE", (r) => r.state],
      ["ADDRESSES", (r) => r.addresses.join(",") || "-"],
    ];
    const widths = cols.map(([t, k]) => w(k, t));
    const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join(" ");
    out(line(cols.map(([t]) => t)));
    for (const r of rows) out(line(cols.map(([, k]) => k(r))));
    return EXIT_OK;
  } catch (e) {
    return failure(prefix, e);
  }
}

process.exitCode = main(process.argv.slice(2));
