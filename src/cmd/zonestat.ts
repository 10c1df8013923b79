/**
 * zonestat: what the running zones use, interval by interval, as illumos zonestat(1)
 * reports it: CPU (in CPUs, and as a percent of the zone's processor set, its cap and
 * its share), physical and virtual memory against their caps, processes and lwps
 * against theirs, and each zone's network bytes. Read straight from the kernel
 * (cgroupfs, procfs, sysfs), without zoneadmd: illumos needs its zonestatd.
 *   zonestat [-z zone[,zone...]] [-r resource[,resource...]] [-p [-P line[,line...]]] interval [duration]
 */
import { EXIT_OK, UsageError, ZoneError, q } from "../native/errors.js";
import { GLOBAL_ZONE } from "../document/names.js";
import { zonePaths } from "../document/store/paths.js";
import { Repository } from "../document/store/repository.js";
import { LINE_KINDS, NICKNAMES, RESOURCES, render, type LineKind, type Options, type Resource } from "./zonestat/format.js";
import { Sampler, report } from "./zonestat/sample.js";
import { failure } from "./report.js";

const USAGE = `usage: zonestat [-z zone[,zone...]] [-r resource[,resource...]] [-p [-P line[,line...]]] interval [duration]
  resources: ${RESOURCES.join(", ")}; or ${Object.keys(NICKNAMES).join(", ")}
  interval, duration: seconds, or [nh][nm][ns] (10s, 5m, 1h30m); duration also a count, or inf`;

/** illumos options this zonestat does not have yet: refused by name, never ignored. */
const NOT_YET: Readonly<Record<string, string>> = {
  "-R": "summary reports",
  "-q": "summary reports only",
  "-S": "sort order",
  "-T": "timestamps",
  "-n": "resource names",
};

/** Seconds of an illumos time operand: "5", "10s", "5m", "1h30m". */
export function parseTime(what: string, text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  const s = /^\d+$/.test(text) ? Number(text) : m && text !== "" ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : NaN;
  if (!Number.isSafeInteger(s)) throw new UsageError(`${what} must be seconds or [nh][nm][ns]: ${q(text)}`);
  if (s === 0) throw new UsageError(`${what} must be more than 0: ${q(text)}`);
  return s;
}

/** The number of reports: a count, inf, or a time rounded up to whole intervals. */
function parseDuration(text: string, interval: number): number {
  if (text === "inf") return Infinity;
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n === 0 || !Number.isSafeInteger(n)) throw new UsageError(`duration must be a count of 1 or more, a time, or inf: ${q(text)}`);
    return n;
  }
  if (!/[hms]$/.test(text)) throw new UsageError(`duration must be a count of 1 or more, a time, or inf: ${q(text)}`);
  return Math.ceil(parseTime("duration", text) / interval);
}

interface Args extends Options {
  interval: number;
  count: number;
}

function list(text: string, what: string): string[] {
  const items = text.split(",");
  if (items.some((i) => i === "")) throw new UsageError(`${what} has an empty name: ${q(text)}`);
  return items;
}

export function parseArgs(argv: string[]): Args {
  const zones: string[] = [];
  const resources: Resource[] = [];
  const lines: LineKind[] = [];
  let parsable = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (!/^-[a-zA-Z]/.test(a)) break;
    const flag = a.slice(0, 2);
    const value = (): string => {
      const v = a.length > 2 ? a.slice(2) : argv[++i];
      if (v === undefined) throw new UsageError(`option ${flag} needs a value`);
      return v;
    };
    if (flag === "-z") zones.push(...list(value(), "-z"));
    else if (flag === "-r") {
      for (const r of list(value(), "-r")) {
        if (r in NICKNAMES) resources.push(...NICKNAMES[r]!);
        else if ((RESOURCES as readonly string[]).includes(r)) resources.push(r as Resource);
        else throw new UsageError(`unknown resource ${q(r)}; known: ${RESOURCES.join(", ")}, ${Object.keys(NICKNAMES).join(", ")}`);
      }
    } else if (flag === "-P") {
      for (const l of list(value(), "-P")) {
        if (!(LINE_KINDS as readonly string[]).includes(l)) throw new UsageError(`unknown line kind ${q(l)}; known: ${LINE_KINDS.join(", ")}`);
        lines.push(l as LineKind);
      }
    } else if (a === "-p") parsable = true;
    else if (NOT_YET[flag]) throw new UsageError(`option ${flag} (${NOT_YET[flag]!}) is not implemented yet`);
    else throw new UsageError(`unknown option ${q(a)}`);
  }
  const rest = argv.slice(i);
  if (rest.length === 0) throw new UsageError(`an interval is required\n${USAGE}`);
  if (rest.length > 2) throw new UsageError(`too many operands: ${q(rest.slice(2).join(" "))}`);
  if (lines.length > 0 && !parsable) throw new UsageError(`-P needs -p`);
  const interval = parseTime("interval", rest[0]!);
  const count = rest[1] === undefined ? Infinity : parseDuration(rest[1], interval);
  return {
    interval,
    count,
    parsable,
    zones: zones.length > 0 ? new Set(zones) : undefined,
    resources: resources.length > 0 ? [...new Set(resources)] : ["summary"],
    lines: new Set(lines.length > 0 ? lines : LINE_KINDS),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const paths = zonePaths();
  if (args.zones) {
    const repo = new Repository(paths);
    for (const z of args.zones) if (z !== GLOBAL_ZONE && !repo.find(z)) throw new ZoneError(`zone ${q(z)} does not exist`);
  }
  const sampler = new Sampler(paths);
  if (!args.parsable) process.stdout.write("Collecting data for first interval...\n");
  const start = Date.now();
  let prev = sampler.sample();
  for (let n = 1; n <= args.count; n++) {
    // Drift-free: the n-th report is due n intervals after the start.
    await sleep(start + n * args.interval * 1000 - Date.now());
    const cur = sampler.sample();
    process.stdout.write(render(report(prev, cur), n, new Date(), args));
    prev = cur;
  }
  return EXIT_OK;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => (process.exitCode = failure("zonestat", e)),
);
