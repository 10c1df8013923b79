/**
 * zoneadmd: the zones daemon (see src/daemon/server.ts). zoneadm and zlogin start it on
 * demand; SIGTERM stops it and leaves every zone running; SIGHUP reads zoneadmd.conf's
 * API settings again.
 */
import { Daemon } from "../daemon/server.js";
import { zonePaths } from "../document/store/paths.js";
import { BUILD_ARG, builderMain } from "../daemon/imagebuild.js";

// The daemon's install builds a missing base image in a child of this script (imagebuild.ts).
if (process.argv[2] === BUILD_ARG) builderMain(process.argv.slice(3));

const daemon = new Daemon(zonePaths());

/** One log line, whatever the error holds (a message may quote a zone's text). */
const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0]!.replace(/[\x00-\x1f\x7f]/g, "?");

// The safety net under every zone's operations. A promise rejected with nobody to hear
// it belongs to an operation that has already answered its caller (and cleaned up on
// its own error path): nothing is left half-done by it, so say so and keep serving.
process.on("unhandledRejection", (e) => daemon.log(`zoneadmd ${process.pid}: unhandled rejection: ${firstLine(e)}; still serving`));
// A throw out of an event handler can stop in the middle of anything (Node calls the
// process state undefined after one). Exit instead, as illumos zoneadmd would: zones,
// their inits and console holders run on without the daemon, and the next zoneadm or
// zlogin starts one that reconciles, the path that kill -9 of zoneadmd already takes.
process.on("uncaughtException", (e) => {
  daemon.log(`zoneadmd ${process.pid}: uncaught exception: ${firstLine(e)}; exiting, zones keep running`);
  process.exit(70);
});

daemon.start().then(
  () => {
    // As other daemons: SIGHUP reads the settings again (and no longer ends the daemon).
    process.on("SIGHUP", () => void daemon.reload());
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
