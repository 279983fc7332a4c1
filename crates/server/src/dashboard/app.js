// Polysync dashboard: live updates from /api/events. The pages are complete
// without this script; it only keeps statuses current without a reload.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!window.EventSource) return;
  var terminal = { Success: 1, Failed: 1, Cancelled: 1, TimedOut: 1, Skipped: 1 };

  // The feed replays its backlog to a new connection: changes older than
  // what a badge shows (by row version) or than the page are ignored.
  var since = Number(document.body.dataset.since || 0);
  function setStatus(el, status, v) {
    if (v !== undefined && el.dataset.v && Number(el.dataset.v) > v) return;
    if (v !== undefined) el.dataset.v = v;
    if (el.namespaceURI === "http://www.w3.org/2000/svg") {
      // A task graph node: recolour the group, rewrite its status line.
      el.setAttribute("class", "n st-" + status);
      var s = el.querySelector(".s"), title = el.querySelector("title");
      if (s) s.textContent = status;
      if (title) title.textContent = title.textContent.replace(/: [^:]*$/, ": " + status);
      return;
    }
    el.textContent = status;
    el.className = "st st-" + status;
  }
  function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }
  function attrEq(name, value) { return "[" + name + '="' + String(value).replace(/["\\]/g, "\\$&") + '"]'; }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function badge(status, attr, value) {
    var b = el("span", status, "st st-" + status);
    if (attr) b.setAttribute(attr, value);
    return b;
  }
  function when(ms) {
    return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function onRun(r) {
    all(attrEq("data-run-status", r.id)).forEach(function (b) { setStatus(b, r.status, r.version); });
    var body = document.getElementById("runs-body");
    if (body && r.created_at >= since && !document.querySelector("tr" + attrEq("data-run", r.id))) {
      var d = body.dataset;
      if ((!d.status || d.status === r.status) && (!d.platform || d.platform === r.platform) &&
          (!d.job || d.job === r.job_name)) {
        var tr = el("tr");
        tr.setAttribute("data-run", r.id);
        var a = el("a");
        a.appendChild(el("code", r.id));
        a.href = "/runs/" + encodeURIComponent(r.id);
        var c = [el("td"), el("td", r.job_name), el("td", r.platform), el("td"), el("td", when(r.created_at))];
        c[0].appendChild(a);
        var b = badge(r.status, "data-run-status", r.id);
        b.dataset.v = r.version;
        c[3].appendChild(b);
        c.forEach(function (x) { tr.appendChild(x); });
        body.insertBefore(tr, body.firstChild);
      }
    }
    var page = document.getElementById("run-page");
    if (page && page.dataset.run === r.id && r.version > Number(page.dataset.v)) {
      page.dataset.v = r.version;
      if (r.databricks_run_id) document.getElementById("dbx-run").textContent = r.databricks_run_id;
      var mon = document.getElementById("monitor");
      if (r.monitor_url && !mon.firstChild) {
        var link = el("a", "Open in Databricks");
        link.href = r.monitor_url; link.rel = "noopener"; link.target = "_blank";
        mon.appendChild(link);
      }
      if (r.error_message) document.getElementById("error").textContent = r.error_message;
      var tl = document.getElementById("timeline");
      var last = tl.lastElementChild;
      if (!last || last.dataset.status !== r.status) {
        var li = el("li", when(r.updated_at) + " — ");
        li.setAttribute("data-status", r.status);
        li.appendChild(badge(r.status));
        tl.appendChild(li);
      }
      var cancel = document.getElementById("cancel-form");
      if (cancel && terminal[r.status]) cancel.remove();
    }
  }

  function onTaskRun(t) {
    var key = t.dag_run_id + "/" + t.task.name;
    all(attrEq("data-task-status", key)).forEach(function (b) { setStatus(b, t.status, t.version); });
    all(attrEq("data-task-latest", t.task.name)).forEach(function (b) { setStatus(b, t.status); });
    // The attempt in flight: its line follows the task run (a retry adds
    // a line; ids and links come with a reload).
    var st = t.status === "Retrying" ? "Failed" : t.status;
    if (t.attempt < 1 || st === "Waiting" || st === "Queued") return;
    all(attrEq("data-task-attempts", key)).forEach(function (list) {
      var li = list.querySelector(attrEq("data-attempt", t.attempt));
      if (!li) {
        var hint = list.querySelector(".muted");
        if (hint) hint.remove();
        li = el("li", "#" + t.attempt + " ");
        li.setAttribute("data-attempt", t.attempt);
        li.appendChild(badge(st));
        list.appendChild(li);
      }
      var b = li.querySelector(".st");
      if (b) setStatus(b, st);
    });
  }
  function onDagRun(d) {
    all(attrEq("data-dag-status", d.id)).forEach(function (b) { setStatus(b, d.status, d.version); });
    var page = document.getElementById("dag-page");
    if (page && page.dataset.dag === d.id && terminal[d.status]) {
      var cancel = document.getElementById("cancel-dag-form");
      if (cancel) cancel.remove();
      if (d.ended_at) document.getElementById("dag-ended").textContent = when(d.ended_at);
    }
  }

  var lastFeed = {};
  function feed(ev) {
    var list = document.getElementById("feed");
    if (!list) return;
    var o = ev.run || ev.task_run || ev.dag_run;
    var at = ev.run ? o.updated_at : (o.ended_at || o.started_at || o.created_at || 0);
    if (at < since || lastFeed[o.id] === o.status) return;
    lastFeed[o.id] = o.status;
    var what = ev.run ? "run " + o.job_name : ev.task_run ? "task " + o.task.name : "DAG run " + o.root_task;
    var li = el("li", when(at) + " " + what + " ");
    var link = el("a", o.id.slice(-12));
    link.href = ev.run ? "/runs/" + encodeURIComponent(o.id) : ev.dag_run ? "/dag-runs/" + encodeURIComponent(o.id) : "/dag-runs/" + encodeURIComponent(o.dag_run_id);
    li.appendChild(link);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(badge(o.status));
    var hint = list.querySelector(".muted");
    if (hint) hint.remove();
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 50) list.removeChild(list.lastChild);
  }

  // Browsers allow six HTTP/1.1 connections per host: close the stream as
  // soon as the page is left, or a few visited pages starve the next ones.
  var es = new EventSource("/api/events");
  window.addEventListener("pagehide", function () { es.close(); });
  window.addEventListener("pageshow", function (e) { if (e.persisted) location.reload(); });
  es.onopen = function () { if (live) { live.textContent = "live"; live.className = "live on"; } };
  es.onerror = function () { if (live) { live.textContent = "reconnecting"; live.className = "live"; } };
  es.onmessage = function (m) {
    var ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    if (ev.kind === "run") onRun(ev.run);
    else if (ev.kind === "task_run") onTaskRun(ev.task_run);
    else if (ev.kind === "dag_run") onDagRun(ev.dag_run);
    feed(ev);
  };
})();
