/**
 * The zonecfg value grammar (illumos zonecfg_grammar.y):
 *   simple  = TOKEN | "quoted"
 *   complex = "(" name "=" simple { "," name "=" simple } ")"
 *   list    = "[" [ (simple|complex) { "," (simple|complex) } ] "]"
 * and a cursor over one command's tokens that the interpreter reads arguments with.
 */
import { SyntaxError, type CommandTokens, type Token } from "./lexer.js";
import { q } from "../native/errors.js";

export type Complex = Array<[string, string]>;
export type Value =
  | { kind: "simple"; value: string }
  | { kind: "complex"; pairs: Complex }
  | { kind: "list"; items: Array<Exclude<Value, { kind: "list" }>> };

export class Cursor {
  private i = 0;
  readonly line: number;
  constructor(private readonly cmd: CommandTokens) {
    this.line = cmd.line;
  }

  get done(): boolean {
    return this.i >= this.cmd.tokens.length;
  }

  peek(): Token | undefined {
    return this.cmd.tokens[this.i];
  }

  next(): Token | undefined {
    return this.cmd.tokens[this.i++];
  }

  fail(message: string): never {
    throw new SyntaxError(message, this.peek()?.line ?? this.line);
  }

  /** A word or quoted string; `what` names it in the error. */
  simple(what: string): string {
    const t = this.next();
    if (!t || (t.kind !== "word" && t.kind !== "string")) this.fail(`${what} expected${t ? `, found '${t.text}'` : ""}`);
    return t.text;
  }

  /** A bare keyword-like word (a subcommand argument, property or resource name). */
  word(what: string): string {
    const t = this.next();
    if (!t || t.kind !== "word") this.fail(`${what} expected${t ? `, found '${t.text}'` : ""}`);
    return t.text;
  }

  /** Consume `kind` if it is next. */
  accept(kind: Token["kind"]): boolean {
    if (this.peek()?.kind !== kind) return false;
    this.i++;
    return true;
  }

  expect(kind: Token["kind"], what: string): void {
    if (!this.accept(kind)) this.fail(`'${kind}' expected ${what}`);
  }

  end(what: string): void {
    const t = this.peek();
    if (t) this.fail(`unexpected '${t.text}' after ${what}`);
  }

  /** Flags such as -F, -b, -a PATH at the start of the arguments. */
  flags(allowed: string, withArg = ""): Map<string, string> {
    const out = new Map<string, string>();
    for (;;) {
      const t = this.peek();
      if (!t || t.kind !== "word" || !/^-[A-Za-z]$/.test(t.text)) return out;
      const f = t.text[1]!;
      if (!allowed.includes(f) && !withArg.includes(f)) this.fail(`unknown option '${t.text}'`);
      this.i++;
      out.set(f, withArg.includes(f) ? this.simple(`argument of -${f}`) : "");
    }
  }

  value(): Value {
    const t = this.peek();
    if (t?.kind === "[") {
      this.i++;
      const items: Array<Exclude<Value, { kind: "list" }>> = [];
      if (this.accept("]")) return { kind: "list", items };
      for (;;) {
        items.push(this.peek()?.kind === "(" ? this.complex() : { kind: "simple", value: this.assigned("list item") });
        if (this.accept("]")) return { kind: "list", items };
        this.expect(",", "between list items");
      }
    }
    if (t?.kind === "(") return this.complex();
    return { kind: "simple", value: this.assigned("value") };
  }

  /**
   * A simple value that may itself hold '=' (fs options as illumos writes them:
   * `add options [size=512m,mode=1777]`): the lexer splits at '=', this joins again.
   */
  private assigned(what: string): string {
    let v = this.simple(what);
    while (this.accept("=")) v += `=${this.simple(`value after '=' in ${q(v)}`)}`;
    return v;
  }

  private complex(): { kind: "complex"; pairs: Complex } {
    this.expect("(", "to open a complex value");
    const pairs: Complex = [];
    for (;;) {
      const name = this.word("property name in complex value");
      this.expect("=", `after '${name}'`);
      let v = this.simple(`value of '${name}'`);
      // action=signal=SIGTERM: a further '=' joins the parts back together.
      while (this.accept("=")) v += "=" + this.simple(`value of '${name}'`);
      pairs.push([name, v]);
      if (this.accept(")")) return { kind: "complex", pairs };
      this.expect(",", "between complex value parts");
    }
  }

  /** prop=value pairs, as `select`, `remove` and `info` take them (simple values only). */
  pairs(max: number): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    while (!this.done) {
      const name = this.word("property name");
      this.expect("=", `after '${name}'`);
      out.push([name, this.simple(`value of '${name}'`)]);
      if (out.length > max) this.fail(`at most ${max} property=value pairs are allowed`);
    }
    return out;
  }
}
