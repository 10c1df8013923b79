/**
 * `zonecfg info`: global properties as "name: value", resources as indented blocks; rctl
 * aliases in [brackets], with the boot-time default when unset ("[max-lwps: 8192 (default)]").
 */
import type { Complex } from "./grammar.js";
import type { ZoneConfig } from "./model.js";
import { defaultLimit } from "./defaults.js";
import { GLOBAL_PROPS, type GlobalProp } from "./properties.js";
import { formatAliasValue } from "./rctls.js";
import { RESOURCES, type Rec, type ResourceSpec } from "./resources.js";

/** Properties of an alias resource that are views of rctls: info shows them in brackets. */
const BRACKETED: Record<string, string[]> = { "capped-cpu": ["ncpus"], "capped-memory": ["swap", "locked"] };

function showValue(v: Rec[string]): string {
  if (typeof v === "string") return v;
  if (v.length > 0 && Array.isArray(v[0])) return (v as Complex[]).map((c) => `(${c.map(([k, x]) => `${k}=${x}`).join(",")})`).join(",");
  return `[${(v as string[]).join(",")}]`;
}

export function infoResource(spec: ResourceSpec, r: Rec): string[] {
  const lines = [`${spec.type}:`];
  for (const p of spec.props) {
    const v = r[p.name];
    if (p.kind === "complex-list") {
      for (const c of (v as Complex[] | undefined) ?? []) lines.push(`\t${p.name}: ${showValue([c])}`);
      continue;
    }
    if (v === undefined || v === "") {
      if (!BRACKETED[spec.type]?.includes(p.name)) lines.push(`\t${p.name} not specified`);
      continue;
    }
    lines.push(BRACKETED[spec.type]?.includes(p.name) ? `\t[${p.name}: ${showValue(v)}]` : `\t${p.name}: ${showValue(v)}`);
  }
  return lines;
}

/**
 * An rctl alias's value, or the default the zone gets at boot when it is unset
 * ("8192 (default)"); "" when unset without a known default.
 */
function aliasValue(p: GlobalProp, z: ZoneConfig): string {
  const v = p.get(z);
  if (v !== "" || !p.alias) return v;
  const d = defaultLimit(z, p.alias);
  return d === undefined ? "" : `${formatAliasValue(p.name, d)} (default)`;
}

export function infoGlobal(z: ZoneConfig, name: string): string {
  const p = GLOBAL_PROPS.find((g) => g.name === name)!;
  return `${p.name}: ${aliasValue(p, z)}`;
}

export function infoAll(z: ZoneConfig): string[] {
  const lines: string[] = [];
  for (const p of GLOBAL_PROPS) {
    const v = aliasValue(p, z);
    if (p.alias) {
      if (v !== "") lines.push(`[${p.name}: ${v}]`);
    } else lines.push(`${p.name}: ${v}`);
  }
  for (const spec of RESOURCES) for (const r of spec.read(z)) lines.push(...infoResource(spec, r));
  return lines;
}
