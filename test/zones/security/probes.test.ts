/**
 * The probes a zone's root must fail (probeset.ts), in a real sparse zone;
 * debian.test.ts runs the same set in a debian zone.
 */
import * as path from "node:path";
import { after, before, describe } from "node:test";
import { ZoneTestRoot } from "../../support/zones.js";
import { probeTests } from "./probeset.js";

const root = new ZoneTestRoot("probe");
after(() => root.remove());

// ZONES_PROBE_BRAND=debian runs them in a whole-root Debian zone (systemd as its init);
// ZONES_PROBE_INIT=/lib/systemd/systemd against a systemd zone of another brand.
const brand = process.env.ZONES_PROBE_BRAND ?? "sparse";
const init = process.env.ZONES_PROBE_INIT;

describe("a zone's root cannot reach the kernel or the host", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "web", `create; set zonepath=${path.join(root.dir, "zones/web")}; set brand=${brand}; set max-lwps=200`]);
    root.ok("zoneadm", ["-z", "web", "install"]);
    root.ok("zoneadm", ["-z", "web", "boot", ...(init ? ["--", "-i", init] : [])]);
  });
  after(() => {
    root.run("zoneadm", ["-z", "web", "halt"]);
    root.run("zoneadm", ["-z", "web", "uninstall", "-F"]);
  });
  probeTests(root, "web", init !== undefined || brand === "debian");
});
