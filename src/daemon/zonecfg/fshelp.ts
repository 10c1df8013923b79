/** `help fs` and `help dataset`: what each property means on Linux (README "File systems"). */
export const FS_HELP: Readonly<Record<string, string>> = {
  fs: `add fs  (mounted by the global zone at ready, before init; gone at halt)
  set dir=<path in the zone>   not /, /proc, /dev, /sys, /run or below, /etc/zonename,
                               nor inside a tree the brand shares (sparse: /usr ...)
  set type=lofs                special: a host directory; host root's files appear as nobody (65534)
                               add options idmap: shown through the zone's uid map, so host root's
                               files are the zone root's and what it writes there is host root's
  set type=tmpfs               special=swap; add options [size=512m,mode=1777]; owned by the zone's root
  set type=ext4|xfs|vfat|...   special: a block device or an image file (loop device, freed at halt);
                               raw: run fsck -p on it first; options idmap, noatime, discard, ...
  options for every type: ro, rw, nosuid, noexec (all are nodevices: devices come from add device)`,
  dataset: `add dataset  (illumos delegates a ZFS dataset; here a host directory)
  set name=<host directory>    appears at the same path in the zone, owned by the zone's root and
                               writable by it: its files' owners are shifted into the zone's uid slot
                               once (host uid u becomes the slot's u); one zone per dataset, never nested`,
};
