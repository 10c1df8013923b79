/**
 * The web console's static files (src/daemon/api/ui.ts): the page, its scripts and the
 * vendored xterm.js are served from a fixed set of names with a strict CSP; nothing
 * else under web/ or node_modules is reachable, whatever the path says. And the page's
 * scripts never turn data into markup: zone names, states and console text reach the
 * DOM as text only.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { UiFiles } from "../../../src/daemon/api/ui.js";
import { TOP } from "../../support/helpers.js";

const ui = new UiFiles();

test("the page, its scripts and xterm.js are served with their types and a CSP that allows no inline or foreign script", () => {
  for (const [p, type, needle] of [
    ["/", "text/html", '<script type="module" src="/ui/app.js">'],
    ["/ui/", "text/html", "<main"],
    ["/ui/app.js", "text/javascript", "listPage"],
    ["/ui/style.css", "text/css", "@media (max-width"],
    ["/ui/vendor/xterm.mjs", "text/javascript", "export{"],
    ["/ui/vendor/xterm.css", "text/css", ".xterm"],
    ["/ui/vendor/addon-fit.mjs", "text/javascript", "FitAddon"],
  ] as const) {
    const f = ui.get(p);
    assert.ok(f, `GET ${p} served nothing`);
    assert.equal(f.status, 200, p);
    assert.ok(f.headers["content-type"]!.startsWith(type), `${p}: content-type ${f.headers["content-type"]}`);
    assert.ok(f.body.toString("utf8").includes(needle), `${p} lacks ${JSON.stringify(needle)}`);
    assert.match(f.headers["content-security-policy"]!, /script-src 'self';/, p);
    assert.equal(f.headers["x-content-type-options"], "nosniff", p);
    assert.equal(f.headers["referrer-policy"], "no-referrer", p);
  }
});

test("only the fixed names are served: no traversal, no other file of the checkout, no other package", () => {
  for (const p of [
    "/ui/../package.json",
    "/ui/..%2fpackage.json",
    "/ui/%2e%2e/package.json",
    "/ui/vendor/../../package.json",
    "/ui/vendor/xterm.js.map",
    "/ui/vendor/@xterm/xterm/package.json",
    "/ui/App.js",
    "/ui/app.js.map",
    "/ui/sub/app.js",
    "/ui/nothere.js",
    "/index.html",
    "/web/index.html",
    "//etc/passwd",
    "/ui//etc/passwd",
  ])
    assert.equal(ui.get(p), undefined, `GET ${p} was served`);
});

test("a checkout without web/ serves nothing (the router answers 404)", () => {
  const none = new UiFiles("/nonexistent-zones-top");
  assert.equal(none.get("/"), undefined);
  assert.equal(none.get("/ui/vendor/xterm.mjs"), undefined);
});

test("the page's scripts never parse data as markup (innerHTML and kin): every zone string goes in as text", () => {
  const web = path.join(TOP, "web");
  const scripts = fs.readdirSync(web).filter((f) => f.endsWith(".js"));
  assert.ok(scripts.length >= 5, `web/ has ${scripts.length} scripts`);
  for (const f of scripts) {
    const text = fs.readFileSync(path.join(web, f), "utf8");
    for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "createContextualFragment", "srcdoc"])
      assert.ok(!text.includes(sink), `web/${f} uses ${sink}`);
  }
});
