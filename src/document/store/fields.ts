/**
 * Colon-separated records (the zone index, the slot registry, `zoneadm list -p`):
 * ':' and '\' inside a field are escaped with '\', as illumos escapes zonepaths.
 */
export function escapeField(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
}

/** Split a record on unescaped ':'. */
export function splitFields(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\\" && i + 1 < line.length) cur += line[++i];
    else if (c === ":") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}
