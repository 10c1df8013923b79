/**
 * zonecfg(8): create and change zone configurations.
 *   zonecfg -z NAME                 interactive (prompts zonecfg:NAME> / zonecfg:NAME:fs>)
 *   zonecfg -z NAME "cmd; cmd"      one command line; the arguments are joined by blanks
 *   zonecfg -z NAME -f FILE         commands from FILE, or standard input for "-"
 * Standard input that is not a terminal is read as a command stream. Non-interactive
 * input stops at the first error and commits nothing; exit and end of input commit.
 */
import * as readline from "node:readline";
import { EXIT_OK, UsageError } from "../native/errors.js";
import { lex } from "../document/lexer.js";
import { checkZoneName } from "../document/names.js";
import { zonePaths } from "../document/store/paths.js";
import { Repository } from "../document/store/repository.js";
import { helpText, USAGE } from "../daemon/zonecfg/help.js";
import { readCommandStream } from "./zonecfg/input.js";
import { ZonecfgSession, type SessionIO } from "../daemon/zonecfg/session.js";
import { runScript as runCommandStream } from "../daemon/zonecfg/script.js";
import { failure, printError } from "./report.js";

interface Args {
  zone: string;
  file?: string;
  commands?: string;
}

function parseArgs(argv: string[]): Args | "help" {
  let zone: string | undefined;
  let file: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-z" || a === "-f") {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option ${a} needs an argument\n${USAGE}`);
      if (a === "-z") zone = v;
      else file = v;
    } else if (a === "--") {
      i++;
      break;
    } else if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
    else break;
  }
  const rest = argv.slice(i);
  if (zone === undefined) {
    if (rest.length > 0 && (rest[0] === "help" || rest[0] === "?")) return "help";
    throw new UsageError(`no zone given (-z)\n${USAGE}`);
  }
  if (file !== undefined && rest.length > 0) throw new UsageError(`give either -f or subcommands, not both\n${USAGE}`);
  return { zone, file, commands: rest.length > 0 ? rest.join(" ") : undefined };
}

function ttyConfirm(): SessionIO["confirm"] {
  return async (question) => {
    if (!process.stdin.isTTY) return null;
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    rl.close();
    return /^y(es)?$/i.test(answer.trim());
  };
}

/** Commands from a string or file (daemon/zonecfg/script.ts, which the API runs too). */
async function runScript(session: ZonecfgSession, prefix: string, text: string, source?: string): Promise<number> {
  const r = await runCommandStream(session, text, source);
  if (r.ok) return EXIT_OK;
  printError(prefix, r.message);
  return r.exitCode;
}

/**
 * Lines from a readline interface, one at a time. Every line is queued as it arrives,
 * so pasted input is not lost between prompts and confirmations.
 */
function lineQueue(rl: readline.Interface): (prompt: string) => Promise<string | null> {
  const lines: string[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  rl.on("line", (l) => {
    lines.push(l);
    wake?.();
  });
  rl.on("close", () => {
    closed = true;
    wake?.();
  });
  return async (prompt) => {
    rl.setPrompt(prompt);
    rl.prompt();
    while (lines.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
    wake = undefined;
    return lines.shift() ?? null;
  };
}

async function runInteractive(session: ZonecfgSession, io: SessionIO, prefix: string): Promise<number> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true, historySize: 200 });
  const next = lineQueue(rl);
  // While the main loop owns the terminal, confirmations are asked through it.
  io.confirm = async (question) => /^y(es)?$/i.test((await next(question)) ?? "");
  if (session.storedName === null) {
    process.stdout.write(`${session.name}: No such zone configured\nUse 'create' to begin configuring a new zone.\n`);
  }
  let status = EXIT_OK;
  for (;;) {
    const line = await next(session.prompt);
    if (line === null) break;
    try {
      for (const cmd of lex(line)) {
        await session.run(cmd);
        if (session.exited) break;
      }
      status = EXIT_OK;
    } catch (e) {
      status = failure(prefix, e);
    }
    if (session.exited) break;
  }
  rl.close();
  if (!session.exited) {
    process.stdout.write("\n");
    try {
      await session.finish();
    } catch (e) {
      return failure(prefix, e);
    }
  }
  return status;
}

async function main(argv: string[]): Promise<number> {
  let prefix = "zonecfg";
  try {
    const args = parseArgs(argv);
    if (args === "help") {
      process.stdout.write(`${USAGE}\n\n${helpText("commands")}\n`);
      return EXIT_OK;
    }
    checkZoneName(args.zone);
    prefix = `zonecfg: zone '${args.zone}'`;
    const repo = new Repository(zonePaths());
    const io: SessionIO = { out: (t) => process.stdout.write(t + "\n"), confirm: ttyConfirm() };
    const session = new ZonecfgSession(repo, args.zone, io);
    if (args.commands !== undefined) return await runScript(session, prefix, args.commands);
    if (args.file !== undefined) {
      const fromStdin = args.file === "-";
      if (fromStdin) io.confirm = async () => null;
      return await runScript(session, prefix, await readCommandStream(args.file), fromStdin ? "standard input" : args.file);
    }
    if (!process.stdin.isTTY) {
      io.confirm = async () => null;
      return await runScript(session, prefix, await readCommandStream("-"), "standard input");
    }
    return await runInteractive(session, io, prefix);
  } catch (e) {
    return failure(prefix, e);
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => (process.exitCode = failure("zonecfg", e)),
);
