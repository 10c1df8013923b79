/**
 * A zone's apt, pointed at the global zone's package proxy (src/daemon/proxy.ts): the
 * files, and their writer for brands with apt inside (the debian brand calls
 * writeAptProxy at install, through zonefs). The zone reaches the proxy at the global
 * zone's address on its zone bridge, its default router there; a zone without one
 * (no defrouter on a zone bridge, a link of the host's, no network) has no proxy.
 */
import * as path from "node:path";
import type { ZoneConfig } from "../../document/model.js";
import { zonePaths } from "../../document/store/paths.js";
import { archiveOf, hostSources, proxySettings, type HostSources } from "../archives.js";
import { addressOf, planNetwork } from "../network/plan.js";
import { SETTINGS_FILE } from "../reserve.js";
import type { ZoneTree } from "./tree.js";

/**
 * The apt configuration that makes a zone fetch through the proxy at `gw:port`: its
 * sources name the proxy as the mirror of each host archive (plain HTTP to the global
 * zone, whatever the archive's scheme: the proxy fetches https archives over TLS
 * itself), and any other http source the zone's administrator adds goes through the
 * proxy too, so it meets the proxy's one-line refusal instead of a timeout. Files
 * relative to the zone root; the brand writes them through zonefs (ZoneTree.file).
 */
export function proxyAptFiles(gw: string, port: number, sources: HostSources): { path: string; content: string }[] {
  const host = gw.includes(":") ? `[${gw}]` : gw;
  const stanzas: string[] = [];
  for (const e of sources.entries) {
    const a = archiveOf(e.uri);
    const mount = a && sources.archives.find((x) => x.host === a.host && x.path === a.path)?.mount;
    if (!mount) continue;
    stanzas.push(
      [`Types: ${e.types.join(" ")}`, `URIs: http://${host}:${port}${mount}`, `Suites: ${e.suites.join(" ")}`, e.components.length > 0 ? `Components: ${e.components.join(" ")}` : "", e.signedBy ? `Signed-By: ${e.signedBy}` : ""]
        .filter((l) => l !== "")
        .join("\n"),
    );
  }
  const conf = [
    "// Written by zoneadm: this zone reaches the package archives through the global zone's proxy only.",
    `Acquire::http::Proxy "http://${host}:${port}/";`,
    `Acquire::http::Proxy::${gw} "DIRECT";`,
    "",
  ].join("\n");
  return [
    { path: "etc/apt/sources.list.d/zones-proxy.sources", content: `# Written by zoneadm: the host's archives, through the global zone's package proxy.\n${stanzas.join("\n\n")}\n` },
    { path: "etc/apt/apt.conf.d/01zones-proxy", content: conf },
  ];
}

/** The global zone's address the zone reaches the proxy at: on its first zone bridge with a defrouter in its subnet. */
export function proxyGateway(z: ZoneConfig): string | undefined {
  // Only the addresses matter here, and they do not depend on the root's prefix.
  const l = planNetwork("zones", z).links.find((x) => x.ownBridge && x.globalAddresses.length > 0);
  return l ? addressOf(l.globalAddresses[0]!) : undefined;
}

/**
 * Point the zone's apt at the proxy: its sources.list and debian.sources are emptied
 * (the host's archives come through zones-proxy.sources) and the proxy configuration
 * written. False, and
 * nothing written, when the zone has no gateway or the proxy is off.
 */
export function writeAptProxy(tree: ZoneTree, z: ZoneConfig, configDir = zonePaths(process.env).configDir): boolean {
  const gw = proxyGateway(z);
  const settings = proxySettings(path.join(configDir, SETTINGS_FILE));
  if (gw === undefined || !settings.enabled) return false;
  for (const d of ["etc", "etc/apt", "etc/apt/apt.conf.d", "etc/apt/sources.list.d"]) tree.dir(d);
  // The image's own entries (sources.list, or debian.sources as Debian's installers
  // write it) would name the same archives again and fetch every index twice.
  const moved = "# This zone's archives: sources.list.d/zones-proxy.sources (the global zone's package proxy).\n";
  tree.file("etc/apt/sources.list", moved);
  tree.file("etc/apt/sources.list.d/debian.sources", moved);
  for (const f of proxyAptFiles(gw, settings.port, hostSources())) tree.file(f.path, f.content);
  return true;
}
