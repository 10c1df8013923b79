/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for the metrics
 * tests: every line is a HELP, a TYPE or a sample; each family is declared once, before
 * its samples, which are contiguous; label values use only the format's escapes; no
 * series appears twice; a histogram's buckets are cumulative, ascending in le, end at
 * +Inf equal to its _count and come with a _sum. Any breach throws, naming the line.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function value(text: string, where: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

/** Labels of `{...}` starting at s[i] === "{"; returns them and the index after "}". */
function labels(s: string, i: number, where: string): [Record<string, string>, number] {
  const out: Record<string, string> = {};
  i++;
  for (;;) {
    if (s[i] === "}") return [out, i + 1];
    const eq = s.indexOf("=", i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = s.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (name in out) throw new Error(`${where}: label ${name} twice`);
    if (s[eq + 1] !== '"') throw new Error(`${where}: label ${name} value not quoted`);
    let v = "";
    let j = eq + 2;
    for (;;) {
      const c = s[j];
      if (c === undefined) throw new Error(`${where}: unterminated label value`);
      if (c === "\n") throw new Error(`${where}: raw newline in label value`);
      if (c === '"') break;
      if (c === "\\") {
        const n = s[j + 1];
        if (n === "\\") v += "\\";
        else if (n === '"') v += '"';
        else if (n === "n") v += "\n";
        else throw new Error(`${where}: bad escape \\${n ?? ""} in label value`);
        j += 2;
      } else {
        v += c;
        j++;
      }
    }
    out[name] = v;
    i = j + 1;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") throw new Error(`${where}: expected ',' or '}' after label ${name}`);
  }
}

/** The family a sample name belongs to, among those declared. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const f = families.get(name);
  if (f && f.type !== "histogram" && f.type !== "summary") return f;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const h = families.get(name.slice(0, -suffix.length));
    if (h && (h.type === "histogram" || (h.type === "summary" && suffix !== "_bucket"))) return h;
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the exposition does not end with a newline");
  const families = new Map<string, Family>();
  const series = new Set<string>();
  let current: Family | undefined;
  const done = new Set<string>();
  const typed = new Set<string>();
  text
    .slice(0, -1)
    .split("\n")
    .forEach((line, n) => {
      const where = `line ${n + 1} ${JSON.stringify(line.slice(0, 120))}`;
      if (line.startsWith("#")) {
        const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
        if (!m) throw new Error(`${where}: a comment other than HELP or TYPE`);
        const [, kind, name = "", rest = ""] = m;
        if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
        if (done.has(name) && current?.name !== name) throw new Error(`${where}: family ${name} declared again after other families`);
        let f = families.get(name);
        if (f && f.samples.length > 0) throw new Error(`${where}: ${kind} of ${name} after its samples`);
        if (!f) families.set(name, (f = { name, type: "untyped", samples: [] }));
        if (current && current !== f) done.add(current.name);
        current = f;
        if (kind === "HELP") {
          if (f.help !== undefined) throw new Error(`${where}: second HELP of ${name}`);
          if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ""))) throw new Error(`${where}: bad escape in HELP`);
          f.help = rest;
        } else {
          if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) throw new Error(`${where}: unknown type ${JSON.stringify(rest)}`);
          if (typed.has(name)) throw new Error(`${where}: second TYPE of ${name}`);
          f.type = rest as Family["type"];
          typed.add(name);
        }
        return;
      }
      if (line === "") throw new Error(`${where}: empty line`);
      const nameEnd = line.search(/[{ ]/);
      if (nameEnd <= 0) throw new Error(`${where}: not a sample`);
      const name = line.slice(0, nameEnd);
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      let ls: Record<string, string> = {};
      let i = nameEnd;
      if (line[i] === "{") [ls, i] = labels(line, i, where);
      if (line[i] !== " ") throw new Error(`${where}: expected a space before the value`);
      const parts = line.slice(i + 1).split(" ");
      if (parts.length > 2 || (parts.length === 2 && !/^-?\d+$/.test(parts[1]!))) throw new Error(`${where}: bad value or timestamp`);
      const v = value(parts[0]!, where);
      const f = familyOf(name, families);
      if (!f) throw new Error(`${where}: sample of ${name} without a TYPE before it`);
      if (f !== current) throw new Error(`${where}: sample of ${f.name} outside its family's block`);
      const key = `${name}{${Object.keys(ls)
        .sort()
        .map((k) => `${k}=${JSON.stringify(ls[k])}`)
        .join(",")}}`;
      if (series.has(key)) throw new Error(`${where}: duplicate series ${key}`);
      series.add(key);
      f.samples.push({ name, labels: ls, value: v });
    });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { buckets: [] }));
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push([value(le, `${f.name} le`), s.value]);
    } else if (le !== undefined) throw new Error(`${f.name}: le on ${s.name}`);
    else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [key, g] of groups) {
    const where = `${f.name}${key}`;
    if (g.sum === undefined || g.count === undefined) throw new Error(`${where}: no _sum or _count`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]![0] > g.buckets[i - 1]![0])) throw new Error(`${where}: le not ascending`);
      if (g.buckets[i]![1] < g.buckets[i - 1]![1]) throw new Error(`${where}: buckets not cumulative`);
    }
    const last = g.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${where}: no +Inf bucket`);
    if (last[1] !== g.count) throw new Error(`${where}: +Inf bucket ${last[1]} is not _count ${g.count}`);
  }
}

/** The value of the one sample of `name` whose labels include `want`; undefined when none. */
export function valueOf(families: Map<string, Family>, name: string, want: Record<string, string> = {}): number | undefined {
  for (const f of families.values())
    for (const s of f.samples) if (s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v)) return s.value;
  return undefined;
}
