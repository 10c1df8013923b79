/**
 * `zonecfg help properties`: what each global property means on Linux, or why verify
 * refuses it. The README's property table says the same; keep the two together.
 */
export const PROPERTIES_HELP = `Global properties and their Linux meaning:
  zonename          the zone's name (1-64 of [A-Za-z0-9_.-]; not global, not SUNW*)
  zonepath          the zone's directory on the host; its root tree is zonepath/root
  brand             sparse (default: the host's /usr shared read-only) or minimal (busybox)
  autoboot          true: svc-zones start (the zones service, at host start) boots the zone
  bootargs          the zone's boot arguments: -i PATH picks the init, the other words
                    become its argv; 'zoneadm boot -- args' replaces them for one boot.
                    busybox init (both brands) reads only single, -s or 1 (a single-user
                    shell on the console); -m and other illumos options are ignored by it
  pool              refused: Linux has no resource pools; use dedicated-cpu
  limitpriv         Linux capability names: default[,name][,-name] (illumos privilege
                    names are refused)
  scheduling-class  FSS or TS: Linux's fair scheduler, weighted by cpu-shares between
                    zones; IA, FX and RT are refused
  ip-type           shared (addresses on the host's bridge) or exclusive (own network stack)
  hostid            the zone's /etc/hostid, written at each boot: gethostid(3), hostid(1)
  fs-allowed        user-namespace-mountable types only (tmpfs, ramfs, overlay, fuse,
                    mqueue, binder), and only with limitpriv sys_admin; others are refused
  nesting           true: the zone may make user namespaces (containers inside it)
  cpu-shares, max-lwps, max-processes, max-msg-ids, max-sem-ids, max-shm-ids,
  max-shm-memory    aliases of the zone.* resource controls
Resources with no effect by design: attr (free-form metadata, kept as in illumos).
security-flags: every zone process has aslr (kernel.randomize_va_space) and
forbidnullmap (vm.mmap_min_addr), locked on: the zone's seccomp filter refuses
personality(2) flags that drop them, so lower is aslr,forbidnullmap in effect.
default must be aslr,forbidnullmap (its value when unset); noexecstack is each
binary's own (PT_GNU_STACK): refused in lower and default; upper is any set.`;
