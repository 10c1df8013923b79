// @ts-check
// The host page: the global zone's CPUs, memory, load, what it reserves for itself, what
// the zones of this root may use together and use now, and the zones by state.
import { h, api, bytes, seconds, sparkline, toast } from "./util.js";

/** @param {unknown} v */
const n = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** @param {Record<string, any> | undefined} a an Amounts object (reserve.ts) */
function amounts(a) {
  if (!a || typeof a !== "object") return "–";
  const parts = [];
  for (const [k, v] of Object.entries(a)) if (typeof v === "number") parts.push(`${k} ${/mem|bytes|swap/i.test(k) ? bytes(v) : v}`);
  return parts.length ? parts.join(", ") : "none";
}

/** @param {HTMLElement} main */
export function hostPage(main) {
  let stopped = false;
  const facts = h("dl", { class: "facts", id: "host-facts" });
  const states = h("table", { class: "states" });
  const graphs = h("div", { class: "graphs" });
  main.replaceChildren(h("section", { class: "host" }, h("h1", { text: "Host" }), facts, h("h2", { text: "Last hour" }), graphs, h("h2", { text: "Zones by state" }), states));

  async function refresh() {
    /** @type {Record<string, any>} */
    let m;
    try {
      m = await api("GET", "/1.0/host");
    } catch (e) {
      toast(`host: ${/** @type {Error} */ (e).message}`, true);
      return;
    }
    if (stopped) return;
    const u = m.usage ?? m.host ?? m;
    const load = Array.isArray(u.load) ? u.load.map((/** @type {number} */ x) => Number(x).toFixed(2)).join(" ") : "–";
    /** @type {[string, string][]} */
    const rows = [
      ["CPUs", String(n(u.ncpus) ?? "–")],
      ["Load (1, 5, 15 min)", load],
      ["Memory used", `${bytes(n(u.memoryUsedBytes))} of ${bytes(n(u.memoryTotalBytes))}`],
      ["Swap used", `${bytes(n(u.swapUsedBytes))} of ${bytes(n(u.swapTotalBytes))}`],
      ["Global zone reserve", u.reserveError ? String(u.reserveError) : amounts(u.reserve)],
      ["Zones may use", amounts(u.zonesLimit)],
      ["Zones use", `memory ${bytes(n(u.zonesMemoryBytes))}, ${n(u.zonesPids) ?? "–"} tasks, CPU ${seconds(n(u.zonesCpuSeconds))}`],
    ];
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
    const by = u.zonesByState && typeof u.zonesByState === "object" ? u.zonesByState : {};
    states.replaceChildren(
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "State" }), h("th", { scope: "col", text: "Zones" }))),
      h("tbody", {}, ...Object.entries(by).map(([s, c]) => h("tr", {}, h("td", { text: s }), h("td", { class: "num", text: String(c) })))),
    );
    const samples = Array.isArray(m.history) ? m.history : Array.isArray(m.samples) ? m.samples : [];
    const mem = samples.map((/** @type {any} */ s) => n(s.memoryUsedBytes) ?? n(s.memoryBytes) ?? NaN);
    const ld = samples.map((/** @type {any} */ s) => (Array.isArray(s.load) ? Number(s.load[0]) : n(s.load1) ?? NaN));
    graphs.replaceChildren(
      h("figure", { class: "graph" }, h("figcaption", { text: "Load (1 min)" }), sparkline(ld, { width: 320, height: 64, label: "host load, last hour" })),
      h("figure", { class: "graph" }, h("figcaption", { text: "Memory used" }), sparkline(mem, { width: 320, height: 64, max: n(u.memoryTotalBytes), label: "host memory, last hour" })),
    );
  }
  void refresh();
  const timer = setInterval(refresh, 15_000);
  return { refresh, stop: () => ((stopped = true), clearInterval(timer)) };
}
