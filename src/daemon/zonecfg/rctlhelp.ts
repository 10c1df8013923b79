/**
 * `help rctl`, `help capped-cpu`, `help capped-memory`, `help dedicated-cpu`: what each
 * resource control is on Linux (cgroup v1 / v2), or why verify refuses it. The README's
 * "Resource controls" table says the same (src/platform/cgroups/limits.ts maps them).
 */
const RCTL = `add rctl; set name=zone.<control>; add value (priv=privileged,limit=N,action=deny); end
  One privileged value per control (cgroups hold one limit); priv=basic, action=signal=...
  and action=none on a limit are refused by verify (cgroups deny, they send no signal).
  zone.cpu-shares           cpu.shares (v1) / cpu.weight (v2, 1-10000), the same number
  zone.cpu-cap              percent of one CPU: cpu.cfs_quota_us / cpu.max per 100 ms
  zone.max-lwps             pids.max (tasks: Linux counts threads)
  zone.max-processes        pids.max too: the lower of the two is the zone's pids.max
  zone.max-physical-memory  action=deny: hard limit (as capped-memory physical);
                            action=none: soft limit, memory.soft_limit_in_bytes / memory.high
  zone.max-swap             memory and swap together: memory.memsw.limit_in_bytes /
                            memory.swap.max (+ memory.max); needs swap accounting
  zone.max-locked-memory    RLIMIT_MEMLOCK, soft and hard, of every process of the zone
  zone.max-shm-memory, zone.max-shm-ids, zone.max-sem-ids, zone.max-msg-ids
                            sysctls of the zone's IPC namespace (shmall, shmmni, sem, msgmni)
  zone.max-lofi             refused: no lofi devices on Linux; use add fs with an image file
  Changes take effect at the next boot, or now with 'zoneadm -z zone apply';
  'prctl -n name -v value -r -i zone zone' changes one until the zone halts.`;

export const RCTL_HELP: Readonly<Record<string, string>> = {
  rctl: RCTL,
  "capped-cpu": `add capped-cpu; set ncpus=1.5; end    zone.cpu-cap 150: cpu.cfs_quota_us / cpu.max`,
  "capped-memory": `add capped-memory  (each optional)
  set physical=512m   hard limit: memory.limit_in_bytes / memory.max (OOM-kills in the zone)
  set swap=1g         zone.max-swap: memory and swap together, at least physical
  set locked=64m      zone.max-locked-memory: RLIMIT_MEMLOCK of every process of the zone
  A soft limit (illumos rcapd): add rctl zone.max-physical-memory with action=none.`,
  "dedicated-cpu": `add dedicated-cpu; set ncpus=2 (or a range 1-3); end
  A cpuset of CPUs no other dedicated zone on the host has; the host's lowest CPU stays the
  global zone's, and the other zones run on the CPUs no zone holds. Refused at boot when too
  few are free. importance is refused: Linux has no resource pools to weigh.`,
};
