// gfhost serve: the status page. Plain JavaScript, no build step, no third-party code.
// Every value from the API reaches the page through textContent or an attribute set by
// setAttribute on an element made here; no HTML is ever parsed from data.
"use strict";
(function () {
  var STATES = ["CLAIMED", "PROCESSING", "COMPLETED", "FAILED", "INVALID", "ABORTED"];
  var COLORS = { CLAIMED: "#8e7cc3", PROCESSING: "#3d85c6", COMPLETED: "#38a169",
    FAILED: "#e53e3e", INVALID: "#dd6b20", ABORTED: "#718096" };
  var REFRESH_MS = 5000;
  var SVGNS = "http://www.w3.org/2000/svg";

  var view = { cw: "", state: "", since: "", interval: "hour", run: "", runLimit: 50, itemLimit: 50 };
  var actionsEnabled = false;
  var renders = 0;

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function cell(tr, text, cls) { var td = el("td", text, cls); tr.appendChild(td); return td; }

  function badge(s) { var b = el("span", s, "badge"); b.classList.add(String(s).replace(/[^A-Za-z]/g, "")); return b; }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function when(iso) {
    if (!iso) return "";
    return String(iso).replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z");
  }

  function readHash() {
    var h = new URLSearchParams(location.hash.replace(/^#/, ""));
    view.cw = h.get("cw") || view.cw;
    view.state = h.get("state") || "";
    view.since = h.get("since") || "";
    view.interval = h.get("interval") || "hour";
    view.run = h.get("run") || "";
  }

  function writeHash() {
    var h = new URLSearchParams();
    if (view.cw) h.set("cw", view.cw);
    if (view.state) h.set("state", view.state);
    if (view.since) h.set("since", view.since);
    if (view.interval !== "hour") h.set("interval", view.interval);
    if (view.run) h.set("run", view.run);
    history.replaceState(null, "", "#" + h.toString());
  }

  function api(path, params) {
    var q = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) { if (params[k]) q.set(k, params[k]); });
    var url = path + (q.toString() ? "?" + q.toString() : "");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(r.status + ": " + (body && body.error || r.statusText));
          return body;
        });
      });
  }

  function post(name, body) {
    return fetch("/api/actions/" + name, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (b) { if (!r.ok) throw new Error(b.error); return b; }); });
  }

  // ---- health ----
  function renderHealth(h) {
    actionsEnabled = !!h.actions_enabled;
    var box = $("health");
    clear(box);
    if (!h.listeners || h.listeners.length === 0) {
      box.appendChild(el("p", "no listener reports to this state", "muted"));
      return;
    }
    h.listeners.forEach(function (l) {
      var row = el("div", null, "listener");
      row.setAttribute("data-listener", l.name);
      var name = el("div"); name.appendChild(el("strong", l.name)); row.appendChild(name);
      var st = l.stale ? el("span", "stale (no report since " + when(l.reported) + ")", "stale")
        : l.connected ? el("span", "connected", "ok") : el("span", "disconnected", "down");
      var sd = el("div"); sd.appendChild(st); row.appendChild(sd);
      var la = l.last_announcement || {};
      row.appendChild(el("div", "last announcement: " + (la.at ? when(la.at) : "none")
        + (la.relpath ? " " + la.relpath : "")));
      var miss = el("div", "missing files per day: ");
      if (!l.missing_per_day || l.missing_per_day.length === 0) miss.appendChild(el("span", "none", "muted"));
      (l.missing_per_day || []).forEach(function (d) {
        miss.appendChild(el("span", d.day + ": " + d.missing + "  "));
      });
      row.appendChild(miss);
      if (l.last_error) row.appendChild(el("div", "last error: " + l.last_error, "err"));
      box.appendChild(row);
    });
  }

  // ---- payloads ----
  function renderCwList(list) {
    var dl = $("cw-list");
    clear(dl);
    list.forEach(function (cw) { var o = el("option"); o.value = cw; dl.appendChild(o); });
    if (!view.cw && list.length > 0) { view.cw = list[0]; $("cw").value = view.cw; }
  }

  function renderCounts(counts) {
    var tb = $("counts").tBodies[0];
    clear(tb);
    STATES.forEach(function (s) {
      var c = counts[s] || {};
      var tr = el("tr");
      tr.setAttribute("data-state", s);
      var td = cell(tr, null, "state"); td.appendChild(badge(s));
      cell(tr, c.hour || 0, "num"); cell(tr, c.day || 0, "num"); cell(tr, c.week || 0, "num");
      tb.appendChild(tr);
    });
  }

  function renderItems(items, more) {
    var tb = $("items").tBodies[0];
    clear(tb);
    if (items.length === 0) {
      var tr = el("tr"); var td = cell(tr, "no payloads match", "muted"); td.colSpan = 7; tb.appendChild(tr);
    }
    items.forEach(function (it) {
      var tr = el("tr");
      tr.setAttribute("data-id", it.payload_id || it.itemids);
      cell(tr, it.payload_id || it.itemids, "id");
      cell(tr, when(it.created)); cell(tr, when(it.updated));
      cell(tr, null).appendChild(badge(it.state));
      cell(tr, it.last_error || "", "err");
      cell(tr, it.execution || "", "id");
      var act = cell(tr, null);
      if (actionsEnabled && (it.state === "FAILED" || it.state === "INVALID" || it.state === "ABORTED")) {
        var b = el("button", "rerun");
        b.type = "button";
        b.addEventListener("click", function () {
          post("rerun-payload", { payload_id: it.payload_id }).then(function (r) { status("rerun " + r.result); })
            .catch(function (e) { status("rerun failed: " + e.message); });
        });
        act.appendChild(b);
      }
      tb.appendChild(tr);
    });
    $("items-more").hidden = !more;
  }

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  // Stacked bars: one per hour or day since series.since, one colour per state.
  function renderChart(series) {
    var chart = $("chart");
    clear(chart);
    var W = Math.max(chart.clientWidth || 600, 300), H = 200, L = 36, B = 22, T = 8;
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    var step = series.interval === "day" ? 86400000 : 3600000;
    var len = series.interval === "day" ? 10 : 13;
    var start = Date.parse(String(series.since).slice(0, len) + (len === 10 ? "T00:00:00Z" : ":00:00Z"));
    var end = Date.parse(String(series.now).slice(0, len) + (len === 10 ? "T00:00:00Z" : ":00:00Z"));
    if (isNaN(start) || isNaN(end)) return;
    var n = Math.round((end - start) / step) + 1;
    var buckets = [];
    for (var i = 0; i < n; i++) buckets.push({});
    (series.points || []).forEach(function (p) {
      var t = Date.parse(p.bucket + (len === 10 ? "T00:00:00Z" : ":00:00Z"));
      var k = Math.round((t - start) / step);
      if (k >= 0 && k < n) buckets[k][p.state] = (buckets[k][p.state] || 0) + p.n;
    });
    var max = 1;
    buckets.forEach(function (b) {
      var s = 0; STATES.forEach(function (st) { s += b[st] || 0; }); if (s > max) max = s;
    });
    var bw = (W - L - 4) / n;
    chart.appendChild(svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, "class": "axis" }));
    chart.appendChild(svg("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, max));
    chart.appendChild(svg("text", { x: L - 4, y: H - B, "text-anchor": "end" }, 0));
    buckets.forEach(function (b, k) {
      var y = H - B;
      STATES.forEach(function (st) {
        var v = b[st] || 0;
        if (!v) return;
        var h = (H - B - T) * v / max;
        y -= h;
        var r = svg("rect", { x: (L + k * bw + 0.5).toFixed(1), y: y.toFixed(1),
          width: Math.max(bw - 1, 1).toFixed(1), height: h.toFixed(1), fill: COLORS[st] });
        r.appendChild(svg("title", {}, new Date(start + k * step).toISOString().slice(0, len) + " " + st + ": " + v));
        chart.appendChild(r);
      });
      var every = Math.ceil(n / 8);
      if (k % every === 0) {
        var d = new Date(start + k * step).toISOString();
        chart.appendChild(svg("text", { x: (L + k * bw).toFixed(1), y: H - 6 },
          series.interval === "day" ? d.slice(5, 10) : d.slice(5, 10) + " " + d.slice(11, 13) + "h"));
      }
    });
    var legend = $("legend");
    clear(legend);
    STATES.forEach(function (st) {
      var s = el("span"); var sw = el("i"); sw.style.background = COLORS[st];
      s.appendChild(sw); s.appendChild(document.createTextNode(st)); legend.appendChild(s);
    });
  }

  function loadPayloads() {
    if (!view.cw) {
      return api("/api/payloads", {}).then(function (r) {
        renderCwList(r.collections_workflows || []);
        if (view.cw) return loadPayloads();
        renderItems([], false);
      });
    }
    return api("/api/payloads", { collections_workflow: view.cw, state: view.state,
      since: view.since, interval: view.interval, limit: view.itemLimit })
      .then(function (r) {
        renderCounts(r.counts || {});
        renderItems(r.items || [], !!r.next);
        renderChart(r.series || {});
      });
  }

  // ---- runs ----
  function renderRuns(r) {
    var tb = $("runs").tBodies[0];
    clear(tb);
    if (r.runs.length === 0) {
      var tr0 = el("tr"); var td0 = cell(tr0, "no workflow runs in this state", "muted"); td0.colSpan = 6; tb.appendChild(tr0);
    }
    r.runs.forEach(function (run) {
      var tr = el("tr");
      tr.setAttribute("data-run", run.run_id);
      var a = el("a", run.run_id, "run");
      a.setAttribute("role", "button");
      a.addEventListener("click", function () { view.run = run.run_id; writeHash(); loadRun(); });
      cell(tr, null, "id").appendChild(a);
      cell(tr, run.workflow);
      cell(tr, null).appendChild(badge(run.status));
      var parts = [];
      Object.keys(run.counts || {}).sort().forEach(function (k) { parts.push(run.counts[k] + " " + k); });
      cell(tr, parts.join(", "));
      cell(tr, when(run.started)); cell(tr, when(run.ended));
      tb.appendChild(tr);
    });
    $("runs-more").hidden = !r.next;
  }

  function loadRun() {
    var box = $("run-detail");
    if (!view.run) { box.hidden = true; return Promise.resolve(); }
    return api("/api/runs/" + encodeURIComponent(view.run), { status: "failed" }).then(function (r) {
      box.hidden = false;
      $("run-title").textContent = r.run_id + " (" + r.workflow + ", " + r.status + ")";
      var tb = $("nodes").tBodies[0];
      clear(tb);
      if (r.nodes.length === 0) {
        var tr0 = el("tr"); var td0 = cell(tr0, "no failed nodes", "muted"); td0.colSpan = 6; tb.appendChild(tr0);
      }
      r.nodes.forEach(function (n) {
        var tr = el("tr");
        tr.setAttribute("data-node", n.node);
        cell(tr, n.node, "id");
        cell(tr, null).appendChild(badge(n.status));
        cell(tr, n.attempts, "num");
        cell(tr, n.duration_s === undefined || n.duration_s === null ? "" : n.duration_s + " s", "num");
        cell(tr, n.error || "", "err");
        var act = cell(tr, null);
        if (actionsEnabled) {
          var b = el("button", "rerun");
          b.type = "button";
          b.addEventListener("click", function () {
            post("rerun-node", { run_id: r.run_id, node: n.node }).then(function () { refresh(); })
              .catch(function (e) { status("rerun failed: " + e.message); });
          });
          act.appendChild(b);
        }
        tb.appendChild(tr);
      });
    }).catch(function (e) { box.hidden = false; $("run-title").textContent = view.run + ": " + e.message; });
  }

  function status(text) { $("status").textContent = text; }

  function refresh() {
    var started = Date.now();
    return Promise.all([
      api("/api/health").then(renderHealth),
      api("/api/runs", { limit: view.runLimit }).then(renderRuns),
      loadPayloads(),
      loadRun(),
    ]).then(function () {
      renders += 1;
      document.body.setAttribute("data-renders", String(renders));
      document.body.setAttribute("data-ready", "1");
      status("updated " + new Date().toISOString().slice(11, 19) + "Z · " + (Date.now() - started) + " ms");
    }).catch(function (e) {
      document.body.setAttribute("data-error", e.message);
      status("refresh failed: " + e.message);
    });
  }

  function bind() {
    $("cw").value = view.cw;
    $("state").value = view.state;
    $("interval").value = view.interval;
    var sinceButtons = document.querySelectorAll(".since button");
    function markSince() {
      sinceButtons.forEach(function (b) { b.classList.toggle("on", b.getAttribute("data-since") === view.since); });
    }
    markSince();
    sinceButtons.forEach(function (b) {
      b.addEventListener("click", function () { view.since = b.getAttribute("data-since"); markSince(); writeHash(); refresh(); });
    });
    $("state").addEventListener("change", function () { view.state = $("state").value; writeHash(); refresh(); });
    $("interval").addEventListener("change", function () { view.interval = $("interval").value; writeHash(); refresh(); });
    $("cw").addEventListener("change", function () { view.cw = $("cw").value.trim(); writeHash(); refresh(); });
    $("filters").addEventListener("submit", function (e) { e.preventDefault(); });
    $("runs-more").addEventListener("click", function () { view.runLimit = Math.min(view.runLimit + 50, 200); refresh(); });
    $("items-more").addEventListener("click", function () { view.itemLimit = Math.min(view.itemLimit + 50, 200); refresh(); });
  }

  readHash();
  bind();
  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
