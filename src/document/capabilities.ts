/**
 * Linux capabilities stand in for illumos privileges (privileges(5)): `limitpriv` takes
 * capability names, lower case, with or without the "cap_" prefix.
 *
 *   limitpriv = [default] { "," ( name | "-" name | "!" name ) }
 *
 * "default" (allowed first only) is the safe set below; "-x" and "!x" remove one.
 */
import { ZoneError, q } from "../native/errors.js";

/** Every capability of Linux 6.x, in kernel order (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES = [
  "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
  "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
  "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
  "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
  "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
  "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
] as const;

/**
 * The default bounding set of a zone: what a whole system (its own init, su, sudo,
 * passwd, useradd, services) needs. It leaves out everything that reaches
 * kernel-global state (sys_module, sys_rawio, sys_time, dac_read_search, bpf,
 * perfmon, syslog, ...). It also leaves out sys_admin: with it, the zone's root could
 * mount proc, sysfs and other file systems in its namespaces and unmount the masks over
 * /proc, since masks made inside a user namespace are not locked. A zone that must
 * mount (or set its own hostname) gets it with `set limitpriv=default,sys_admin`.
 * net_admin and net_raw are added for exclusive-IP zones only (see the networking
 * issue), as illumos does with sys_ip_config.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
  "net_bind_service", "ipc_lock", "ipc_owner", "sys_chroot", "sys_ptrace",
  "sys_boot", "sys_nice", "sys_resource", "mknod", "lease", "audit_write", "setfcap",
];

/** Never granted to a zone whatever limitpriv says: they act on the whole machine. */
export const PROHIBITED_CAPABILITIES: readonly string[] = ["sys_module", "sys_rawio", "mac_admin", "mac_override"];

const KNOWN = new Set<string>(ALL_CAPABILITIES);

/**
 * illumos privileges (privileges(7)) that are not Linux capability names, with the
 * capability that comes closest where there is one: refused with that hint, never
 * mapped silently, since none means quite the same. The basic privileges (proc_fork,
 * proc_exec, file_read, ...) are every Linux process's and cannot be taken away.
 */
const ILLUMOS_PRIVILEGES: Record<string, string> = {
  file_chown: "chown", file_chown_self: "chown", file_dac_read: "dac_override", file_dac_write: "dac_override",
  file_dac_execute: "dac_override", file_dac_search: "dac_read_search", file_owner: "fowner", file_setid: "fsetid",
  net_privaddr: "net_bind_service", net_rawaccess: "net_raw", net_icmpaccess: "net_raw", sys_ip_config: "net_admin",
  sys_net_config: "net_admin", proc_setid: "setuid,setgid", proc_lock_memory: "ipc_lock", proc_priocntl: "sys_nice",
  proc_chroot: "sys_chroot", proc_owner: "kill,sys_ptrace", sys_mount: "sys_admin", sys_audit: "audit_control",
  proc_audit: "audit_write", sys_config: "sys_admin", sys_linkdir: "", sys_devices: "mknod", sys_suser_compat: "",
  proc_fork: "", proc_exec: "", proc_info: "", proc_session: "", proc_clock_highres: "", proc_zone: "",
  file_link_any: "", file_read: "", file_write: "", net_access: "", file_upgrade_sl: "", file_downgrade_sl: "",
  dtrace_kernel: "", dtrace_proc: "", dtrace_user: "", sys_dl_config: "net_admin", sys_ipc_config: "ipc_owner",
  graphics_access: "", graphics_map: "", sys_res_config: "", sys_smb: "", sys_trans_label: "", win_config: "",
};

function unknownCapability(item: string, name: string): ZoneError {
  const near = ILLUMOS_PRIVILEGES[name];
  if (near === undefined) return new ZoneError(`limitpriv: unknown capability ${q(item)}`);
  const hint = near === "" ? "Linux has no capability for it" : `the nearest Linux capability is ${near.split(",").map(q).join(" and ")}`;
  return new ZoneError(`limitpriv: ${q(item)} is an illumos privilege, not a Linux capability; ${hint}`);
}

function canonical(name: string): string {
  const n = name.toLowerCase();
  return n.startsWith("cap_") ? n.slice(4) : n;
}

/** Resolve a limitpriv value to the capability set it grants; throws on a bad name. */
export function resolveLimitpriv(limitpriv: string): string[] {
  const items = limitpriv === "" ? ["default"] : limitpriv.split(",").map((s) => s.trim());
  const set = new Set<string>();
  items.forEach((item, i) => {
    if (item === "") throw new ZoneError(`limitpriv has an empty entry: ${q(limitpriv)}`);
    if (item === "default") {
      if (i !== 0) throw new ZoneError(`limitpriv: 'default' may only come first: ${q(limitpriv)}`);
      for (const c of DEFAULT_CAPABILITIES) set.add(c);
      return;
    }
    const remove = item.startsWith("-") || item.startsWith("!");
    const name = canonical(remove ? item.slice(1) : item);
    if (!KNOWN.has(name)) throw unknownCapability(item, name);
    if (remove) set.delete(name);
    else if (PROHIBITED_CAPABILITIES.includes(name)) throw new ZoneError(`limitpriv: capability ${q(name)} is never granted to a zone`);
    else set.add(name);
  });
  return ALL_CAPABILITIES.filter((c) => set.has(c));
}
