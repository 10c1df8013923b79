/**
 * Zone configurations over the API, in the zonecfg language (the single source of
 * truth): the export text out, zonecfg command text (or export text) in, run through
 * the same session and command-stream code as `zonecfg -z NAME -f FILE`
 * (daemon/zonecfg/script.ts): the same verify messages, the same repository lock, the
 * same re-application onto a document changed meanwhile. Each answer is the export.
 *   GET    /1.0/zones/<name>/config   {"export": text}, or text/plain (Accept or ?format=text)
 *   PUT    /1.0/zones/<name>/config   commands for an existing zone
 *   POST   /1.0/zones                 {"name", "config"}: a new zone (201); "create" is
 *                                     run first unless the text begins with create
 *   DELETE /1.0/zones/<name>          zonecfg delete -F: only a configured zone
 */
import { exportZone } from "../../document/export.js";
import { lex } from "../../document/lexer.js";
import { checkZoneName } from "../../document/names.js";
import { runScript } from "../zonecfg/script.js";
import { ZonecfgSession } from "../zonecfg/session.js";
import type { Api } from "./api.js";
import { ApiError, badRequest, statusOfKind } from "./errors.js";
import type { ApiRequest, ApiResult, Router } from "./router.js";
import { entryOf, zoneUrl } from "./zones.js";

/** What the stream is called in messages, as zonecfg names its -f file. */
const SOURCE = "request body";

/** The command text of a body: plain text, or {"config": text} as JSON. */
async function commandText(r: ApiRequest): Promise<string> {
  if ((r.raw.headers["content-type"] ?? "").startsWith("application/json")) {
    const v = (await r.json()).config;
    if (typeof v !== "string") throw badRequest('the JSON body needs "config": zonecfg command or export text');
    return v;
  }
  return r.body();
}

/** Run `text` on a session of `zone`; the export after it, or the stream's first error with its status. */
async function configure(api: Api, zone: string, text: string): Promise<{ name: string; export: string; output: string[] }> {
  const output: string[] = [];
  const commits = api.daemon.platform.configCommits;
  const session = new ZonecfgSession(api.daemon.platform.repo, zone, {
    out: (t) => output.push(t),
    confirm: async () => null,
    writeFiles: false,
    // Requests that commit in the same turn share one locked write (group commit).
    commit: (z, previousName, opts) => commits.submit({ zone: z, previousName, opts }),
  });
  const r = await runScript(session, text, SOURCE);
  if (!r.ok) throw new ApiError(statusOfKind(r.kind), r.message.split("\n").join("; "));
  const repo = api.daemon.platform.repo;
  return { name: session.name, export: exportZone(repo.load(session.name)), output };
}

/** ?format=text or an Accept that prefers text/plain: the export as it is. */
function wantsText(r: ApiRequest): boolean {
  if (r.query.get("format") === "text") return true;
  const accept = r.raw.headers.accept ?? "";
  return accept.startsWith("text/plain");
}

function answer(r: ApiRequest, exported: { name: string; export: string; output: string[] }, status = 200): ApiResult {
  if (wantsText(r)) return { text: exported.export, status };
  return { sync: exported, status };
}

/** Does the stream begin with create (an export does: create -b)? */
function beginsWithCreate(text: string): boolean {
  try {
    return lex(text)[0]?.tokens[0]?.text === "create";
  } catch {
    // The stream's own run names the syntax error and its line.
    return true;
  }
}

export function register(router: Router, api: Api): void {
  router.add("GET", "/1.0/zones/:name/config", { verb: "show", zone: "name" }, { summary: 'The zone\'s configuration as export text: {"export": text}, or text/plain with ?format=text', produces: "application/json, text/plain" }, (r) => {
    const e = entryOf(api, r.params.name!);
    return answer(r, { name: e.name, export: exportZone(api.daemon.platform.repo.load(e.name)), output: [] });
  });
  router.add("PUT", "/1.0/zones/:name/config", { verb: "configure", zone: "name" }, { summary: "Change the configuration: zonecfg command text (text/plain, or {\"config\": text}); answers the export", body: "text" }, async (r) => {
    const e = entryOf(api, r.params.name!);
    return answer(r, await configure(api, e.name, await commandText(r)));
  });
  router.add("POST", "/1.0/zones", { verb: "create" }, { summary: 'Create a zone: {"name": name, "config": zonecfg command or export text}; 201 with the export', body: "json" }, async (r) => {
    const body = await r.json();
    const name = body.name;
    const config = body.config ?? "";
    if (typeof name !== "string") throw badRequest('a new zone needs "name"');
    if (typeof config !== "string") throw badRequest('"config" must be zonecfg command or export text');
    checkZoneName(name);
    if (api.daemon.platform.repo.find(name)) throw new ApiError(409, `zone '${name}' already exists`);
    // On the same line: the stream's line numbers stay the caller's.
    const text = beginsWithCreate(config) ? config : `create; ${config}`;
    const made = await configure(api, name, text);
    r.res.setHeader("Location", zoneUrl(made.name));
    return answer(r, made, 201);
  });
  router.add("DELETE", "/1.0/zones/:name", { verb: "delete", zone: "name" }, { summary: "Delete a configured zone (zonecfg delete -F)" }, async (r) => {
    const e = entryOf(api, r.params.name!);
    const session = new ZonecfgSession(api.daemon.platform.repo, e.name, { out: () => undefined, confirm: async () => null, writeFiles: false });
    const out = await runScript(session, "delete -F", SOURCE);
    if (!out.ok) throw new ApiError(statusOfKind(out.kind), out.message.replace(`${SOURCE} line 1: `, ""));
    return { sync: { name: e.name, deleted: true } };
  });
}
