/**
 * zonecfg templates (illumos SUNWdefault / SUNWblank): a starting document for
 * `create`. `default` holds the safe defaults; `blank` (create -b) holds nothing.
 * `create -t OTHERZONE` copies another zone instead (see the zonecfg session).
 */
import { parseZone } from "./document.js";
import type { ZoneConfig } from "./model.js";

/**
 * The default template. A task limit keeps a fork bomb inside the zone from reaching
 * the host; the administrator can raise or clear it.
 */
const DEFAULT_TEMPLATE = `create -b
set autoboot=false
set ip-type=shared
set max-lwps=8192
`;

export const TEMPLATES: Readonly<Record<string, string>> = {
  default: DEFAULT_TEMPLATE,
  blank: "create -b\n",
};

export function fromTemplate(template: string, zonename: string): ZoneConfig | undefined {
  const text = TEMPLATES[template];
  return text === undefined ? undefined : parseZone(zonename, text, `template ${template}`);
}
