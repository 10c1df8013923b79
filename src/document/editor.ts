/**
 * Editing one zone document with zonecfg's resource-scope model: `add fs` or
 * `select net ...` opens a scope holding a generic record; `set`, `add`, `remove` and
 * `clear` change that record; `end` validates it into the typed model, `cancel` drops
 * it. Pure: no files, no terminal. The zonecfg session and the repository loader both
 * drive it, so the repository's files are read with the very rules zonecfg applies.
 */
import { ZoneError, q } from "../native/errors.js";
import type { Complex, Cursor, Value } from "./grammar.js";
import type { ZoneConfig } from "./model.js";
import { globalProp } from "./properties.js";
import { RESOURCES, resourceSpec, type PropSpec, type Rec, type ResourceSpec } from "./resources.js";

export interface Scope {
  spec: ResourceSpec;
  rec: Rec;
  /** Index of the selected resource, or -1 for one being added. */
  index: number;
}

const MAX_PAIRS = 3; // illumos MAX_EQ_PROP_PAIRS

function simpleOnly(what: string, v: Value): string {
  if (v.kind !== "simple") throw new ZoneError(`${what} takes a simple value`);
  return v.value;
}

function complexPairs(what: string, v: Value): Complex {
  if (v.kind !== "complex") throw new ZoneError(`${what} takes complex values such as (priv=privileged,limit=100,action=deny)`);
  return v.pairs;
}

function recMatches(r: Rec, pairs: Array<[string, string]>): boolean {
  return pairs.every(([k, v]) => r[k] === v);
}

export class ZoneEditor {
  scope: Scope | null = null;

  constructor(public zone: ZoneConfig) {}

  private resource(type: string): ResourceSpec {
    const spec = resourceSpec(type);
    if (!spec) throw new ZoneError(`unknown resource type ${q(type)}; known: ${RESOURCES.map((r) => r.type).join(", ")}`);
    return spec;
  }

  private prop(name: string): PropSpec {
    const s = this.scope!;
    const p = s.spec.props.find((x) => x.name === name);
    if (!p) throw new ZoneError(`${s.spec.type} has no property ${q(name)}; it has ${s.spec.props.map((x) => x.name).join(", ")}`);
    return p;
  }

  /** Indexes of a type's resources that match every prop=value pair. */
  private matching(spec: ResourceSpec, pairs: Array<[string, string]>): number[] {
    for (const [k] of pairs)
      if (!spec.props.some((p) => p.name === k)) throw new ZoneError(`${spec.type} has no property ${q(k)}`);
    return spec.read(this.zone).flatMap((r, i) => (recMatches(r, pairs) ? [i] : []));
  }

  setGlobal(name: string, v: Value): void {
    const p = globalProp(name);
    if (!p) throw new ZoneError(`unknown property ${q(name)}`);
    p.set(this.zone, simpleOnly(name, v));
  }

  clearGlobal(name: string): void {
    const p = globalProp(name);
    if (!p) throw new ZoneError(`unknown property ${q(name)}`);
    p.clear(this.zone);
  }

  add(type: string): void {
    const spec = this.resource(type);
    if (spec.singleton && spec.read(this.zone).length > 0)
      throw new ZoneError(`a ${type} resource already exists; use 'select ${type}' to change it`);
    this.scope = { spec, rec: {}, index: -1 };
  }

  select(type: string, pairs: Array<[string, string]>): void {
    const spec = this.resource(type);
    const found = this.matching(spec, pairs);
    if (found.length === 0) throw new ZoneError(`no ${type} resource matches${pairs.length ? " " + pairs.map(([k, v]) => `${k}=${q(v)}`).join(" ") : ""}`);
    if (found.length > 1) throw new ZoneError(`${found.length} ${type} resources match; give property=value pairs that select one`);
    this.scope = { spec, rec: structuredClone(spec.read(this.zone)[found[0]!]!), index: found[0]! };
  }

  /** Remove matching resources; more than one needs force (illumos remove -F). */
  remove(type: string, pairs: Array<[string, string]>, force: boolean): number {
    const spec = this.resource(type);
    const found = this.matching(spec, pairs);
    if (found.length === 0) throw new ZoneError(`no ${type} resource matches`);
    if (found.length > 1 && !force)
      throw new ZoneError(`${found.length} ${type} resources match; qualify the resource to remove one, or use -F to remove all of them`);
    spec.write(this.zone, spec.read(this.zone).filter((_, i) => !found.includes(i)));
    return found.length;
  }

