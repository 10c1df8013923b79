/**
 * A zone's stored document: the zone in `zonecfg export` form under a short header.
 * Reading it runs the same editor that zonecfg uses, restricted to the commands an
 * export contains, so a hand-broken file is reported with its file name and line.
 */
import { ZoneError } from "../../native/errors.js";
import { applyEdit, ZoneEditor } from "../editor.js";
import { exportZone } from "../export.js";
import { Cursor } from "../grammar.js";
import { lex, SyntaxError } from "../lexer.js";
import { blankZone, type ZoneConfig } from "../model.js";

export function serializeZone(z: ZoneConfig): string {
  return `# zone ${z.zonename}: written by zonecfg; change it with zonecfg -z ${z.zonename}\n` + exportZone(z);
}

export function parseZone(name: string, text: string, file: string): ZoneConfig {
  let line = 1;
  try {
    const commands = lex(text);
    const ed = new ZoneEditor(blankZone(name));
    commands.forEach((cmd, i) => {
      line = cmd.line;
      const c = new Cursor(cmd);
      const verb = c.word("command");
      if (verb === "create") {
        if (i !== 0) throw new ZoneError("'create' may only be the first command");
        c.flags("b");
        c.end("create -b");
        return;
      }
      if (i === 0) throw new ZoneError("the document must begin with 'create -b'");
      if (!applyEdit(ed, verb, c)) throw new ZoneError(`'${verb}' does not belong in a zone document`);
    });
    if (commands.length === 0) throw new ZoneError("the document is empty");
    if (ed.scope) throw new ZoneError(`the ${ed.scope.spec.type} resource is not closed with 'end'`);
    return ed.zone;
  } catch (e) {
    if (!(e instanceof ZoneError)) throw e;
    const at = e instanceof SyntaxError ? e.line : line;
    throw new ZoneError(`${file} line ${at}: ${e.message}`);
  }
}
