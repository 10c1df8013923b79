/**
 * zonestat's output, in illumos zonestat(1)'s layout: a summary (CPU, physical and
 * virtual memory) and resource reports (physical-memory, virtual-memory, processes,
 * lwps, and network, which illumos leaves to dlstat), human or parsable (-p:
 * `interval:<resource>:<fields>`, colon-separated, raw numbers, "-" for none).
 */
import type { Report, Row } from "./sample.js";

export const RESOURCES = ["summary", "physical-memory", "virtual-memory", "processes", "lwps", "network"] as const;
export type Resource = (typeof RESOURCES)[number];

/** illumos's nicknames for sets of resources. */
export const NICKNAMES: Readonly<Record<string, readonly Resource[]>> = {
  memory: ["physical-memory", "virtual-memory"],
  limits: ["processes", "lwps"],
  all: RESOURCES,
};

export const LINE_KINDS = ["resource", "total", "system", "zones", "header", "footer"] as const;
export type LineKind = (typeof LINE_KINDS)[number];

export interface Options {
  resources: Resource[];
  /** Zones to list; undefined: all. [total] and [system] are always there. */
  zones?: Set<string>;
  parsable: boolean;
  /** -P: the parsable line kinds printed. */
  lines: Set<LineKind>;
}

/** Bytes as illumos prints them: 4 digits at most, one decimal under 100 (35.8M, 4206M, 23.9G). */
export function bytes(n: number): string {
  const units = ["", "K", "M", "G", "T", "P"];
  let v = n;
  let i = 0;
  while (v >= 10000 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${Math.round(v)}`;
  return v < 100 ? `${v.toFixed(1)}${units[i]}` : `${Math.round(v)}${units[i]}`;
}

/** A percent with three significant digits (0.44%, 15.3%, 100%); "-" for none. */
export function pct(used: number, of: number | undefined): string {
  if (of === undefined || of <= 0) return "-";
  const p = (used / of) * 100;
  return p < 10 ? `${p.toFixed(2)}%` : p < 100 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

/** The raw percent for -p: two decimals, no sign; "-" for none. */
function ppct(used: number, of: number | undefined): string {
  return of === undefined || of <= 0 ? "-" : ((used / of) * 100).toFixed(2);
}

const cpus = (n: number): string => n.toFixed(2);

function duration(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

const isZone = (r: Row): boolean => !r.name.startsWith("[");

/** The rows to print: [total], [system], then the zones asked for. */
function rowsOf(rep: Report, o: Options): Row[] {
  return rep.rows.filter((r) => {
    if (r.name === "[total]") return !o.parsable || o.lines.has("total");
    if (r.name === "[system]") return !o.parsable || o.lines.has("system");
    return (o.zones === undefined || o.zones.has(r.name)) && (!o.parsable || o.lines.has("zones"));
  });
}

function widths(rows: string[][]): number[] {
  return rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
}

function table(rows: string[][], right: boolean[]): string[] {
  const w = widths(rows);
  return rows.map((r) => r.map((c, i) => (right[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(" ").trimEnd());
}

function summary(rep: Report, o: Options): string[] {
  const rows = rowsOf(rep, o);
  if (o.parsable) {
    const out = o.lines.has("resource") ? [`interval:summary:[resource]:${rep.ncpus}:${rep.ncpus}:${rep.memTotal}:${rep.vmTotal}`] : [];
    for (const r of rows) {
      const z = isZone(r);
      out.push(
        ["interval", "summary", r.name, cpus(r.cpu), ppct(r.cpu, r.pset), ppct(r.cpu, z ? r.caps.cpu : undefined), ppct(r.cpu, r.shareCpus),
          r.mem, ppct(r.mem, rep.memTotal), ppct(r.mem, r.caps.physical), r.vm, ppct(r.vm, rep.vmTotal), ppct(r.vm, r.caps.swap)].join(":"),
      );
    }
    return out;
  }
  const body = rows.map((r) => [r.name, cpus(r.cpu), pct(r.cpu, r.pset), pct(r.cpu, r.caps.cpu), pct(r.cpu, r.shareCpus),
    bytes(r.mem), pct(r.mem, rep.memTotal), pct(r.mem, r.caps.physical), bytes(r.vm), pct(r.vm, rep.vmTotal), pct(r.vm, r.caps.swap)]);
  const all = [["ZONE", "USED", "%PART", "%CAP", "%SHRU", "USED", "PCT", "%CAP", "USED", "PCT", "%CAP"], ...body];
  const w = widths(all);
  // A dashed title over each column group, as wide as the group.
  const group = (title: string, from: number, to: number): string => {
    const span = w.slice(from, to + 1).reduce((a, b) => a + b, 0) + (to - from);
    const left = Math.max(0, Math.floor((span - title.length) / 2));
    return "-".repeat(left) + title + "-".repeat(Math.max(0, span - title.length - left));
  };
  return [`SUMMARY        Cpus/Online: ${rep.ncpus}/${rep.ncpus}   Physical: ${bytes(rep.memTotal)}   Virtual: ${bytes(rep.vmTotal)}`,
    `${" ".repeat(w[0]!)} ${group("CPU", 1, 4)} ${group("PHYSICAL", 5, 7)} ${group("VIRTUAL", 8, 10)}`,
    ...table(all, Array<boolean>(11).fill(true))];
}

interface ResourceSpec {
  title: string;
  resname: string;
  sizeTitle: string;
  size: (rep: Report) => number;
  used: (r: Row) => number;
  cap: (r: Row) => number | undefined;
  human: (n: number) => string;
}

const SPECS: Record<Exclude<Resource, "summary" | "network">, ResourceSpec> = {
  "physical-memory": { title: "PHYSICAL-MEMORY", resname: "mem_default", sizeTitle: "SYSTEM MEMORY", size: (p) => p.memTotal, used: (r) => r.mem, cap: (r) => r.caps.physical, human: bytes },
  "virtual-memory": { title: "VIRTUAL-MEMORY", resname: "vm_default", sizeTitle: "SYSTEM LIMIT", size: (p) => p.vmTotal, used: (r) => r.vm, cap: (r) => r.caps.swap, human: bytes },
  processes: { title: "PROCESSES", resname: "system-limit", sizeTitle: "SYSTEM LIMIT", size: (p) => p.pidMax, used: (r) => r.processes, cap: (r) => r.caps.processes, human: String },
  lwps: { title: "LWPS", resname: "system-limit", sizeTitle: "SYSTEM LIMIT", size: (p) => p.pidMax, used: (r) => r.lwps, cap: (r) => r.caps.lwps, human: String },
};

function resourceReport(res: Exclude<Resource, "summary" | "network">, rep: Report, o: Options): string[] {
  const s = SPECS[res];
  const size = s.size(rep);
  const rows = rowsOf(rep, o);
  if (o.parsable) {
    const out = o.lines.has("resource") ? [`interval:${res}:${s.resname}:[resource]:${size}`] : [];
    for (const r of rows) out.push(["interval", res, s.resname, r.name, s.used(r), ppct(s.used(r), size), s.cap(r) ?? "-", ppct(s.used(r), s.cap(r))].join(":"));
    return out;
  }
  const body = rows.map((r) => {
    const cap = s.cap(r);
    return [r.name, s.human(s.used(r)), pct(s.used(r), size), cap === undefined ? "-" : s.human(cap), pct(s.used(r), cap)];
  });
  return [`${s.title.padEnd(37)} ${s.sizeTitle}`, `${s.resname.padEnd(37)} ${s.human(size).padStart(s.sizeTitle.length)}`,
    ...table([["ZONE", "USED", "PCT", "CAP", "%CAP"], ...body], [true, true, true, true, true])];
}

function network(rep: Report, o: Options): string[] {
  const rows = rowsOf(rep, o).filter(isZone).filter((r) => r.name !== "global");
  const raw = (n: number | undefined): string => (n === undefined ? "-" : String(n));
  const human = (n: number | undefined): string => (n === undefined ? "-" : bytes(n));
  if (o.parsable) return rows.map((r) => ["interval", "network", "net_default", r.name, raw(r.rbytes), raw(r.obytes)].join(":"));
  const body = rows.map((r) => [r.name, human(r.rbytes), human(r.obytes)]);
  return [`NETWORK (bytes received and sent by each zone this interval)`, ...table([["ZONE", "RBYTES", "OBYTES"], ...body], [true, true, true])];
}

/** The text of one interval report, ending in a newline. */
export function render(rep: Report, n: number, now: Date, o: Options): string {
  const out: string[] = [];
  const iso = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  if (o.parsable) {
    if (o.lines.has("header")) out.push(`interval:header:since-last-interval:${iso}:${n}:${rep.seconds.toFixed(2)}`);
  } else out.push(`Interval: ${n}, Duration: ${duration(rep.seconds * n)}`);
  for (const res of o.resources) {
    const part = res === "summary" ? summary(rep, o) : res === "network" ? network(rep, o) : resourceReport(res, rep, o);
    out.push(...part);
    if (!o.parsable) out.push("");
  }
  if (o.parsable && o.lines.has("footer")) out.push(`interval:footer:${n}`);
  return out.map((l) => l + "\n").join("");
}
