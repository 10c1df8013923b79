// @ts-check
// The dashboard: a hash router (#/ the zone list, #/zone/<name> a zone, #/host the
// host), the events stream that keeps whatever page is shown live, and the zone list.
import { h, bytes, seconds, sparkline, toast } from "./util.js";
import { listZones, zoneHistory, zoneConfig, addressesOf, events } from "./model.js";
import { zonePage } from "./zone.js";
import { hostPage } from "./host.js";

/** @typedef {import("./model.js").Zone} Zone */
/** @typedef {import("./model.js").History} History */

const main = /** @type {HTMLElement} */ (document.getElementById("main"));

/** The page shown: `refresh` runs on every event that may change it, `stop` when it is left. */
/** @type {{ refresh: () => void, stop: () => void } | undefined} */
let page;

/** Columns of the zone list: header, sort key, cell. */
/** @type {{ key: string, label: string, value: (z: Zone) => string | number, cell: (z: Zone, hist?: History) => (Node | string)[] }[]} */
const COLUMNS = [
  { key: "name", label: "Name", value: (z) => z.name, cell: (z) => [h("a", { href: `#/zone/${encodeURIComponent(z.name)}`, text: z.name, "data-zone-link": z.name })] },
  { key: "state", label: "State", value: (z) => z.state, cell: (z) => [h("span", { class: `state state-${z.state.replace(/[^a-z_]/g, "")}`, text: z.state, "data-state": z.state })] },
  { key: "brand", label: "Brand", value: (z) => z.brand, cell: (z) => [z.brand] },
  { key: "ip", label: "IP", value: (z) => addressOf(z.name), cell: (z) => [addressOf(z.name) || "–"] },
  { key: "cpu", label: "CPU", value: (z) => z.cpu ?? -1, cell: (z, hi) => [h("span", { class: "num", text: seconds(z.cpu) }), sparkline(hi?.cpu ?? [], { label: `${z.name} CPU, last hour`, times: hi?.t, span: hi?.span })] },
  { key: "memory", label: "Memory", value: (z) => z.memory ?? -1, cell: (z, hi) => [h("span", { class: "num", text: z.memoryCap ? `${bytes(z.memory)} / ${bytes(z.memoryCap)}` : bytes(z.memory) }), sparkline(hi?.memory ?? [], { label: `${z.name} memory, last hour`, times: hi?.t, span: hi?.span })] },
  { key: "net", label: "Network", value: (z) => (z.rx ?? 0) + (z.tx ?? 0), cell: (z, hi) => [h("span", { class: "num", text: z.rx === undefined ? "–" : `↓${bytes(z.rx)} ↑${bytes(z.tx)}` }), sparkline(hi?.net ?? [], { label: `${z.name} network, last hour`, times: hi?.t, span: hi?.span })] },
];

/** The list's sort and filter survive a refresh and a visit to a zone page. */
const view = { sort: "name", desc: false, filter: "" };
/** Each zone's history, fetched at most once a minute (the daemon samples every 15 s). */
/** @type {Map<string, { at: number, hist: History }>} */
const histories = new Map();
const HISTORY_MS = 60_000;
/** Each zone's configured addresses (zone objects carry none): read from its export text, again after a change event. */
/** @type {Map<string, string>} */
const addresses = new Map();
/** @param {string} name */
const addressOf = (name) => addresses.get(name) ?? "";

