// @ts-check
// A zone's page: its state and usage, actions (destructive ones confirmed), resource
// graphs of the last hour, its configuration (the export text, editable; the daemon
// answers with zonecfg's own verify messages) and a terminal on its console or a login
// shell.
import { h, api, bytes, seconds, duration, sparkline, toast, confirmAction, askText } from "./util.js";
import { getZone, zoneHistory, zoneConfig, addressesOf, spanText } from "./model.js";
import { openTerminal } from "./term.js";
import { configCommands } from "./configdiff.js";

/** @typedef {import("./model.js").Zone} Zone */

/**
 * The actions, the states each is offered in, and whether it needs confirming.
 * `delete` uninstalls an installed zone first (as `zoneadm uninstall -F; zonecfg delete -F`).
 */
const ACTIONS = [
  { id: "install", label: "Install", states: ["configured"], confirm: false },
  { id: "boot", label: "Boot", states: ["installed", "ready"], confirm: false },
  { id: "reboot", label: "Reboot", states: ["running"], confirm: true },
  { id: "shutdown", label: "Shut down", states: ["running"], confirm: true },
  { id: "halt", label: "Halt", states: ["running", "ready", "shutting_down", "down"], confirm: true },
  { id: "clone", label: "Clone…", states: ["installed"], confirm: false },
  { id: "delete", label: "Delete…", states: ["configured", "installed", "incomplete"], confirm: true },
];

