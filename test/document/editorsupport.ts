/**
 * What the zonecfg editor tests share (editor, editoraliases and editorproperties .test.ts):
 * feeding command text to a ZoneEditor and expecting its refusals.
 */
import assert from "node:assert/strict";
import { applyEdit, ZoneEditor, type Scope } from "../../src/document/editor.js";
import { ZoneError } from "../../src/native/errors.js";
import { Cursor } from "../../src/document/grammar.js";
import { lex } from "../../src/document/lexer.js";
import { blankZone, type RctlResource, type ZoneConfig } from "../../src/document/model.js";

/** Feed zonecfg editing commands to the editor, one lexed command at a time. */
export function run(ed: ZoneEditor, text: string): void {
  for (const cmd of lex(text)) {
    const c = new Cursor(cmd);
    const verb = c.word("command");
    if (!applyEdit(ed, verb, c)) throw new Error(`not an editing command: ${verb}`);
  }
}

/** The open scope, read through a call so that TypeScript does not keep an earlier narrowing. */
export function scopeOf(ed: ZoneEditor): Scope | null {
  return ed.scope;
}

export function editor(text = ""): ZoneEditor {
  const ed = new ZoneEditor(blankZone("z1"));
  run(ed, text);
  return ed;
}

/** `text` must fail with a ZoneError whose message holds every fragment. */
export function rejects(ed: ZoneEditor, text: string, ...fragments: string[]): ZoneError {
  try {
    run(ed, text);
  } catch (e) {
    assert.ok(e instanceof ZoneError, `expected a ZoneError from ${JSON.stringify(text)}, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return e;
  }
  assert.fail(`expected ${JSON.stringify(text)} to fail`);
}

export function rctl(z: ZoneConfig, name: string): RctlResource | undefined {
  return z.rctl.find((r) => r.name === name);
}
