/**
 * One zonecfg session on one zone: the subcommands of zonecfg(8) over a ZoneEditor,
 * with the repository for create, commit, revert and delete. The session knows
 * nothing of terminals: lines in, lines out, and a confirm() the caller supplies.
 */
import * as fs from "node:fs";
import { applyEdit, ZoneEditor } from "../../document/editor.js";
import { EXIT_ERR, ZoneError, q } from "../../native/errors.js";
import { exportZone } from "../../document/export.js";
import { Cursor } from "../../document/grammar.js";
import { infoAll, infoGlobal, infoResource } from "../../document/info.js";
import type { CommandTokens } from "../../document/lexer.js";
import { serializeZone } from "../../document/store/document.js";
import { cloneZone, blankZone, type ZoneConfig } from "../../document/model.js";
import * as path from "node:path";
import { globalProp } from "../../document/properties.js";
import type { CommitOptions, IndexEntry, Repository } from "../../document/store/repository.js";
import { resourceSpec } from "../../document/resources.js";
import type { ZoneState } from "../../document/store/state.js";
import { fromTemplate } from "../../document/templates.js";
import { verifyZone } from "../../document/verify.js";
import { helpText } from "./help.js";
import { manifestZone, readManifest } from "../../platform/detach.js";

export interface SessionIO {
  out(text: string): void;
  /** Ask a yes/no question; null when nobody can answer (no terminal). */
  confirm(question: string): Promise<boolean | null>;
  /** false for the HTTP API: export -f would write a file of the daemon's host for a remote caller. */
  writeFiles?: boolean;
  /**
   * How a commit reaches the repository; repo.commit when absent. zoneadmd passes its
   * group commit (Platform.configCommits), so that the zones created at once share
   * one locked write and its fsyncs.
   */
  commit?: (z: ZoneConfig, previousName: string | null, opts: CommitOptions) => IndexEntry | Promise<IndexEntry>;
}

/** Properties fixed once a zone is installed, and what to use instead. */
const FIXED_AFTER_INSTALL: Readonly<Record<string, string>> = {
  zonepath: "use 'zoneadm -z ZONE move' to move an installed zone",
  brand: "uninstall the zone first",
};

export class ZonecfgSession {
  /** null while the zone is not configured (before create, after delete). */
  editor: ZoneEditor | null = null;
  /** Name the zone has in the repository; null for a zone not yet committed. */
  storedName: string | null = null;
  state: ZoneState | null = null;
  dirty = false;
  exited = false;
  /**
   * What a commit does when the stored document changed since this session read it:
   * true re-applies the session's edits to the stored document (a command stream says
   * exactly what it wants changed); false refuses, unless commit -F (someone at a
   * terminal decided on what they saw).
   */
  replayOnCommit = false;
  /** The stored document this session's edits started from; null after create or delete. */
  private base: string | null = null;
  /** The editing commands since `base`, in order, to re-apply on a changed document. */
  private edits: CommandTokens[] = [];

  constructor(
    private readonly repo: Repository,
    private zoneName: string,
    private readonly io: SessionIO,
  ) {
    const entry = repo.find(zoneName);
    if (entry) {
      this.startFrom(repo.load(zoneName));
      this.storedName = zoneName;
      this.state = entry.state;
    }
  }

  private startFrom(z: ZoneConfig | null): void {
    this.editor = z ? new ZoneEditor(z) : null;
    this.base = z ? serializeZone(z) : null;
    this.edits = [];
  }

  get name(): string {
    return this.editor?.zone.zonename ?? this.zoneName;
  }

  get prompt(): string {
    const scope = this.editor?.scope;
    return `zonecfg:${this.name}${scope ? ":" + scope.spec.type : ""}> `;
  }

  private zone(): ZoneEditor {
    if (!this.editor) throw new ZoneError("no such zone configured; use 'create' to begin configuring a new zone");
    return this.editor;
  }

  private async confirmed(force: boolean, question: string, flagHelp: string): Promise<boolean> {
    if (force) return true;
    const answer = await this.io.confirm(question);
    if (answer === null) throw new ZoneError(`${flagHelp} needs -F when there is no terminal to confirm on`);
    return answer;
  }

