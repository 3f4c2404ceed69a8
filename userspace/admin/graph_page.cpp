#include "graph_page.h"

#include "json_writer.h"

namespace sluice {

namespace {

void edges(JsonWriter& w, const char* protocol, const std::vector<telemetry::EdgeTotals>& list) {
  for (const auto& e : list) {
    w.begin_object().key("protocol").value(protocol).key("source").value(e.source).key("service").value(e.service);
    w.key("destination").value(e.destination).key("requests").value(e.requests).key("errors").value(e.errors);
    w.key("duration_ms").begin_array();
    for (uint64_t c : e.duration_ms) w.value(c);
    w.end_array().end_object();
  }
}

// The page. Layout: each node's column is its distance from the clients
// (nodes nobody calls), so a call graph reads left to right.
constexpr std::string_view kPage = R"PAGE(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sluice: service graph</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 0; background: #fafafa; color: #222; }
header { padding: 8px 14px; background: #123; color: #eee; display: flex; gap: 18px; align-items: baseline; }
header b { font-size: 15px; } #status { color: #9bd; }
svg { display: block; }
.node rect.box { fill: #fff; stroke: #567; stroke-width: 1.2; }
.node.service rect.box { fill: #eef5ff; stroke: #36c; }
.node.external rect.box { fill: #f4f4f4; stroke: #999; stroke-dasharray: 3 2; }
rect.warn { fill: #a60; } rect.bad { fill: #c33; }
.node text { font-size: 12px; } .badge { font-size: 10px; fill: #fff; }
.edge { fill: none; stroke: #4a4; stroke-width: 1.6; } .edge.tcp { stroke: #777; stroke-dasharray: 5 3; }
.edge.err { stroke: #d33; } .edge.idle { stroke: #ccc; }
.rtt { font-size: 10px; fill: #567; }
.elabel { font-size: 10.5px; fill: #333; paint-order: stroke; stroke: #fafafa; stroke-width: 3px; }
#legend { position: fixed; right: 10px; bottom: 8px; font-size: 11px; color: #555; background: #fff; padding: 6px 9px; border: 1px solid #ddd; }
</style></head><body>
<header><b>sluice service graph</b><span id="status">loading...</span></header>
<svg id="graph" width="1200" height="600"></svg>
<div id="legend">green: HTTP (requests/s, errors, p99) &nbsp; red: errors &nbsp; dashed grey: L4-only TCP (connections/s, from the kernel)<br>
services: the kernel's median TCP round-trip time to their backends &nbsp; badges: <b>F</b> fault &nbsp; <b>M</b> mirror &nbsp; <b>E</b> ejected endpoints &nbsp; <b>CB</b> circuit breaker overflows</div>
<script>
"use strict";
const NS = "http://www.w3.org/2000/svg";
let previous = null, previousAt = 0;
function el(name, attrs, parent, text) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  parent.appendChild(e);
  return e;
}
function quantile(q, bounds, counts) {
  let total = 0; for (const c of counts) total += c;
  if (!total) return 0;
  const rank = q * total; let below = 0;
  for (let i = 0; i < counts.length; i++) {
    if (below + counts[i] >= rank && counts[i] > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lo = i ? bounds[i - 1] : 0;
      return lo + (bounds[i] - lo) * (rank - below) / counts[i];
    }
    below += counts[i];
  }
  return bounds[bounds.length - 1];
}
const key = e => e.protocol + "|" + e.source + "|" + e.service + "|" + e.destination;
async function getJson(path) { const r = await fetch(path, {cache: "no-store"}); return r.ok ? r.json() : null; }
async function refresh() {
  let graph, routes, clusters;
  try { [graph, routes, clusters] = await Promise.all([getJson("/stats/graph"), getJson("/routes"), getJson("/clusters")]); }
  catch (err) { document.getElementById("status").textContent = "sluiced unreachable: " + err; return; }
  const now = performance.now();
  if (!graph) return;
  const seconds = previous ? (now - previousAt) / 1000 : 0;
  const before = new Map((previous ? previous.edges : []).map(e => [key(e), e]));
  const edges = graph.edges.map(e => {
    const b = before.get(key(e));
    const n = b && e.requests >= b.requests ? e.requests - b.requests : (b ? e.requests : 0);
    const errs = b && e.errors >= b.errors ? e.errors - b.errors : 0;
    const delta = e.duration_ms.map((c, i) => b ? Math.max(0, c - b.duration_ms[i]) : 0);
    return {...e, n, errs, delta, seconds};
  });
  previous = graph; previousAt = now;
  const hops = draw(edges, badges(routes, clusters), graph.bounds_ms, graph.rtt_ms || {});
  const active = hops.filter(h => h.rate > 0).length;
  document.getElementById("status").textContent =
    seconds ? `${hops.length} edges, ${active} with traffic over the last ${seconds.toFixed(1)} s` : "sampling...";
}
function badges(routes, clusters) {
  const b = new Map();
  const add = (service, mark) => { if (!b.has(service)) b.set(service, new Set()); b.get(service).add(mark); };
  for (const h of (routes ? routes.hosts : [])) {
    for (const r of h.routes.http) {
      if (r.fault) add(h.routes.host, "F");
      if (r.mirror) add(h.routes.host, "M");
    }
  }
  for (const c of (clusters ? clusters.clusters : [])) {
    const service = c.name.split(":")[0];
    if (c.outlier_detection && c.outlier_detection.ejections_active > 0) add(service, "E");
    const cb = c.circuit_breakers || {};
    for (const k in cb) if (cb[k] && cb[k].overflows > 0) add(service, "CB");
  }
  return b;
}
function draw(edges, marks, bounds, rtt) {
  const svg = document.getElementById("graph");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  el("defs", {}, svg).innerHTML =
    '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker>';
  // Nodes: workloads (sources and destinations) and services.
  const nodes = new Map(), out = new Map(), incoming = new Set();
  const node = (id, kind, label, extra) => { if (!nodes.has(id)) nodes.set(id, {id, kind, label, ...extra}); return id; };
  const link = (a, b) => { if (!out.has(a)) out.set(a, new Set()); out.get(a).add(b); incoming.add(b); };
  // Hops: client -> service and service -> the workload that answered, each
  // the sum of its edges (a service's callers; a workload's share).
  const hops = new Map();
  const hop = (from, to, e) => {
    const k = from + ">" + to;
    if (!hops.has(k)) hops.set(k, {from, to, protocol: e.protocol, n: 0, errs: 0, delta: e.delta.map(() => 0), seconds: e.seconds});
    const h = hops.get(k);
    h.n += e.n; h.errs += e.errs; e.delta.forEach((c, i) => h.delta[i] += c);
    link(from, to);
  };
  for (const e of edges) {
    const s = node("w:" + e.source, e.source === "unknown" ? "external" : "workload", e.source === "unknown" ? "outside / unknown" : e.source);
    const v = node("s:" + e.service, "service", e.service.replace(".svc.cluster.local", ""), {rtt: rtt[e.service]});
    hop(s, v, e);
    if (e.destination !== "unknown") hop(v, node("w:" + e.destination, "workload", e.destination), e);
  }
  const links = [...hops.values()].map(h => ({from: h.from, to: h.to, edge: {
    protocol: h.protocol, rate: h.seconds ? h.n / h.seconds : 0, errorShare: h.n ? h.errs / h.n : 0,
    p99: quantile(0.99, bounds, h.delta)}}));
  const depth = new Map(), queue = [];
  for (const id of nodes.keys()) if (!incoming.has(id)) { depth.set(id, 0); queue.push(id); }
  while (queue.length) {
    const id = queue.shift();
    for (const next of (out.get(id) || [])) if (!depth.has(next)) { depth.set(next, depth.get(id) + 1); queue.push(next); }
  }
  for (const id of nodes.keys()) if (!depth.has(id)) depth.set(id, 0);  // in a cycle only
  const columns = new Map();
  for (const [id, d] of depth) { if (!columns.has(d)) columns.set(d, []); columns.get(d).push(id); }
  let height = 200;
  for (const [d, ids] of columns) {
    ids.sort();
    ids.forEach((id, i) => { const n = nodes.get(id); n.x = 20 + d * 330; n.y = 40 + i * 70; });
    height = Math.max(height, 80 + ids.length * 70);
  }
  svg.setAttribute("height", height);
  svg.setAttribute("width", Math.max(1200, 100 + columns.size * 330));
  const W = 180, H = 34;
  // Edges first, under the nodes, each with its label.
  for (const l of links) {
    const a = nodes.get(l.from), b = nodes.get(l.to), e = l.edge;
    const cls = "edge" + (e.protocol === "tcp" ? " tcp" : "") + (e.errorShare > 0 ? " err" : "") +
                (e.rate === 0 ? " idle" : "");
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    el("path", {class: cls, d: `M${x1},${y1} C${x1 + 40},${y1} ${x2 - 40},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)",
                "data-from": a.label, "data-to": b.label}, svg);
    {
      const text = e.protocol === "tcp" ? `${e.rate.toFixed(1)} conn/s`
        : `${e.rate.toFixed(1)} rps, ${(100 * e.errorShare).toFixed(0)}% err, p99 ${e.p99.toFixed(1)}ms`;
      el("text", {class: "elabel", x: x1 + 6, y: y1 - 6 + (y2 - y1) * 0.15, "data-edge": `${a.label} -> ${b.label}`,
                  "data-rate": e.rate.toFixed(2), "data-protocol": e.protocol}, svg, text);
    }
  }
  for (const n of nodes.values()) {
    const g = el("g", {class: "node " + n.kind, transform: `translate(${n.x},${n.y})`, "data-node": n.label, "data-kind": n.kind}, svg);
    el("rect", {class: "box", width: W, height: H, rx: 6}, g);
    el("text", {x: 8, y: 21}, g, (n.kind === "service" ? "\u25C7 " : "\u25A2 ") + n.label);
    if (n.rtt !== undefined) {
      el("text", {class: "rtt", x: 8, y: H + 12, "data-rtt": n.rtt.toFixed(3)}, g, `rtt p50 ${n.rtt.toFixed(2)} ms (kernel)`);
    }
    const m = n.kind === "service" ? marks.get(n.id.slice(2)) : null;
    if (m) {
      let x = W - 4;
      for (const mark of [...m].sort().reverse()) {
        const w = 8 + 7 * mark.length; x -= w + 3;
        el("rect", {x, y: -8, width: w, height: 15, rx: 4, class: mark === "E" || mark === "CB" ? "bad" : "warn"}, g);
        el("text", {class: "badge", x: x + 4, y: 3, "data-badge": mark}, g, mark);
      }
    }
  }
  return links.map(l => l.edge);
}
function tick() {
  refresh().catch(err => { document.getElementById("status").textContent = "error: " + err; });
}
tick();
setInterval(tick, 2000);
</script></body></html>
)PAGE";

}  // namespace

std::string graph_json(const std::vector<telemetry::EdgeTotals>& http, const std::vector<telemetry::EdgeTotals>& tcp,
                       const std::map<std::string, double>& rtt_ms_by_service) {
  JsonWriter w;
  w.begin_object().key("bounds_ms").begin_array();
  for (double b : telemetry::kEnvoyDefaultBuckets) w.value(b);
  w.end_array().key("edges").begin_array();
  edges(w, "http", http);
  edges(w, "tcp", tcp);
  w.end_array().key("rtt_ms").begin_object();
  for (const auto& [service, ms] : rtt_ms_by_service) w.key(service).value(ms);
  w.end_object().end_object();
  return std::move(w).str();
}

std::string_view graph_page_html() { return kPage; }

}  // namespace sluice
