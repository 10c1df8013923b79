/**
 * The OpenAPI 3 description of the API, served at GET /1.0/openapi.json. It is built
 * from the router's own table (each route's RouteDoc), so a route cannot be served
 * undescribed; test/zones/api/openapi.test.ts checks it against docs/openapi.json (the
 * reviewed copy) and every described operation against the live server.
 */
import type { Api } from "./api.js";
import type { Route, Router } from "./router.js";

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json): Json => ({ "application/json": { schema } });

const ERRORS: Record<string, string> = {
  "400": "Bad input: the one-line message the command prints",
  "403": "The caller may not do this (admins.ts: root, or a zone's admin resource)",
  "404": "No such zone, operation or path",
  "409": "The zone's state does not allow it, or the name is taken",
};

function operation(r: Route): Json {
  const responses: Json = {};
  if (r.doc.async) responses["202"] = { description: "An operation was created", content: json(ref("AsyncEnvelope")) };
  else if (r.doc.produces === "text/event-stream") responses["200"] = { description: "Server-sent events", content: { "text/event-stream": { schema: { type: "string" } } } };
  else responses[r.method === "POST" && r.pattern === "/1.0/zones" ? "201" : "200"] = { description: "Success", content: r.doc.produces?.includes("text/plain") ? { ...json(ref("SyncEnvelope")), "text/plain": { schema: { type: "string" } } } : json(ref("SyncEnvelope")) };
  for (const [code, description] of Object.entries(ERRORS)) if (code !== "403" || r.access !== "anyone") responses[code] = { description, content: json(ref("ErrorEnvelope")) };
  const op: Json = {
    operationId: `${r.method.toLowerCase()}${r.pattern.replace(/\/:?([a-z0-9.]+)/gi, (_, s: string) => s.charAt(0).toUpperCase() + s.slice(1)).replace(/[^A-Za-z0-9]/g, "")}`,
    summary: r.doc.summary,
    "x-access": r.access === "anyone" || r.access === "handler" ? r.access : `${r.access.verb}${r.access.zone ? " on the zone" : ""}`,
    responses,
  };
  const params = [...r.pattern.matchAll(/:([a-zA-Z]+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
  if (params.length > 0) op.parameters = params;
  if (r.doc.body === "json") op.requestBody = { required: false, content: json({ type: "object" }) };
  if (r.doc.body === "text") op.requestBody = { required: true, content: { "text/plain": { schema: { type: "string" } }, ...json({ type: "object", properties: { config: { type: "string" } } }) } };
  return op;
}

/** The pattern as OpenAPI writes it: /1.0/zones/{name}. */
export const openApiPath = (pattern: string): string => pattern.replace(/:([a-zA-Z]+)/g, "{$1}");

export function describe(router: Router): Json {
  const paths: Record<string, Json> = {};
  for (const r of router.routes()) {
    const p = (paths[openApiPath(r.pattern)] ??= {});
    p[r.method.toLowerCase()] = operation(r);
  }
  const envelope = (type: string, extra: Json): Json => ({
    type: "object",
    required: ["type", "status", "status_code", "operation", "error_code", "error", "metadata"],
    properties: { type: { type: "string", enum: [type] }, status: { type: "string" }, status_code: { type: "integer" }, operation: { type: "string" }, error_code: { type: "integer" }, error: { type: "string" }, metadata: {}, ...extra },
  });
  return {
    openapi: "3.0.3",
    info: { title: "zoneadmd API", version: "1.0", description: "Zones for Linux: everything zoneadm and zonecfg do, over HTTP/1.1 on ${runDir}/api.sock (root) and ${runDir}-admin/api.sock (host users), in Incus's shape." },
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas: {
        SyncEnvelope: envelope("sync", {}),
        AsyncEnvelope: envelope("async", { metadata: ref("Operation") }),
        ErrorEnvelope: envelope("error", { metadata: { nullable: true } }),
        Operation: {
          type: "object",
          properties: { id: { type: "string" }, class: { type: "string" }, description: { type: "string" }, created_at: { type: "string" }, updated_at: { type: "string" }, status: { type: "string", enum: ["Running", "Success", "Failure"] }, status_code: { type: "integer" }, resources: { type: "object" }, metadata: {}, err: { type: "string" } },
        },
      },
    },
  };
}

export function register(router: Router, _api: Api): void {
  router.add("GET", "/1.0/openapi.json", "anyone", { summary: "This description (OpenAPI 3)" }, () => ({ text: JSON.stringify(describe(router), null, 2) + "\n", type: "application/json" }));
}