  async run(cmd: CommandTokens): Promise<void> {
    const c = new Cursor(cmd);
    const verb = c.word("command");
    switch (verb) {
      case "create":
        return this.create(c);
      case "delete":
        return this.delete(c);
      case "commit": {
        const force = c.flags("F").has("F");
        c.end("commit options");
        return this.commit(force);
      }
      case "revert":
        return this.revert(c);
      case "verify":
        c.end("verify");
        return this.verify();
      case "export":
        return this.export(c);
      case "info":
        return this.info(c);
      case "exit":
        return this.exit(c);
      case "help":
      case "?": {
        const topic = c.done ? undefined : c.simple("help topic");
        c.end("help topic");
        this.io.out(helpText(topic));
        return;
      }
      default: {
        const ed = this.zone();
        if (verb === "set" || verb === "clear") this.guardFixed(cmd);
        if (!applyEdit(ed, verb, c)) throw new ZoneError(`unknown command ${q(verb)}; try 'help'`);
        this.edits.push(cmd);
        this.dirty = true;
      }
    }
  }

  /** Refuse changes to brand/zonepath once installed, and renames in other states. */
  private guardFixed(cmd: CommandTokens): void {
    if (this.editor?.scope) return;
    const prop = cmd.tokens[1]?.text ?? "";
    if (this.state === null || this.state === "configured") return;
    const fixed = FIXED_AFTER_INSTALL[prop];
    if (fixed) throw new ZoneError(`${prop} cannot be changed while the zone is ${this.state}: ${fixed.replace("ZONE", this.name)}`, EXIT_ERR, "state");
    if (prop === "zonename" && this.state !== "installed")
      throw new ZoneError(`zone can only be renamed while configured or installed (it is ${this.state})`, EXIT_ERR, "state");
  }

  private create(c: Cursor): void {
    const flags = c.flags("Fb", "at");
    c.end("create options");
    if (this.editor && this.storedName !== null && !flags.has("F"))
      throw new ZoneError("zone already exists; use 'create -F' to replace its configuration", EXIT_ERR, "conflict");
    if (this.state !== null && this.state !== "configured")
      throw new ZoneError(`zone is ${this.state}; its configuration can only be replaced while configured`, EXIT_ERR, "state");
    const picked = [...flags.keys()].filter((f) => f !== "F");
    if (picked.length > 1) throw new ZoneError("create takes only one of -a, -b and -t");
    if (flags.has("a")) {
      // A detached zonepath (zoneadm detach): its manifest's configuration, at that path.
      const at = flags.get("a") ?? "";
      if (!path.isAbsolute(at)) throw new ZoneError(`create -a needs the absolute path of a detached zonepath, not ${q(at)}`);
      this.startFrom(manifestZone(readManifest(at), this.name, path.normalize(at)));
      this.base = null;
      this.dirty = true;
      return;
    }
    const name = this.name;
    let z: ZoneConfig;
    if (flags.has("b")) z = blankZone(name);
    else {
      const t = flags.get("t") ?? "default";
      const fromT = fromTemplate(t, name);
      if (fromT) z = fromT;
      else if (this.repo.find(t)) {
        z = cloneZone(this.repo.load(t));
        z.zonename = name;
        z.zonepath = "";
      } else throw new ZoneError(`template ${q(t)} is neither a built-in template (default, blank) nor a configured zone`);
      if (z.zonepath === "") z.zonepath = path.join(this.repo.paths.zonesDir, name);
    }
    this.startFrom(z);
    // A new configuration replaces whatever is stored: there is nothing to re-apply onto.
    this.base = null;
    this.dirty = true;
  }

  private async delete(c: Cursor): Promise<void> {
    const force = c.flags("F").has("F");
    c.end("delete options");
    if (this.storedName === null) throw new ZoneError("zone has not been committed; nothing to delete");
    if (this.state !== "configured") throw new ZoneError(`zone is ${this.state}; only a configured zone can be deleted (uninstall it first)`, EXIT_ERR, "state");
    if (!(await this.confirmed(force, `Are you sure you want to delete zone ${this.storedName} (y/[n])? `, "delete"))) return;
    this.repo.delete(this.storedName);
    this.zoneName = this.storedName;
    this.startFrom(null);
    this.storedName = null;
    this.state = null;
    this.dirty = false;
  }

  /** Verify and store; the repository re-checks fixed properties under its lock. */
  async commit(force = false): Promise<void> {
    const ed = this.zone();
    if (ed.scope) throw new ZoneError(`the ${ed.scope.spec.type} resource is still open; 'end' or 'cancel' it before commit`);
    let stored: ZoneConfig = ed.zone;
    const commit = this.io.commit ?? ((z, prev, opts) => this.repo.commit(z, prev, opts));
    const entry = await commit(ed.zone, this.storedName, {
      rebase: (current) => (stored = this.rebase(current, ed.zone, force)),
      checkChange: (old, doc, current) => {
        if (old.state === "configured") return;
        for (const p of Object.keys(FIXED_AFTER_INSTALL))
          if (globalProp(p)!.get(current) !== globalProp(p)!.get(doc))
            throw new ZoneError(`${p} cannot be changed while the zone is ${old.state}: ${FIXED_AFTER_INSTALL[p]!.replace("ZONE", old.name)}`);
        if (old.name !== doc.zonename && old.state !== "installed")
          throw new ZoneError(`zone can only be renamed while configured or installed (it is ${old.state})`);
      },
    });
    this.startFrom(stored);
    this.storedName = entry.name;
    this.zoneName = entry.name;
    this.state = entry.state;
    this.dirty = false;
  }

