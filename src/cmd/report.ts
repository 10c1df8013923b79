/** How every command reports a failure: one line per problem, prefixed, then an exit code. */
import { EXIT_ERR, UsageError, ZoneError } from "../native/errors.js";

/** Print `prefix: message` for each line of the message to stderr. */
export function printError(prefix: string, message: string): void {
  for (const line of message.split("\n")) process.stderr.write(`${prefix}: ${line}\n`);
}

/** A usage error: its first line prefixed, the usage text after it as it is. */
function printUsage(prefix: string, message: string): void {
  const [first, ...rest] = message.split("\n");
  process.stderr.write(`${prefix}: ${first}\n${rest.map((l) => l + "\n").join("")}`);
}

/** Exit code for an error; anything that is not a ZoneError is a bug and shows its stack. */
export function failure(prefix: string, e: unknown): number {
  if (e instanceof UsageError) {
    printUsage(prefix, e.message);
    return e.exitCode;
  }
  if (e instanceof ZoneError) {
    printError(prefix, e.message);
    return e.exitCode;
  }
  // A system call's failure (a full disk, say) is the host's state, not a bug: one line.
  const code = (e as NodeJS.ErrnoException)?.code;
  if (e instanceof Error && typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) {
    printError(prefix, e.message.split("\n")[0]!);
    return EXIT_ERR;
  }
  printError(prefix, `internal error: ${(e as Error)?.stack ?? String(e)}`);
  return EXIT_ERR;
}
