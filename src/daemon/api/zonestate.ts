/**
 * Changing what a zone is: PUT /1.0/zones/<name>/state {"action": ...} and
 * POST /1.0/zones/<name>/{clone,move,detach,attach}, each an operation whose work is
 * Daemon.handle() (the implementation the commands call too: same checks, same
 * per-zone serialization, same messages); POST .../verify, sync, as `zoneadm verify`.
 * The early state check is the one zoneadm makes before it calls the daemon, so a
 * zone in the wrong state gets 409 at once, as the command fails before it starts.
 */
import { checkOperation } from "../../document/store/state.js";
import { ZoneError } from "../../native/errors.js";
import { traceSpan } from "../../native/trace.js";
import { verifyOnHost } from "../../platform/hostcheck.js";
import type { Operation as ProtocolOp, Request } from "../protocol.js";
import type { Api } from "./api.js";
import { badRequest } from "./errors.js";
import type { ApiRequest, Router } from "./router.js";
import { entryOf, zoneUrl } from "./zones.js";

export const ACTIONS = ["install", "uninstall", "ready", "boot", "halt", "reboot", "shutdown"] as const;
type Action = (typeof ACTIONS)[number];

/** Fields of a body: a string, a boolean or a list of strings, when present; 400 otherwise. */
function str(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw badRequest(`${key} must be a string, not ${JSON.stringify(v)}`);
  return v;
}

function bool(body: Record<string, unknown>, key: string): boolean {
  const v = body[key];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw badRequest(`${key} must be true or false, not ${JSON.stringify(v)}`);
  return v;
}

function strings(body: Record<string, unknown>, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw badRequest(`${key} must be a list of strings`);
  return v as string[];
}

/** Start `req` as an operation for the caller, after the access rule and zoneadm's early checks. */
function operate(api: Api, r: ApiRequest, req: Request, description: string): { async: ReturnType<Api["operations"]["start"]> } {
  const zone = req.zone!;
  api.access.check(r.caller, req.op, zone, req.init);
  const e = entryOf(api, zone);
  const op = req.op === "shutdown-reboot" ? "shutdown" : req.op;
  // As zoneadm: halt is the way out of what a cut-short ready left, and zoneadmd finishes a move or detach cut short.
  if (op !== "halt" && !(e.state === "incomplete" && (op === "move" || op === "detach"))) checkOperation(op, e.state);
  const resources: Record<string, string[]> = { zones: [zoneUrl(zone), ...(req.source ? [zoneUrl(req.source)] : [])] };
  return {
    async: api.operations.start(description, r.caller.uid, resources, async (progress) => {
      const t = traceSpan(`operation ${req.op} ${zone}`);
      const reply = await api.daemon.handle(req, progress);
      t.end();
      if (!reply.ok) throw new ZoneError(reply.error, 1, reply.kind);
      const now = api.daemon.platform.repo.find(zone);
      return { zone: zone, state: now?.state ?? null, pid: reply.run?.pid ?? null };
    }),
  };
}

function actionRequest(zone: string, body: Record<string, unknown>): { req: Request; what: string } {
  const action = body.action;
  if (typeof action !== "string" || !(ACTIONS as readonly string[]).includes(action))
    throw badRequest(`action must be one of ${ACTIONS.join(", ")}, not ${JSON.stringify(action ?? null)}`);
  const a = action as Action;
  const req: Request = { op: a as ProtocolOp, zone };
  if (a === "install") {
    req.image = str(body, "image");
    req.copy = bool(body, "copy");
    req.rebuildImage = bool(body, "rebuild_image");
  }
  if (a === "boot" || a === "ready") req.init = strings(body, "init");
  if (a === "shutdown" && bool(body, "reboot")) req.op = "shutdown-reboot";
  return { req, what: req.op === "shutdown-reboot" ? "shutdown -r" : a };
}

export function register(router: Router, api: Api): void {
  router.add(
    "PUT",
    "/1.0/zones/:name/state",
    "handler",
    { summary: 'Change the zone\'s state: {"action": install|uninstall|ready|boot|halt|reboot|shutdown, "reboot" (shutdown -r), "init" (boot -- ARGS), "image", "copy", "rebuild_image" (install: -i, -x copy, -x rebuild-image)}', body: "json", async: true },
    async (r) => {
      const zone = r.params.name!;
      const { req, what } = actionRequest(zone, await r.json());
      return operate(api, r, req, `${what} zone ${zone}`);
    },
  );
  router.add("POST", "/1.0/zones/:name/clone", "handler", { summary: 'Install the zone as a copy of a halted zone: {"source": name}', body: "json", async: true }, async (r) => {
    const source = str(await r.json(), "source");
    if (source === undefined) throw badRequest('clone needs "source", the zone to copy');
    return operate(api, r, { op: "clone", zone: r.params.name!, source }, `clone zone ${r.params.name!} from ${source}`);
  });
  router.add("POST", "/1.0/zones/:name/move", "handler", { summary: 'Move an installed zone: {"zonepath": absolute path}', body: "json", async: true }, async (r) => {
    const zonepath = str(await r.json(), "zonepath");
    if (zonepath === undefined) throw badRequest('move needs "zonepath", the new absolute path');
    return operate(api, r, { op: "move", zone: r.params.name!, zonepath }, `move zone ${r.params.name!}`);
  });
  router.add("POST", "/1.0/zones/:name/detach", "handler", { summary: "Detach an installed zone (zoneadm detach)", async: true }, (r) =>
    operate(api, r, { op: "detach", zone: r.params.name! }, `detach zone ${r.params.name!}`),
  );
  router.add("POST", "/1.0/zones/:name/attach", "handler", { summary: 'Attach a configured zone to its zonepath: {"force": bool}', body: "json", async: true }, async (r) => {
    return operate(api, r, { op: "attach", zone: r.params.name!, force: bool(await r.json(), "force") }, `attach zone ${r.params.name!}`);
  });
  router.add("POST", "/1.0/zones/:name/verify", { verb: "verify", zone: "name" }, { summary: "Check the zone's configuration against the host (zoneadm verify)" }, (r) => {
    const e = entryOf(api, r.params.name!);
    checkOperation("verify", e.state);
    const repo = api.daemon.platform.repo;
    verifyOnHost(repo.load(e.name), repo.list().filter((x) => x.name !== e.name));
    return { sync: { zone: e.name, verified: true } };
  });
}
