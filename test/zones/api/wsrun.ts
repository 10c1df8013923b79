/**
 * The API's streams as a test's host user (run under setpriv): prints one JSON line.
 *   node wsrun.js RUNDIR exec ZONE 'JSON-BODY' [STDIN]   -> ExecResult
 *   node wsrun.js RUNDIR upgrade PATH                     -> {status, error}
 */
import { ApiClient } from "../../support/api.js";
import { execWs, upgradeStatus } from "../../support/wsexec.js";
import { hostApiSocketPath } from "../../../src/daemon/api/api.js";

/** Host users' socket: the run directory itself is root's alone. */
class HostApi extends ApiClient {
  override readonly socketPath: string;
  constructor(runDir: string) {
    super(runDir);
    this.socketPath = hostApiSocketPath(runDir);
  }
}

const [runDir, what, a, b, c] = process.argv.slice(2) as [string, string, string, string | undefined, string | undefined];
const api = new HostApi(runDir);
const result = what === "exec" ? execWs(api, a, JSON.parse(b ?? "{}") as Record<string, unknown>, c ?? "") : upgradeStatus(api, a);
result.then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + "\n");
    api.close();
    process.exit(0);
  },
  (e: Error) => {
    process.stdout.write(JSON.stringify({ status: -1, error: e.message }) + "\n");
    process.exit(1);
  },
);
setTimeout(() => process.exit(2), 30_000).unref();
