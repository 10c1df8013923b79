/**
 * `zonecfg export`: the zone as zonecfg commands in illumos's fixed order
 * (export_func in zonecfg.c). Every value is written so that lex() reads it back
 * unchanged, so export -> `zonecfg -f` reproduces the zone exactly. The repository
 * stores each zone in this same form.
 */
import type { Complex } from "./grammar.js";
import { quoteValue } from "./lexer.js";
import { NATIVE_BRAND, type ZoneConfig } from "./model.js";
import { formatBytes } from "./units.js";

function complex(parts: Complex): string {
  return `(${parts.map(([k, v]) => `${k}=${quoteValue(v, true)}`).join(",")})`;
}

export function exportZone(z: ZoneConfig): string {
  const out: string[] = ["create -b"];
  const set = (name: string, value: string): void => {
    if (value !== "") out.push(`set ${name}=${quoteValue(value)}`);
  };
  const resource = (type: string, body: () => void): void => {
    out.push(`add ${type}`);
    body();
    out.push("end");
  };
  set("zonepath", z.zonepath);
  if (z.brand !== NATIVE_BRAND) set("brand", z.brand);
  set("autoboot", String(z.autoboot));
  set("bootargs", z.bootargs);
  set("pool", z.pool);
  set("limitpriv", z.limitpriv);
  set("scheduling-class", z.schedulingClass);
  set("ip-type", z.ipType);
  set("hostid", z.hostid);
  set("fs-allowed", z.fsAllowed);
  // Not in illumos: written only when on, so zones without it export as before.
  if (z.nesting) set("nesting", "true");
  for (const f of z.fs)
    resource("fs", () => {
      set("dir", f.dir);
      set("special", f.special);
      set("raw", f.raw);
      set("type", f.type);
      for (const o of f.options) out.push(`add options ${quoteValue(o)}`);
    });
  for (const n of z.net)
    resource("net", () => {
      set("address", n.address);
      set("allowed-address", n.allowedAddress);
      set("physical", n.physical);
      set("defrouter", n.defrouter);
    });
  for (const d of z.device)
    resource("device", () => {
      set("match", d.match);
      if (d.allowHostAccess) set("allow-host-access", "true");
    });
  if (z.cappedMemory) resource("capped-memory", () => set("physical", formatBytes(z.cappedMemory!.physical)));
  for (const r of z.rctl)
    resource("rctl", () => {
      set("name", r.name);
      for (const v of r.values)
        out.push(`add value ${complex([["priv", v.priv], ["limit", String(v.limit)], ["action", v.action]])}`);
    });
  for (const a of z.attr)
    resource("attr", () => {
      set("name", a.name);
      set("type", a.type);
      set("value", a.value);
    });
  for (const d of z.dataset) resource("dataset", () => set("name", d.name));
  if (z.dedicatedCpu)
    resource("dedicated-cpu", () => {
      set("ncpus", z.dedicatedCpu!.ncpus);
      set("importance", z.dedicatedCpu!.importance);
    });
  for (const a of z.admin)
    resource("admin", () => {
      set("user", a.user);
      set("auths", a.auths);
    });
  if (z.securityFlags)
    resource("security-flags", () => {
      set("default", z.securityFlags!.default);
      set("lower", z.securityFlags!.lower);
      set("upper", z.securityFlags!.upper);
    });
  // Not in illumos: after every illumos resource, so their order stays theirs.
  for (const v of z.service)
    resource("service", () => {
      set("name", v.name);
      set("caller", v.caller.join(","));
    });
  return out.join("\n") + "\n";
}
