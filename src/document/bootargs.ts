/**
 * Boot arguments (illumos bootargs, and `zoneadm boot -- args`): `-i PATH` names the
 * zone's init for this boot (as illumos zoneadmd takes it); every other word is passed
 * to that init as its arguments, in order. Words are split on white space, without
 * quoting. Arguments given to `zoneadm boot --` replace the bootargs property for
 * that boot, as in illumos; reboots and the zones service use the property.
 *
 * Our brands' init is busybox init, which reads one argument: `single`, `-s` or `1`
 * start a single-user shell on the zone console instead of /etc/inittab (illumos's
 * `-s`). illumos's `-m verbose` and other SMF options have no meaning to it; they
 * reach init's argv (/proc/1/cmdline) and are ignored there.
 */
import { ZoneError, q } from "../native/errors.js";

export interface BootCommand {
  /** The init -i named, if any. */
  init?: string;
  /** The arguments for init. */
  args: string[];
}

export function splitBootargs(v: string): string[] {
  return v.split(/\s+/).filter((w) => w !== "");
}

export function parseBootWords(words: readonly string[]): BootCommand {
  const out: BootCommand = { args: [] };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w !== "-i") {
      out.args.push(w);
      continue;
    }
    const p = words[++i];
    if (p === undefined || !p.startsWith("/")) throw new ZoneError(`boot arguments: -i needs an absolute path to the init: ${q(p ?? "")}`);
    if (out.init !== undefined) throw new ZoneError(`boot arguments: -i given twice: ${q(out.init)} and ${q(p)}`);
    out.init = p;
  }
  return out;
}

/**
 * The zone's init command line: the boot's own words when it has any (`boot --
 * ...`), else the bootargs property; -i replaces the brand's init, the rest follow it.
 */
export function bootCommand(bootWords: readonly string[] | undefined, bootargs: string, brandInit: readonly string[]): string[] {
  const c = parseBootWords(bootWords !== undefined && bootWords.length > 0 ? bootWords : splitBootargs(bootargs));
  return [...(c.init !== undefined ? [c.init] : brandInit), ...c.args];
}
