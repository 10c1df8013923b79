/**
 * The brands a zone document may name. The document library knows a brand by its name
 * alone, as illumos's libzonecfg does (it asks libbrand whether the name exists); how
 * each installs and boots is the platform's (src/platform/brands.ts), whose table has
 * one entry per name here, in this order.
 */
export const BRAND_NAMES = ["sparse", "minimal", "oci", "debian"] as const;

export type BrandName = (typeof BRAND_NAMES)[number];

export function isBrand(name: string): name is BrandName {
  return (BRAND_NAMES as readonly string[]).includes(name);
}
