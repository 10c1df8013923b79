/**
 * zonecfg templates (illumos SUNWdefault / SUNWblank): a starting document for
 * `create`. `default` holds illumos's defaults; `blank` (create -b) holds nothing.
 * `create -t OTHERZONE` copies another zone instead (see the zonecfg session).
 */
import { parseZone } from "./store/document.js";
import type { ZoneConfig } from "./model.js";

/**
 * The default template: illumos's SUNWdefault. The safe limits (max-lwps and the IPC
 * bounds) are not stored here but applied at boot when the configuration is silent
 * (defaults.ts), so an exported zone looks like illumos's and `add rctl` of any of them
 * works on a fresh zone.
 */
const DEFAULT_TEMPLATE = `create -b
set autoboot=false
set ip-type=shared
`;

export const TEMPLATES: Readonly<Record<string, string>> = {
  default: DEFAULT_TEMPLATE,
  blank: "create -b\n",
};

export function fromTemplate(template: string, zonename: string): ZoneConfig | undefined {
  const text = TEMPLATES[template];
  return text === undefined ? undefined : parseZone(zonename, text, `template ${template}`);
}
