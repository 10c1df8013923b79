// @ts-check
// The host page: the global zone's CPUs, memory, load, what it reserves for itself, what
// the zones of this root may use together and use now, and the zones by state.
import { h, api, bytes, sparkline, toast } from "./util.js";
import { spanText } from "./model.js";

/** @param {unknown} v */
const n = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** @param {Record<string, any> | undefined} a an Amounts object (reserve.ts) */
function amounts(a) {
  if (!a || typeof a !== "object") return "–";
  const parts = [];
  for (const [k, v] of Object.entries(a)) if (typeof v === "number") parts.push(`${k.replace(/_bytes$/, "").replace(/_/g, " ")} ${/bytes/.test(k) ? bytes(v) : v}`);
  return parts.length ? parts.join(", ") : "none";
}

/** @param {HTMLElement} main */
export function hostPage(main) {
  let stopped = false;
  const facts = h("dl", { class: "facts", id: "host-facts" });
  const states = h("table", { class: "states" });
  const graphs = h("div", { class: "graphs" });
  const graphsTitle = h("h2", { text: "Last hour" });
  main.replaceChildren(h("section", { class: "host" }, h("h1", { text: "Host" }), facts, graphsTitle, graphs, h("h2", { text: "Zones by state" }), states));

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
    const load = Array.isArray(m.load) ? m.load.map((/** @type {number} */ x) => Number(x).toFixed(2)).join(" ") : "–";
    /** @type {[string, string][]} */
    const rows = [
      ["CPUs", `${n(m.cpus) ?? "–"}${n(m.cpu_busy) === undefined ? "" : `, ${m.cpu_busy.toFixed(2)} busy`}`],
      ["Load (1, 5, 15 min)", load],
      ["Memory used", `${bytes(n(m.memory_used_bytes))} of ${bytes(n(m.memory_total_bytes))}`],
      ["Swap used", `${bytes(n(m.swap_used_bytes))} of ${bytes(n(m.swap_total_bytes))}`],
      ["Global zone reserve", m.reserve_error ? String(m.reserve_error) : amounts(m.reserve)],
      ["All zones may use", amounts(m.zones_limit)],
      ["All zones use", `memory ${bytes(n(m.zones_memory_bytes))}, ${n(m.zones_pids) ?? "–"} tasks`],
    ];
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
    const by = m.zones_by_state && typeof m.zones_by_state === "object" ? m.zones_by_state : {};
    states.replaceChildren(
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "State" }), h("th", { scope: "col", text: "Zones" }))),
      h("tbody", {}, ...Object.entries(by).map(([s, c]) => h("tr", {}, h("td", { text: s }), h("td", { class: "num", text: String(c) })))),
    );
    const span = spanText(n(m.history?.span_s));
    graphsTitle.textContent = span[0].toUpperCase() + span.slice(1);
    const samples = Array.isArray(m.history?.samples) ? m.history.samples : [];
    /** @param {string} k */
    const series = (k) => samples.map((/** @type {any} */ s) => n(s?.[k]) ?? 0);
    graphs.replaceChildren(
      h("figure", { class: "graph" }, h("figcaption", { text: "CPUs busy" }), sparkline(series("cpu_busy"), { width: 320, height: 64, max: n(m.cpus), label: "host CPUs busy, last hour", times: series("t"), span: n(m.history?.span_s) })),
      h("figure", { class: "graph" }, h("figcaption", { text: "Load (1 min)" }), sparkline(series("load1"), { width: 320, height: 64, label: "host load, last hour", times: series("t"), span: n(m.history?.span_s) })),
      h("figure", { class: "graph" }, h("figcaption", { text: "Memory used" }), sparkline(series("memory_used_bytes"), { width: 320, height: 64, max: n(m.memory_total_bytes), label: "host memory, last hour", times: series("t"), span: n(m.history?.span_s) })),
      h("figure", { class: "graph" }, h("figcaption", { text: "Zones running" }), sparkline(series("running"), { width: 320, height: 64, label: "zones running, last hour", times: series("t"), span: n(m.history?.span_s) })),
    );
  }
  void refresh();
  const timer = setInterval(refresh, 15_000);
  return { refresh, stop: () => ((stopped = true), clearInterval(timer)) };
}
