/**
 * Brands: how a zone's root tree is made (illumos brands, here installers).
 * The lifecycle issue gives each its installer; this table is what verify knows.
 */
export interface Brand {
  name: string;
  description: string;
}

export const BRANDS: readonly Brand[] = [
  { name: "sparse", description: "own /etc, /var, /tmp, /root, /home; the host's /usr shared read-only (default)" },
  { name: "minimal", description: "a static busybox tree with busybox init, for small and dense zones" },
];

export function isBrand(name: string): boolean {
  return BRANDS.some((b) => b.name === name);
}
