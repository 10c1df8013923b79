/** zonecfg's help texts (illumos SHELP_*). */
import { FS_HELP } from "./fshelp.js";
import { PROPERTIES_HELP } from "./propertyhelp.js";
import { RCTL_HELP } from "./rctlhelp.js";

export const USAGE = `usage:
  zonecfg -z zonename                  interactive
  zonecfg -z zonename subcommand ...   one command line ("cmd; cmd; ...")
  zonecfg -z zonename -f file          commands from a file (- for standard input)`;

export const SUBCOMMANDS: Readonly<Record<string, string>> = {
  add: "add <resource-type>  (global scope)\nadd <property-name> <property-value>  (resource scope, list properties)",
  cancel: "cancel  (leave resource scope, dropping the resource)",
  clear: "clear <property-name>",
  commit: "commit [-F]  (verify, then store; a stream's edits are re-applied if the zone changed meanwhile,\n  an interactive session is refused then unless -F overwrites the other change)",
  create: "create [-F] [ -a <path> | -b | -t <template> ]  (templates: default, blank, or an existing zone)",
  delete: "delete [-F]  (only while the zone is configured)",
  end: "end  (leave resource scope, keeping the resource once it validates)",
  exit: "exit [-F]  (commits first unless -F)",
  export: "export [-f output-file]",
  help: "help [commands] [syntax] [usage] [properties] [<command>]",
  info: "info [<resource-type> [property-name=property-value]*]\ninfo <property-name>",
  remove: "remove [-F] <resource-type> [property-name=property-value]*  (global scope)\nremove <property-name> <property-value>  (resource scope)",
  revert: "revert [-F]  (discard changes since the last commit)",
  select: "select <resource-type> [property-name=property-value]*",
  set: "set <property-name>=<property-value>",
  verify: "verify",
};

export const SYNTAX = `Values: a bare word, a "quoted string" (\\" and \\\\ inside quotes), a complex value
(name=value,...) or a list [value,...]. Commands end at a newline or ';'.
A '#' at the start of a command begins a comment.
Resource types: fs, net, device, rctl, attr, dataset, dedicated-cpu, capped-cpu,
capped-memory, admin, security-flags, service.
Global properties: zonename, zonepath, brand, autoboot, bootargs, pool, limitpriv,
scheduling-class, ip-type, hostid, fs-allowed, nesting, cpu-shares, max-lwps,
max-processes, max-msg-ids, max-sem-ids, max-shm-ids, max-shm-memory.`;

export function helpText(topic: string | undefined): string {
  if (topic === undefined || topic === "commands") return Object.values(SUBCOMMANDS).join("\n");
  if (topic === "usage") return USAGE;
  if (topic === "syntax") return SYNTAX;
  if (topic === "properties") return PROPERTIES_HELP;
  return SUBCOMMANDS[topic] ?? FS_HELP[topic] ?? RCTL_HELP[topic] ?? `no help for ${JSON.stringify(topic)}; try 'help commands'`;
}