  /**
   * The document to store, given the one stored now (read under the repository lock):
   * ours if nobody changed it since we read it, else our edits re-applied to theirs.
   */
  private rebase(current: ZoneConfig, ours: ZoneConfig, force: boolean): ZoneConfig {
    if (this.base === null || force || serializeZone(current) === this.base) return ours;
    if (!this.replayOnCommit && this.edits.length > 0)
      throw new ZoneError("zone changed since this session began; revert or commit -F");
    const ed = new ZoneEditor(cloneZone(current));
    for (const cmd of this.edits) {
      const c = new Cursor(cmd);
      const verb = c.word("command");
      try {
        applyEdit(ed, verb, c);
      } catch (e) {
        if (!(e instanceof ZoneError)) throw e;
        throw new ZoneError(`zone changed since this session began and line ${cmd.line} no longer applies (${e.message}); revert or commit -F`);
      }
    }
    return ed.zone;
  }

  private async revert(c: Cursor): Promise<void> {
    const force = c.flags("F").has("F");
    c.end("revert options");
    if (!(await this.confirmed(force, "Are you sure you want to revert (y/[n])? ", "revert"))) return;
    const entry = this.storedName === null ? undefined : this.repo.find(this.storedName);
    this.startFrom(entry ? this.repo.load(entry.name) : null);
    this.state = entry?.state ?? null;
    if (!entry) this.storedName = null;
    this.dirty = false;
  }

  private verify(): void {
    const ed = this.zone();
    if (ed.scope) throw new ZoneError(`the ${ed.scope.spec.type} resource is still open; 'end' or 'cancel' it first`);
    const others = this.repo.list().filter((e) => e.name !== this.storedName);
    const problems = verifyZone(ed.zone, others);
    if (problems.length > 0) throw new ZoneError(problems.join("\n"));
  }

  private export(c: Cursor): void {
    const flags = c.flags("", "f");
    c.end("export options");
    const text = exportZone(this.zone().zone);
    const file = flags.get("f");
    if (file === undefined) this.io.out(text.replace(/\n$/, ""));
    else if (this.io.writeFiles === false) throw new ZoneError("export -f writes a file on the daemon's host; over the API the export is in the answer", EXIT_ERR, "input");
    else {
      try {
        fs.writeFileSync(file, text);
      } catch (e) {
        throw new ZoneError(`cannot write ${file}: ${(e as Error).message}`);
      }
    }
  }

  private info(c: Cursor): void {
    const ed = this.zone();
    if (ed.scope && c.done) {
      this.io.out(infoResource(ed.scope.spec, ed.scope.rec).join("\n"));
      return;
    }
    if (c.done) {
      this.io.out(infoAll(ed.zone).join("\n"));
      return;
    }
    const what = c.word("resource type or property name");
    if (globalProp(what)) {
      c.end(what);
      this.io.out(infoGlobal(ed.zone, what));
      return;
    }
    const spec = resourceSpec(what);
    if (!spec) throw new ZoneError(`unknown resource type or property ${q(what)}`);
    const pairs = c.pairs(3);
    const lines = spec
      .read(ed.zone)
      .filter((r) => pairs.every(([k, v]) => r[k] === v))
      .flatMap((r) => infoResource(spec, r));
    if (lines.length > 0) this.io.out(lines.join("\n"));
  }

  private async exit(c: Cursor): Promise<void> {
    const force = c.flags("F").has("F");
    c.end("exit options");
    if (!force) {
      if (this.editor?.scope) throw new ZoneError(`the ${this.editor.scope.spec.type} resource is still open; 'end' or 'cancel' it, or 'exit -F' to drop all changes`);
      if (this.dirty) await this.commit();
    }
    this.exited = true;
  }

  /** End of input: what exit does, and an open resource is an error. */
  async finish(): Promise<void> {
    if (this.exited) return;
    if (this.editor?.scope) throw new ZoneError(`the ${this.editor.scope.spec.type} resource is not closed with 'end'; nothing was committed`);
    if (this.dirty) await this.commit();
    this.exited = true;
  }
}