  setProp(name: string, v: Value): void {
    const p = this.prop(name);
    const r = this.scope!.rec;
    if (p.kind === "simple") r[name] = simpleOnly(name, v);
    else if (p.kind === "list") r[name] = v.kind === "list" ? v.items.map((i) => simpleOnly(name, i)) : [simpleOnly(name, v)];
    else r[name] = v.kind === "list" ? v.items.map((i) => complexPairs(name, i)) : [complexPairs(name, v)];
  }

  /** `add options ro` / `add value (...)`: append to a list property. */
  addProp(name: string, v: Value): void {
    const p = this.prop(name);
    if (p.kind === "simple") throw new ZoneError(`${name} is not a list; use 'set ${name}=...'`);
    const r = this.scope!.rec;
    const old = (r[name] as unknown[] | undefined) ?? [];
    const items = v.kind === "list" ? v.items : [v];
    r[name] = (p.kind === "list" ? [...(old as string[]), ...items.map((i) => simpleOnly(name, i))] : [...(old as Complex[]), ...items.map((i) => complexPairs(name, i))]) as Rec[string];
  }

  /** `remove options ro`: drop matching entries of a list property. */
  removeProp(name: string, v: Value): void {
    const p = this.prop(name);
    if (p.kind === "simple") throw new ZoneError(`${name} is not a list; use 'clear ${name}'`);
    const r = this.scope!.rec;
    const key = (x: unknown): string => JSON.stringify(x);
    const drop = new Set((v.kind === "list" ? v.items : [v]).map((i) => key(i.kind === "simple" ? i.value : i.pairs)));
    const old = (r[name] as unknown[] | undefined) ?? [];
    const kept = old.filter((x) => !drop.has(key(x)));
    if (kept.length === old.length) throw new ZoneError(`${name} has no such entry`);
    r[name] = kept as Rec[string];
  }

  clearProp(name: string): void {
    this.prop(name);
    delete this.scope!.rec[name];
  }

  /** Validate the open resource into the model (illumos `end`). */
  end(): void {
    const { spec, rec, index } = this.scope!;
    const all = spec.read(this.zone);
    if (index < 0) all.push(rec);
    else all[index] = rec;
    spec.write(this.zone, all);
    this.scope = null;
  }

  cancel(): void {
    this.scope = null;
  }
}

/**
 * Apply one editing command (set, clear, add, remove, select, end, cancel) read from
 * `c`. Returns false when `name` is not an editing command, so callers handle the rest.
 */
export function applyEdit(ed: ZoneEditor, name: string, c: Cursor): boolean {
  switch (name) {
    case "set": {
      const prop = c.word("property name");
      c.expect("=", `after '${prop}'`);
      const v = c.value();
      c.end("the value");
      if (ed.scope) ed.setProp(prop, v);
      else ed.setGlobal(prop, v);
      return true;
    }
    case "clear": {
      const prop = c.word("property name");
      c.end(prop);
      if (ed.scope) ed.clearProp(prop);
      else ed.clearGlobal(prop);
      return true;
    }
    case "add": {
      const what = c.word("resource type or property name");
      if (ed.scope) {
        const v = c.value();
        c.end("the value");
        ed.addProp(what, v);
      } else {
        c.end(what);
        ed.add(what);
      }
      return true;
    }
    case "remove": {
      if (ed.scope) {
        const prop = c.word("property name");
        const v = c.value();
        c.end("the value");
        ed.removeProp(prop, v);
      } else {
        const force = c.flags("F").has("F");
        const type = c.word("resource type");
        ed.remove(type, c.pairs(MAX_PAIRS), force);
      }
      return true;
    }
    case "select": {
      if (ed.scope) throw new ZoneError(`already editing a ${ed.scope.spec.type} resource; 'end' or 'cancel' it first`);
      const type = c.word("resource type");
      ed.select(type, c.pairs(MAX_PAIRS));
      return true;
    }
    case "end":
    case "cancel":
      c.end(name);
      if (!ed.scope) throw new ZoneError(`'${name}' is only valid while editing a resource`);
      if (name === "end") ed.end();
      else ed.cancel();
      return true;
    default:
      return false;
  }
}
