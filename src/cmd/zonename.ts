/** zonename(1): print the name of the current zone. */
import { EXIT_OK, UsageError } from "../native/errors.js";
import { currentZoneName } from "../platform/zonename.js";
import { failure } from "./report.js";

try {
  if (process.argv.length > 2) throw new UsageError("usage: zonename");
  process.stdout.write(currentZoneName() + "\n");
  process.exitCode = EXIT_OK;
} catch (e) {
  process.exitCode = failure("zonename", e);
}
