// @ts-check
// The configuration editor's save: the page shows a zone's export text; what it sends
// to PUT /1.0/zones/<n>/config is zonecfg command text. Replaying an edited export
// whole would `create` the zone again, which zonecfg refuses once the zone is installed
// (and which would touch properties an installed zone may not change, such as brand).
// So an edited export becomes the commands that turn the old configuration into the
// new one: `set`/`clear` for the global properties that changed, and for each resource
// type whose resources changed, `remove -F type` then the new `add … end` blocks.
// Text that does not start with `create` is a command stream of its own: sent as it is.

/**
 * @typedef {{ props: Map<string, string>, blocks: Map<string, string[]>, order: string[] }} Parsed
 */

/**
 * An export text's global `set` lines and its resource blocks, by type, in order.
 * @param {string} text
 * @returns {Parsed}
 */
export function parseExport(text) {
  /** @type {Parsed} */
  const out = { props: new Map(), blocks: new Map(), order: [] };
  /** @type {string[] | undefined} */
  let block;
  let type = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (block) {
      block.push(line);
      if (line === "end") {
        const list = out.blocks.get(type) ?? [];
        list.push(block.join("\n"));
        out.blocks.set(type, list);
        if (!out.order.includes(type)) out.order.push(type);
        block = undefined;
      }
      continue;
    }
    const add = /^add (\S+)$/.exec(line);
    const set = /^set ([a-z-]+)=(.*)$/.exec(line);
    if (add) (type = add[1]), (block = [line]);
    else if (set) out.props.set(set[1], set[2]);
    // `create …` and anything else at the top: not part of the comparison.
  }
  return out;
}

/**
 * The zonecfg commands that make `before` (the export the page loaded) into `after`
 * (the edited text); `after` itself when it is not an export.
 * @param {string} before
 * @param {string} after
 * @returns {string}
 */
export function configCommands(before, after) {
  if (!/^\s*create\b/.test(after)) return after;
  const a = parseExport(before), b = parseExport(after);
  const cmds = [];
  for (const [k, v] of b.props) if (a.props.get(k) !== v) cmds.push(`set ${k}=${v}`);
  for (const k of a.props.keys()) if (!b.props.has(k)) cmds.push(`clear ${k}`);
  for (const type of new Set([...a.order, ...b.order])) {
    const was = a.blocks.get(type) ?? [], now = b.blocks.get(type) ?? [];
    if (was.join("\n\n") === now.join("\n\n")) continue;
    if (was.length) cmds.push(`remove -F ${type}`);
    cmds.push(...now);
  }
  return cmds.length ? `${cmds.join("\n")}\n` : "";
}
