/**
 * The zonecfg lexer (illumos zonecfg_lex.l, plus two escapes).
 *
 * - Commands end at a newline or ';'. A '#' at the start of a command begins a comment.
 * - A bare token is any run of characters other than blanks, '"', ';', '=', '[', ']',
 *   '(' and ')'; inside brackets or parentheses a ',' ends it too.
 * - A quoted string is "..." on one line. Unlike illumos, \" and \\ stand for '"' and
 *   '\' inside quotes, so that every value can be exported and read back; any other
 *   backslash is kept as it is, as illumos does.
 */
import { ZoneError } from "../native/errors.js";

export type TokenKind = "word" | "string" | "=" | "[" | "]" | "(" | ")" | ",";

export interface Token {
  kind: TokenKind;
  text: string;
  line: number;
}

/** One command: its tokens (none empty) and the line it starts on. */
export interface CommandTokens {
  tokens: Token[];
  line: number;
}

/** A lexing error that knows its line, so file loaders can name it. */
export class SyntaxError extends ZoneError {
  constructor(message: string, readonly line: number) {
    super(message);
    this.name = "SyntaxError";
  }
}

/** Longest token: far above any real value, and it keeps a runaway input from growing. */
export const MAX_TOKEN = 64 * 1024;

const tooLong = (line: number): SyntaxError => new SyntaxError(`token longer than ${MAX_TOKEN} characters`, line);

const PUNCT = new Set(["=", "[", "]", "(", ")"]);

export function lex(text: string, firstLine = 1): CommandTokens[] {
  const commands: CommandTokens[] = [];
  let tokens: Token[] = [];
  let line = firstLine;
  let cmdLine = line;
  let depth = 0;
  let i = 0;
  const endCommand = (): void => {
    if (tokens.length > 0) commands.push({ tokens, line: cmdLine });
    tokens = [];
    depth = 0;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n" || c === ";") {
      endCommand();
      if (c === "\n") line++;
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c < " " || c === "\x7f") throw new SyntaxError(`control character ${JSON.stringify(c)} in input`, line);
    if (tokens.length === 0) cmdLine = line;
    if (c === "#" && tokens.length === 0) {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (PUNCT.has(c)) {
      if (c === "[" || c === "(") depth++;
      if ((c === "]" || c === ")") && depth > 0) depth--;
      tokens.push({ kind: c as TokenKind, text: c, line });
      i++;
      continue;
    }
    if (c === "," && depth > 0) {
      tokens.push({ kind: ",", text: c, line });
      i++;
      continue;
    }
    if (c === '"') {
      let v = "";
      i++;
      for (;;) {
        if (i >= text.length || text[i] === "\n") throw new SyntaxError("unterminated quoted string", line);
        const d = text[i]!;
        if (d === '"') break;
        if (v.length >= MAX_TOKEN) throw tooLong(line);
        if (d < " " && d !== "\t") throw new SyntaxError(`control character ${JSON.stringify(d)} in quoted string`, line);
        if (d === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) {
          v += text[i + 1];
          i += 2;
          continue;
        }
        v += d;
        i++;
      }
      i++;
      tokens.push({ kind: "string", text: v, line });
      continue;
    }
    const start = i;
    while (i < text.length) {
      const d = text[i]!;
      if (d === " " || d === "\t" || d === "\r" || d === "\n" || d === '"' || d === ";" || PUNCT.has(d)) break;
      if (d === "," && depth > 0) break;
      if (d < " " || d === "\x7f") break;
      i++;
    }
    if (i - start > MAX_TOKEN) throw tooLong(line);
    tokens.push({ kind: "word", text: text.slice(start, i), line });
  }
  endCommand();
  return commands;
}

/** Does a value need quotes to come back as itself? (inList: it sits inside [...] or (...)) */
export function needsQuotes(value: string, inList: boolean): boolean {
  if (value === "") return true;
  if (/[\s";=[\]()\x7f]/.test(value)) return true;
  return inList && value.includes(",");
}

/** Write a value so that lex() reads it back unchanged. */
export function quoteValue(value: string, inList = false): string {
  if (!needsQuotes(value, inList)) return value;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
