import { createHash } from "node:crypto";

// The page's script. It builds every element with createElement/textContent, never innerHTML, so
// names and paths (chosen by remote clients) are always text, never markup. It follows `events`
// (server-sent events: one status snapshot per message) and EventSource reconnects by itself.
const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function bytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return (v < 10 ? v.toFixed(1) : Math.round(v)) + " " + units[u];
}
function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
  return Math.floor(s / 86400) + " d ago";
}
function clock(ms) { return new Date(ms).toLocaleTimeString(); }
function short(origin) { const m = /^(.+)-[0-9a-f]{8}$/.exec(origin); return m ? m[1] : origin; }
function table(head, rows, empty) {
  if (rows.length === 0) return el("p", { class: "empty" }, empty);
  return el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows));
}
function chart(t) {
  const NS = "http://www.w3.org/2000/svg", W = 600, H = 120;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const max = Math.max(1024, ...t.received, ...t.sent);
  const n = Math.max(1, t.received.length - 1);
  for (const [series, cls] of [[t.received, "in"], [t.sent, "out"]]) {
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("class", cls);
    line.setAttribute("points", series.map((v, i) =>
      ((i / n) * W).toFixed(1) + "," + (H - 4 - (v / max) * (H - 12)).toFixed(1)).join(" "));
    svg.append(line);
  }
  const last = (a) => a.length ? a[a.length - 1] : 0;
  return el("figure", {}, svg, el("figcaption", {},
    el("span", { class: "in" }, "\\u25A0 received " + bytes(last(t.received)) + "/s"), "  ",
    el("span", { class: "out" }, "\\u25A0 sent " + bytes(last(t.sent)) + "/s"), "  (last 60 s, top of the chart " + bytes(max) + "/s)"));
}
let names = new Map();
function who(origin) { return names.get(origin) ?? short(origin); }
function render(s) {
  const now = s.hub.now;
  for (const sp of s.spaces) for (const c of sp.clients) if (c.name) names.set(c.clientId, c.name);
  $("hub").textContent = s.hub.url + " \\u00B7 up " + ago(now - s.hub.startedAt).replace(" ago", "") +
    " \\u00B7 " + s.connections + " connection" + (s.connections === 1 ? "" : "s");
  $("chart").replaceChildren(chart(s.throughput));
  const spaces = s.spaces.map((sp) => el("section", { class: "space", "data-space": sp.name },
    el("h2", {}, "Space ", el("code", {}, sp.name)),
    el("p", { class: "stats" }, sp.files + " files \\u00B7 " + bytes(sp.bytes) + " \\u00B7 seq " + sp.seq +
      " \\u00B7 " + sp.changes + " changes \\u00B7 " + sp.conflicts + " conflicts \\u00B7 " +
      bytes(sp.received) + " in, " + bytes(sp.sent) + " out"),
    table(["client", "address", "connected since", "last heartbeat", "state"],
      sp.clients.map((c) => el("tr", { class: "client" },
        el("td", {}, el("strong", {}, c.name ?? short(c.clientId)), " ", el("small", {}, c.clientId)),
        el("td", {}, c.address ?? "\\u2014"),
        el("td", {}, clock(c.connectedAt) + " (" + ago(now - c.connectedAt) + ")"),
        el("td", {}, ago(now - c.lastSeen)),
        el("td", {}, c.state === "joining" ? "joining" :
          c.behind ? c.behind + " change" + (c.behind === 1 ? "" : "s") + " behind" : "up to date"))),
      "No client connected.")));
  $("spaces").replaceChildren(...(spaces.length ? spaces : [el("p", { class: "empty" }, "No space yet: no client has joined.")]));
  $("changes").replaceChildren(table(["time", "space", "change", "path", "size", "from"],
    s.recentChanges.slice().reverse().map((c) => el("tr", { class: "change" },
      el("td", {}, clock(c.time)), el("td", {}, c.space), el("td", {}, c.op),
      el("td", {}, el("code", {}, c.path)), el("td", {}, c.op === "write" ? bytes(c.size) : ""),
      el("td", {}, who(c.origin)))), "No change yet."));
  $("conflicts").replaceChildren(table(["time", "space", "path", "winner", "loser"],
    s.recentConflicts.slice().reverse().map((c) => el("tr", { class: "conflict" },
      el("td", {}, clock(c.time)), el("td", {}, c.space), el("td", {}, el("code", {}, c.path)),
      el("td", {}, who(c.winner.origin) + " (" + new Date(c.winner.mtimeMs).toISOString() + ")"),
      el("td", {}, who(c.loser.origin) + " (" + new Date(c.loser.mtimeMs).toISOString() + ")"))),
    "No conflict."));
}
const source = new EventSource("events");
source.onmessage = (e) => { $("state").textContent = "live"; $("state").className = "ok"; render(JSON.parse(e.data)); };
source.onerror = () => { $("state").textContent = "reconnecting\\u2026"; $("state").className = "bad"; };
`;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
header { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.4rem; margin: 0; } h2 { font-size: 1.1rem; margin: 1.2rem 0 .3rem; }
#hub { color: #555; } .ok { color: #17803d; } .bad { color: #b42318; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
th { font-weight: 600; color: #555; } td code { word-break: break-all; } small { color: #777; }
.empty { color: #777; } .stats { margin: 0 0 .4rem; color: #333; }
figure { margin: .5rem 0; } svg { width: 100%; height: 120px; background: #fafafa; border: 1px solid #e5e5e5; }
polyline { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; }
polyline.in { stroke: #2563eb; } polyline.out { stroke: #ea580c; } span.in { color: #2563eb; } span.out { color: #ea580c; }
figcaption { color: #555; font-size: 12px; }
`;

/** The whole page: no external asset, so it works offline and leaks no request to a third party. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DistSync hub</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>DistSync hub</h1><span id="hub">connecting\u2026</span><span id="state">connecting\u2026</span></header>
<h2>Throughput</h2>
<div id="chart"></div>
<div id="spaces"></div>
<h2>Recent changes</h2>
<div id="changes"></div>
<h2>Conflicts</h2>
<div id="conflicts"></div>
<script>${SCRIPT}</script>
</body>
</html>
`;

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/**
 * The page's Content-Security-Policy: only its own inline script and style (by hash) and requests to
 * this hub. Even if a name slipped through as markup, no other script could run.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");