function listPage() {
  /** @type {Zone[]} */
  let zones = [];
  let stopped = false;
  const filter = h("input", { type: "search", id: "filter", placeholder: "name, state, brand, IP", value: view.filter, "aria-controls": "zones" });
  const count = h("span", { class: "count", role: "status" });
  const thead = h("tr");
  const tbody = h("tbody");
  const table = h("table", { id: "zones", class: "zones" }, h("caption", { class: "visually-hidden", text: "Zones" }), h("thead", {}, thead), tbody);
  filter.addEventListener("input", () => {
    view.filter = /** @type {HTMLInputElement} */ (filter).value;
    draw();
  });
  main.replaceChildren(h("section", { class: "list" }, h("div", { class: "toolbar" }, h("h1", { text: "Zones" }), h("label", { for: "filter", text: "Filter" }), filter, count), h("div", { class: "scroll" }, table)));

  function header() {
    thead.replaceChildren(
      ...COLUMNS.map((c) => {
        const sorted = view.sort === c.key;
        const b = h("button", { type: "button", class: "sort", text: `${c.label}${sorted ? (view.desc ? " ▾" : " ▴") : ""}`, "data-sort": c.key });
        b.addEventListener("click", () => {
          view.desc = view.sort === c.key ? !view.desc : false;
          view.sort = c.key;
          draw();
          /** @type {HTMLElement | null} */ (thead.querySelector(`[data-sort="${c.key}"]`))?.focus();
        });
        return h("th", { scope: "col", class: `col-${c.key}`, "aria-sort": sorted ? (view.desc ? "descending" : "ascending") : "none" }, b);
      }),
    );
  }

  function draw() {
    // The header is drawn anew: a live update must not take the keyboard's focus off a sort button.
    const focused = thead.contains(document.activeElement) ? document.activeElement?.getAttribute("data-sort") : null;
    header();
    if (focused) /** @type {HTMLElement | null} */ (thead.querySelector(`[data-sort="${focused}"]`))?.focus();
    const f = view.filter.trim().toLowerCase();
    const col = COLUMNS.find((c) => c.key === view.sort) ?? COLUMNS[0];
    const shown = zones
      .filter((z) => !f || [z.name, z.state, z.brand, addressOf(z.name)].some((s) => s.toLowerCase().includes(f)))
      .sort((a, b) => {
        const x = col.value(a), y = col.value(b);
        const r = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return (view.desc ? -r : r) || a.name.localeCompare(b.name);
      });
    tbody.replaceChildren(
      ...shown.map((z) => h("tr", { "data-zone": z.name }, ...COLUMNS.map((c) => h("td", { class: `col-${c.key}`, "data-label": c.label }, ...c.cell(z, histories.get(z.name)?.hist))))),
    );
    if (shown.length === 0) tbody.append(h("tr", {}, h("td", { colspan: String(COLUMNS.length), class: "empty", text: zones.length ? "No zone matches the filter." : "No zones configured." })));
    count.textContent = `${shown.length} of ${zones.length}`;
  }

  async function refresh() {
    try {
      zones = await listZones();
    } catch (e) {
      toast(`zone list: ${/** @type {Error} */ (e).message}`, true);
      return;
    }
    if (stopped) return;
    draw();
    const now = Date.now();
    const due = zones.filter((z) => (histories.get(z.name)?.at ?? 0) + HISTORY_MS < now).slice(0, 50);
    for (const name of [...histories.keys()]) if (!zones.some((z) => z.name === name)) histories.delete(name);
    const unknown = zones.filter((z) => !addresses.has(z.name)).slice(0, 50);
    await Promise.all([
      ...unknown.map(async (z) => {
        try {
          addresses.set(z.name, addressesOf(await zoneConfig(z.name)).join(", "));
        } catch {
          addresses.set(z.name, "");
        }
      }),
      ...due.map(async (z) => {
        try {
          histories.set(z.name, { at: now, hist: await zoneHistory(z.name) });
        } catch {
          // No history yet (the zone is new, or the route is absent): the cell stays empty.
          histories.set(z.name, { at: now, hist: { t: [], cpu: [], memory: [], net: [] } });
        }
      }),
    ]);
    if (!stopped && (due.length || unknown.length)) draw();
  }

  // The numbers move without events: a slow poll keeps the columns current.
  const timer = setInterval(refresh, 15_000);
  void refresh();
  return { refresh, stop: () => ((stopped = true), clearInterval(timer)) };
}

/** Show the page the hash names. */
function route() {
  page?.stop();
  const hash = location.hash || "#/";
  const m = /^#\/zone\/([^/]+)$/.exec(hash);
  for (const a of document.querySelectorAll("[data-nav]")) a.toggleAttribute("aria-current", a.getAttribute("data-nav") === (hash === "#/host" ? "host" : "zones"));
  if (m) page = zonePage(main, decodeURIComponent(m[1]));
  else if (hash === "#/host") page = hostPage(main);
  else page = listPage();
  main.focus({ preventScroll: true });
}

/** Many events come in bursts (a boot is several): one refresh per burst. */
let pending = 0;
function soon() {
  clearTimeout(pending);
  pending = setTimeout(() => page?.refresh(), 150);
}

const live = /** @type {HTMLElement} */ (document.getElementById("live"));
events(
  (e) => {
    // A configuration change may change a zone's addresses: read them again.
    if (e.type === "lifecycle" && typeof e.metadata?.name === "string" && e.metadata.action !== "zone-state-changed") addresses.delete(e.metadata.name);
    if (e.type === "lifecycle" || e.type === "operation") soon();
  },
  (up) => {
    live.textContent = up ? "live" : "reconnecting…";
    live.className = up ? "live up" : "live down";
    if (up) soon();
  },
);

// The one-time login URL (zoneadm web) carries ?token=: once the page has loaded the
// daemon has exchanged it for a session cookie; it must not stay in the address bar.
if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", `/${location.hash}`);
window.addEventListener("hashchange", route);
route();