/** @param {HTMLElement} main @param {string} name */
export function zonePage(main, name) {
  const url = `/1.0/zones/${encodeURIComponent(name)}`;
  let stopped = false;
  let busy = false;
  /** @type {Zone | undefined} */
  let zone;
  /** The configuration's addresses (the export text's `add net`). */
  let addresses = "";
  /** The export text as loaded: an edit is saved as the commands from it to the new text (configdiff.js). */
  let loaded = "";
  /** @type {{ close: () => void } | undefined} */
  let term;

  const title = h("h1", {}, h("span", { text: name }));
  const stateBadge = h("span", { class: "state", id: "zone-state", role: "status" });
  const facts = h("dl", { class: "facts" });
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Actions" });
  const graphs = h("div", { class: "graphs" });
  const graphsTitle = h("h2", { text: "Resources, last hour" });
  const config = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "config", spellcheck: "false", wrap: "off", rows: "14", "aria-describedby": "config-help" }));
  const verifyOut = h("pre", { class: "verify", id: "verify", role: "status", "aria-live": "polite" });
  const termBox = h("div", { class: "term", id: "terminal" });
  const termState = h("span", { class: "term-state", role: "status" });

  const saveBtn = h("button", { type: "button", text: "Save configuration" });
  const reloadBtn = h("button", { type: "button", text: "Reload" });
  const verifyBtn = h("button", { type: "button", text: "Verify" });
  saveBtn.addEventListener("click", save);
  reloadBtn.addEventListener("click", () => loadConfig(true));
  verifyBtn.addEventListener("click", verify);

  const consoleBtn = h("button", { type: "button", text: "Console", "data-term": "console" });
  const loginBtn = h("button", { type: "button", text: "Login shell", "data-term": "login" });
  const closeBtn = h("button", { type: "button", text: "Disconnect", disabled: true });
  consoleBtn.addEventListener("click", () => connect("console"));
  loginBtn.addEventListener("click", () => connect("login"));
  closeBtn.addEventListener("click", () => disconnect());

  main.replaceChildren(
    h(
      "section",
      { class: "zone", "data-zone": name },
      h("p", { class: "crumbs" }, h("a", { href: "#/", text: "← Zones" })),
      h("div", { class: "zone-head" }, title, stateBadge),
      facts,
      actions,
      graphsTitle,
      graphs,
      h("h2", { text: "Terminal" }),
      h("div", { class: "term-bar" }, consoleBtn, loginBtn, closeBtn, termState),
      termBox,
      h("h2", {}, h("label", { for: "config", text: "Configuration" })),
      h("p", { id: "config-help", class: "help", text: "The export text: edit it and Save (the changes run as zonecfg commands and are verified and committed), or replace it with zonecfg commands of your own." }),
      config,
      h("div", { class: "buttons" }, saveBtn, verifyBtn, reloadBtn),
      verifyOut,
    ),
  );

  function drawZone() {
    if (!zone) return;
    stateBadge.textContent = zone.state;
    stateBadge.className = `state state-${zone.state.replace(/[^a-z_]/g, "")}`;
    stateBadge.setAttribute("data-state", zone.state);
    /** @type {[string, string][]} */
    const rows = [
      ["Brand", zone.brand],
      ["IP", addresses || "–"],
      ["IP type", String(zone.raw["ip-type"] ?? zone.raw.ip_type ?? "–")],
      ["UUID", String(zone.raw.uuid ?? "–")],
      ["Zone path", String(zone.raw.zonepath ?? zone.raw.path ?? "–")],
      ["Uptime", duration(zone.uptime)],
      ["CPU", seconds(zone.cpu)],
      ["Memory", zone.memoryCap ? `${bytes(zone.memory)} of ${bytes(zone.memoryCap)}` : bytes(zone.memory)],
      ["Processes", zone.pids === undefined ? "–" : String(zone.pids)],
      ["Network", zone.rx === undefined ? "–" : `in ${bytes(zone.rx)}, out ${bytes(zone.tx)}`],
    ];
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
    // Drawn anew at each update: the keyboard's focus stays on the same action.
    const focused = actions.contains(document.activeElement) ? document.activeElement?.getAttribute("data-action") : null;
    actions.replaceChildren(
      ...ACTIONS.map((a) => {
        const b = h("button", { type: "button", text: a.label, "data-action": a.id, class: a.confirm ? "danger" : "", disabled: busy || !a.states.includes(zone?.state ?? "") });
        b.addEventListener("click", () => act(a));
        return b;
      }),
    );
    if (focused) /** @type {HTMLElement | null} */ (actions.querySelector(`[data-action="${focused}"]`))?.focus();
  }

  async function refresh() {
    try {
      zone = await getZone(name);
    } catch (e) {
      if (!stopped) stateBadge.textContent = /** @type {Error} */ (e).message;
      return;
    }
    if (!stopped) drawZone();
  }

  async function drawGraphs() {
    try {
      const hi = await zoneHistory(name);
      if (stopped) return;
      graphsTitle.textContent = `Resources, ${spanText(hi.span)}`;
      const graph = (/** @type {string} */ label, /** @type {number[]} */ vs, /** @type {string} */ now, /** @type {number} */ max = 0) =>
        h("figure", { class: "graph" }, h("figcaption", {}, h("span", { text: label }), h("span", { class: "num", text: now })), sparkline(vs, { width: 320, height: 64, max, label: `${label}, ${spanText(hi.span)}`, times: hi.t, span: hi.span }));
      graphs.replaceChildren(
        graph("CPU (cores)", hi.cpu, hi.cpu.length ? hi.cpu[hi.cpu.length - 1].toFixed(2) : "–"),
        graph("Memory", hi.memory, bytes(hi.memory[hi.memory.length - 1])),
        graph("Network (bytes/s)", hi.net, hi.net.length ? `${bytes(hi.net[hi.net.length - 1])}/s` : "–"),
      );
    } catch (e) {
      graphs.replaceChildren(h("p", { class: "help", text: `No history: ${/** @type {Error} */ (e).message}` }));
    }
  }

  /** @param {boolean} [force] replace what is being edited */
  async function loadConfig(force = false) {
    if (!force && config.dataset.dirty === "1") return;
    try {
      const text = await zoneConfig(name);
      // An edit begun while the text was on its way wins over it.
      if (!force && config.dataset.dirty === "1") return;
      loaded = config.value = text;
      addresses = addressesOf(config.value).join(", ");
      drawZone();
      config.dataset.dirty = "0";
    } catch (e) {
      verifyOut.textContent = /** @type {Error} */ (e).message;
    }
  }
  config.addEventListener("input", () => (config.dataset.dirty = "1"));

  async function save() {
    verifyOut.className = "verify";
    const commands = configCommands(loaded, config.value);
    if (commands === "") {
      verifyOut.textContent = "No changes.";
      return;
    }
    verifyOut.textContent = "saving…";
    try {
      const m = await api("PUT", `${url}/config`, commands);
      loaded = config.value = typeof m === "string" ? m : String(m?.export ?? config.value);
      config.dataset.dirty = "0";
      addresses = addressesOf(loaded).join(", ");
      drawZone();
      const said = Array.isArray(m?.output) ? m.output.map(String).join("\n") : "";
      verifyOut.textContent = said ? `Saved.\n${said}` : "Saved.";
    } catch (e) {
      verifyOut.className = "verify error";
      verifyOut.textContent = /** @type {Error} */ (e).message;
    }
  }

  async function verify() {
    verifyOut.className = "verify";
    try {
      await api("POST", `${url}/verify`, {});
      verifyOut.textContent = "verify: no problems.";
    } catch (e) {
      verifyOut.className = "verify error";
      verifyOut.textContent = /** @type {Error} */ (e).message;
    }
  }

  /** @param {typeof ACTIONS[number]} a */
  async function act(a) {
    if (a.id === "clone") return cloneDialog();
    if (a.confirm && !(await confirmAction(`${a.label.replace("…", "")} ${name}?`, a.id === "delete" ? `Zone ${name} is uninstalled (its files removed) and its configuration deleted.` : `Every process of zone ${name} is ended.`, a.label.replace("…", "")))) return;
    busy = true;
    drawZone();
    try {
      if (a.id === "delete") {
        if (zone?.state !== "configured") await api("PUT", `${url}/state`, { action: "uninstall" });
        await api("DELETE", url);
        toast(`${name} deleted`);
        location.hash = "#/";
        return;
      }
      await api("PUT", `${url}/state`, { action: a.id });
      toast(`${name}: ${a.id} done`);
    } catch (e) {
      toast(/** @type {Error} */ (e).message, true);
    } finally {
      busy = false;
      await refresh();
    }
  }

  async function cloneDialog() {
    const to = await askText(`Clone ${name}`, "The new zone's name", "Clone");
    if (!to) return;
    busy = true;
    drawZone();
    try {
      // As illumos: the new zone is configured first (this one's configuration, its own
      // zonepath beside this one's, no network: two zones must not claim one address),
      // then installed as a copy of this one.
      await api("POST", "/1.0/zones", { name: to, config: cloneConfig(await zoneConfig(name), to) });
      await api("POST", `/1.0/zones/${encodeURIComponent(to)}/clone`, { source: name });
      toast(`${to} cloned from ${name}; it has no network yet: add one in its configuration`);
      location.hash = `#/zone/${encodeURIComponent(to)}`;
    } catch (e) {
      toast(/** @type {Error} */ (e).message, true);
    } finally {
      busy = false;
      await refresh();
    }
  }

  /** @param {"console" | "login"} kind */
  function connect(kind) {
    disconnect();
    closeBtn.removeAttribute("disabled");
    term = openTerminal(termBox, `${url}/${kind}`, (s) => {
      termState.textContent = `${kind}: ${s}`;
      if (s === "closed") closeBtn.setAttribute("disabled", "");
    });
  }
  function disconnect() {
    term?.close();
    term = undefined;
  }

  void refresh();
  void drawGraphs();
  void loadConfig();
  const timer = setInterval(() => {
    void refresh();
    void drawGraphs();
  }, 15_000);
  return {
    refresh: () => {
      void refresh();
      void loadConfig();
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
      disconnect();
    },
  };
}

/**
 * A clone's configuration from its source's export text: the zonepath's last component
 * becomes the new name, `add net` blocks are left out.
 * @param {string} text @param {string} to
 * @returns {string}
 */
export function cloneConfig(text, to) {
  const out = [];
  let skip = false;
  for (const line of text.split("\n")) {
    if (line.trim() === "add net") skip = true;
    else if (skip) skip = line.trim() !== "end";
    else out.push(line.replace(/^set zonepath=(.*\/)[^/]+$/, (_, dir) => `set zonepath=${dir}${to}`));
  }
  return out.join("\n");
}
