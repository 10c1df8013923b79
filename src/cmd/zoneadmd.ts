/**
 * zoneadmd: the zones daemon (see src/daemon/server.ts). zoneadm and zlogin start it on
 * demand; SIGTERM stops it and leaves every zone running.
 */
import { Daemon } from "../daemon/server.js";
import { zonePaths } from "../lib/paths.js";

const daemon = new Daemon(zonePaths());
daemon.start().then(
  () => {
    for (const sig of ["SIGTERM", "SIGINT"] as const)
      process.on(sig, () => {
        daemon.log(`zoneadmd ${process.pid} stopping on ${sig}; zones keep running`);
        daemon.stop();
        process.exit(0);
      });
  },
  (e: Error) => {
    process.stderr.write(`zoneadmd: ${e.message}\n`);
    process.exit(1);
  },
);
