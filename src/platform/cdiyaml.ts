/**
 * A reader for the block YAML that CDI specs are written in (nvidia-ctk cdi generate):
 * mappings, sequences ("- " items, also holding mappings), plain and quoted scalars,
 * comments, empty and one-line flow collections ([a, b], {}). What CDI specs do not
 * use (anchors, aliases, tags, block scalars, several documents) is refused with its
 * line, never guessed: such a spec can be converted to JSON, which is read as is.
 */
export type Yaml = string | number | boolean | null | Yaml[] | { [k: string]: Yaml };

interface Line {
  no: number;
  indent: number;
  text: string;
}

export class YamlError extends Error {}

function lines(src: string): Line[] {
  const out: Line[] = [];
  let docs = 0;
  src.split(/\r?\n/).forEach((raw, i) => {
    const no = i + 1;
    if (/^ *\t/.test(raw)) throw new YamlError(`line ${no}: a tab in the indentation`);
    const text = stripComment(raw).trimEnd();
    if (text.trim() === "") return;
    if (text === "---" || text.startsWith("--- ")) {
      if (++docs > 1 || out.length > 0) throw new YamlError(`line ${no}: more than one YAML document`);
      return;
    }
    if (text === "...") return;
    if (text.startsWith("%")) throw new YamlError(`line ${no}: YAML directives are not supported`);
    const indent = text.length - text.trimStart().length;
    out.push({ no, indent, text: text.trimStart() });
  });
  return out;
}

/** Drop a " #" comment outside quotes. */
function stripComment(s: string): string {
  let quote = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(s[i - 1]!))) return s.slice(0, i);
  }
  return s;
}

function scalar(t: string, no: number): Yaml {
  if (t.startsWith('"')) {
    if (!t.endsWith('"') || t.length < 2) throw new YamlError(`line ${no}: unterminated double-quoted string`);
    try {
      return JSON.parse(t) as string;
    } catch {
      throw new YamlError(`line ${no}: a double-quoted string with an escape this reader does not know: ${t}`);
    }
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new YamlError(`line ${no}: unterminated single-quoted string`);
    return t.slice(1, -1).replace(/''/g, "'");
  }
  if (/^[&*!|>]/.test(t)) throw new YamlError(`line ${no}: anchors, aliases, tags and block scalars are not supported: ${t}`);
  if (t.startsWith("[") || t.startsWith("{")) return flow(t, no);
  if (t === "null" || t === "~") return null;
  if (t === "true" || t === "false") return t === "true";
  if (/^-?[0-9]+$/.test(t)) return Number(t);
  if (/^0o[0-7]+$/.test(t)) return parseInt(t.slice(2), 8);
  return t;
}

function flow(t: string, no: number): Yaml {
  const open = t[0]!;
  const close = open === "[" ? "]" : "}";
  if (!t.endsWith(close)) throw new YamlError(`line ${no}: a flow collection must end on its line: ${t}`);
  const body = t.slice(1, -1).trim();
  if (body === "") return open === "[" ? [] : {};
  if (open === "{" || /[[\]{}]/.test(body)) throw new YamlError(`line ${no}: only empty {} and flat [a, b] flow collections are supported: ${t}`);
  return body.split(",").map((p) => scalar(p.trim(), no));
}

/** Where a mapping entry's key ends (its ':'), or -1 when the text is not "key: value". */
function keyEnd(t: string): number {
  if (t.startsWith('"') || t.startsWith("'")) {
    const close = t.indexOf(t[0]!, 1);
    return close > 0 && t[close + 1] === ":" && (close + 2 === t.length || t[close + 2] === " ") ? close + 1 : -1;
  }
  const m = /^[^\s#:[\]{},][^:]*?:(?= |$)/.exec(t);
  return m ? m[0].length - 1 : -1;
}

class Parser {
  i = 0;
  constructor(private readonly ls: Line[]) {}

  node(indent: number): Yaml {
    const l = this.ls[this.i];
    if (!l || l.indent < indent) return null;
    if (l.text === "-" || l.text.startsWith("- ")) return this.seq(l.indent);
    if (keyEnd(l.text) > 0) return this.map(l.indent);
    this.i++;
    return scalar(l.text, l.no);
  }

  seq(indent: number): Yaml[] {
    const out: Yaml[] = [];
    for (let l = this.ls[this.i]; l && l.indent === indent && (l.text === "-" || l.text.startsWith("- ")); l = this.ls[this.i]) {
      const rest = l.text.slice(1).trimStart();
      if (rest === "") {
        this.i++;
        out.push(this.node(indent + 1));
      } else if (keyEnd(rest) > 0 || rest.startsWith("- ")) {
        // "- key: v": the item is a mapping (or sequence) indented where its text starts.
        this.ls[this.i] = { no: l.no, indent: indent + (l.text.length - rest.length), text: rest };
        out.push(this.node(indent + 1));
      } else {
        this.i++;
        out.push(scalar(rest, l.no));
      }
    }
    return out;
  }

  map(indent: number): { [k: string]: Yaml } {
    const out: { [k: string]: Yaml } = {};
    for (let l = this.ls[this.i]; l && l.indent === indent; l = this.ls[this.i]) {
      const end = keyEnd(l.text);
      if (end < 0) throw new YamlError(`line ${l.no}: expected "key: value": ${l.text}`);
      const rawKey = l.text.slice(0, end);
      const key = String(rawKey.startsWith('"') || rawKey.startsWith("'") ? scalar(rawKey, l.no) : rawKey);
      if (Object.hasOwn(out, key)) throw new YamlError(`line ${l.no}: key ${JSON.stringify(key)} appears twice`);
      const rest = l.text.slice(end + 1).trim();
      this.i++;
      const next = this.ls[this.i];
      if (rest !== "") out[key] = scalar(rest, l.no);
      // A block value: indented deeper, or a sequence at the key's own indent.
      else if (next && (next.indent > indent || (next.indent === indent && (next.text === "-" || next.text.startsWith("- "))))) out[key] = this.node(next.indent);
      else out[key] = null;
    }
    return out;
  }
}

export function parseYaml(src: string): Yaml {
  const ls = lines(src);
  if (ls.length === 0) return null;
  const p = new Parser(ls);
  const v = p.node(0);
  const left = ls[p.i];
  if (left) throw new YamlError(`line ${left.no}: unexpected indentation or content: ${left.text}`);
  return v;
}
