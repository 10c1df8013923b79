/**
 * A zonecfg command stream run on a session: what `zonecfg -z NAME -f FILE` does, and
 * what the HTTP API's configuration routes do with a request body (api/zoneconfig.ts),
 * so that both give the same answers and messages. The stream stops at the first
 * error and commits nothing; its end commits (session.finish). Errors name the line
 * where the stream has a name ("FILE line 3: ...").
 */
import { ZoneError, type ErrorKind } from "../../native/errors.js";
import { lex, SyntaxError } from "../../document/lexer.js";
import type { ZonecfgSession } from "./session.js";

export type ScriptOutcome = { ok: true } | { ok: false; message: string; exitCode: number; kind?: ErrorKind };

export async function runScript(session: ZonecfgSession, text: string, source?: string): Promise<ScriptOutcome> {
  const where = (line: number): string => (source === undefined ? "" : `${source} line ${line}: `);
  // A command stream says what it changes, so a commit re-applies it to a document
  // another administrator changed meanwhile instead of overwriting theirs.
  session.replayOnCommit = true;
  let commands;
  try {
    commands = lex(text);
  } catch (e) {
    if (e instanceof SyntaxError) return { ok: false, message: where(e.line) + e.message, exitCode: e.exitCode, kind: "input" };
    throw e;
  }
  for (const cmd of commands) {
    try {
      await session.run(cmd);
    } catch (e) {
      if (e instanceof ZoneError) return { ok: false, message: where(e instanceof SyntaxError ? e.line : cmd.line) + e.message, exitCode: e.exitCode, kind: e.kind };
      throw e;
    }
    if (session.exited) return { ok: true };
  }
  try {
    await session.finish();
  } catch (e) {
    if (e instanceof ZoneError) return { ok: false, message: e.message, exitCode: e.exitCode, kind: e.kind };
    throw e;
  }
  return { ok: true };
}
