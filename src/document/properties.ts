/**
 * The global properties of zonecfg(8), as one table: how each is read, set (with the
 * checks that can be made on the value alone) and cleared. Alias properties read and
 * write their rctl.
 */
import { ZoneError, q } from "../native/errors.js";
import { BRAND_NAMES, isBrand } from "./brandnames.js";
import { resolveLimitpriv } from "./capabilities.js";
import { parseBootWords, splitBootargs } from "./bootargs.js";
import type { ZoneConfig } from "./model.js";
import { NATIVE_BRAND } from "./model.js";
import { checkAbsolutePath, checkZoneName } from "./names.js";
import { RCTL_ALIASES, formatAliasValue, parseAliasValue, rctlLimit, removeRctl, setRctlLimit } from "./rctls.js";

export interface GlobalProp {
  name: string;
  /** "" when unset. */
  get(z: ZoneConfig): string;
  set(z: ZoneConfig, value: string): void;
  clear(z: ZoneConfig): void;
  /** Set for rctl aliases: info shows them in [brackets], export as rctls. */
  alias?: string;
}

const SCHEDULING_CLASSES = ["FSS", "TS", "IA", "FX", "RT"];
const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function stringProp(name: string, key: "bootargs" | "pool" | "limitpriv" | "schedulingClass" | "hostid" | "fsAllowed", check: (v: string) => void): GlobalProp {
  return {
    name,
    get: (z) => z[key],
    set(z, v) {
      if (v !== "") check(v);
      z[key] = v;
    },
    clear: (z) => void (z[key] = ""),
  };
}

export function checkHostid(v: string): void {
  const hex = v.replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{1,8}$/.test(hex) || parseInt(hex, 16) > 0xfffffffe)
    throw new ZoneError(`hostid must be a hexadecimal number no greater than FFFFFFFE: ${q(v)}`);
}

export function checkFsAllowed(v: string): void {
  for (const t of v.replace(/^-/, "").split(",")) {
    if (t === "" && v !== "-") throw new ZoneError(`fs-allowed has an empty entry: ${q(v)}`);
    if (t !== "" && !/^[a-z0-9_]+$/.test(t)) throw new ZoneError(`fs-allowed: invalid file-system type ${q(t)}`);
  }
}

export function checkBootargs(v: string): void {
  if (v.length > 1024) throw new ZoneError("bootargs is longer than 1024 characters");
  parseBootWords(splitBootargs(v));
}

const PROPS: GlobalProp[] = [
  {
    name: "zonename",
    get: (z) => z.zonename,
    set(z, v) {
      checkZoneName(v);
      z.zonename = v;
    },
    clear() {
      throw new ZoneError("zonename cannot be cleared");
    },
  },
  {
    name: "zonepath",
    get: (z) => z.zonepath,
    set(z, v) {
      checkAbsolutePath("zonepath", v);
      if (v === "/") throw new ZoneError(`zonepath must not be "/"`);
      z.zonepath = v;
    },
    clear: (z) => void (z.zonepath = ""),
  },
  {
    name: "brand",
    get: (z) => z.brand,
    set(z, v) {
      if (!isBrand(v)) throw new ZoneError(`unknown brand ${q(v)}; known: ${BRAND_NAMES.join(", ")}`);
      z.brand = v;
    },
    clear: (z) => void (z.brand = NATIVE_BRAND),
  },
  {
    name: "autoboot",
    get: (z) => String(z.autoboot),
    set(z, v) {
      if (v !== "true" && v !== "false") throw new ZoneError(`autoboot must be true or false: ${q(v)}`);
      z.autoboot = v === "true";
    },
    clear: (z) => void (z.autoboot = false),
  },
  stringProp("bootargs", "bootargs", checkBootargs),
  stringProp("pool", "pool", (v) => {
    if (!POOL_NAME.test(v)) throw new ZoneError(`pool must be a pool name of [A-Za-z0-9_.-]: ${q(v)}`);
  }),
  stringProp("limitpriv", "limitpriv", (v) => void resolveLimitpriv(v)),
  stringProp("scheduling-class", "schedulingClass", (v) => {
    if (!SCHEDULING_CLASSES.includes(v)) throw new ZoneError(`scheduling-class must be one of ${SCHEDULING_CLASSES.join(", ")}: ${q(v)}`);
  }),
  {
    name: "ip-type",
    get: (z) => z.ipType,
    set(z, v) {
      if (v !== "shared" && v !== "exclusive") throw new ZoneError(`ip-type must be shared or exclusive: ${q(v)}`);
      z.ipType = v;
    },
    clear: (z) => void (z.ipType = "shared"),
  },
  stringProp("hostid", "hostid", checkHostid),
  stringProp("fs-allowed", "fsAllowed", checkFsAllowed),
  {
    // Not in illumos, whose zones cannot make zones: lets the zone make user namespaces.
    name: "nesting",
    get: (z) => String(z.nesting),
    set(z, v) {
      if (v !== "true" && v !== "false") throw new ZoneError(`nesting must be true or false: ${q(v)}`);
      z.nesting = v === "true";
    },
    clear: (z) => void (z.nesting = false),
  },
  ...Object.entries(RCTL_ALIASES).map(
    ([alias, rctl]): GlobalProp => ({
      name: alias,
      alias: rctl,
      get(z) {
        const n = rctlLimit(z, rctl);
        return n === undefined ? "" : formatAliasValue(alias, n);
      },
      set: (z, v) => setRctlLimit(z, rctl, parseAliasValue(alias, v)),
      clear: (z) => removeRctl(z, rctl),
    }),
  ),
];

export const GLOBAL_PROPS: readonly GlobalProp[] = PROPS;

export function globalProp(name: string): GlobalProp | undefined {
  return PROPS.find((p) => p.name === name);
}
