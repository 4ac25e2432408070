/* The console's behaviour (no inline script: the CSP forbids it). Configuration comes
   from data-* attributes: data-chart + data-points/data-source for charts, data-stream
   for the live provider table. Times are shown in the viewer's time zone. */
(function () {
  "use strict";

  var COLOURS = { healthy: "#1b7a3a", degraded: "#a35a00", down: "#b3261e", unknown: "#5f6368" };
  var SERIES = ["#1a5fb4", "#b3261e", "#1b7a3a", "#a35a00", "#6a3d9a", "#5f6368"];

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.localised) { return; }
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      el.title = el.textContent;
      el.textContent = when.toLocaleString();
      el.dataset.localised = "1";
    });
  }

  function draw(canvas, config, points) {
    if (typeof Chart === "undefined") { return; }
    var old = Chart.getChart(canvas);
    if (old) { old.destroy(); }
    config.options = Object.assign({ animation: false, maintainAspectRatio: false }, config.options || {});
    new Chart(canvas, config);
    canvas.dataset.points = JSON.stringify(points);
    canvas.dataset.drawn = String(points.length);
  }

  var builders = {
    timeline: function (points) {
      return {
        type: "bar",
        data: {
          labels: points.map(function (p) { return p.label; }),
          datasets: [{ label: "ms from the start", backgroundColor: SERIES[0], minBarLength: 4,
                       data: points.map(function (p) { return [p.start, p.end]; }) }]
        },
        options: { indexAxis: "y", scales: { x: { title: { display: true, text: "ms" } } } }
      };
    },
    savings: function (body) {
      var days = body.days;
      return {
        type: "line",
        data: {
          labels: days.map(function (d) { return d.day; }),
          datasets: [
            { label: "cost (USD)", borderColor: SERIES[0], backgroundColor: SERIES[0], data: days.map(function (d) { return d.cost_usd; }) },
            { label: "all-Pro estimate (USD)", borderColor: SERIES[1], backgroundColor: SERIES[1], data: days.map(function (d) { return d.baseline_usd; }) }
          ]
        }
      };
    },
    tiers: function (body) {
      var days = [], tiers = [], counts = {};
      body.tiers.forEach(function (r) {
        if (days.indexOf(r.day) < 0) { days.push(r.day); }
        if (tiers.indexOf(r.tier) < 0) { tiers.push(r.tier); }
        counts[r.day + "|" + r.tier] = r.n;
      });
      return {
        type: "bar",
        data: {
          labels: days,
          datasets: tiers.map(function (t, i) {
            return { label: t, backgroundColor: SERIES[i % SERIES.length],
                     data: days.map(function (d) { return counts[d + "|" + t] || 0; }) };
          })
        },
        options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "analyses" } } } }
      };
    },
    reliability: function (body) {
      var bins = body.calibration.bins;
      return {
        type: "scatter",
        data: {
          datasets: [
            { label: "bins", backgroundColor: SERIES[0], data: bins.map(function (b) { return { x: b.mean_score, y: b.share_right }; }) },
            { label: "perfect", type: "line", borderColor: SERIES[5], pointRadius: 0, data: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }
          ]
        },
        options: { scales: { x: { min: 0, max: 1, title: { display: true, text: "mean confidence" } },
                             y: { min: 0, max: 1, title: { display: true, text: "share rated correct" } } } }
      };
    },
    "provider-history": function (body) {
      var since = Date.parse(body.since), until = Date.parse(body.until), labels = [], data = [], colours = [];
      Object.keys(body.providers).forEach(function (name) {
        var changes = body.providers[name];
        changes.forEach(function (c, i) {
          var start = Math.max(Date.parse(c.at), since);
          var end = i + 1 < changes.length ? Date.parse(changes[i + 1].at) : until;
          labels.push(name);
          data.push({ x: [(start - since) / 60000, (end - since) / 60000], y: name, state: c.state });
          colours.push(COLOURS[c.state] || COLOURS.unknown);
        });
      });
      return {
        type: "bar",
        data: { datasets: [{ label: "state (green healthy, orange degraded, red down)", data: data, backgroundColor: colours, minBarLength: 2 }] },
        options: { indexAxis: "y", scales: { x: { min: 0, max: 60, title: { display: true, text: "minutes in the last hour" } },
                                             y: { type: "category", labels: Object.keys(body.providers) } } }
      };
    }
  };

  function points(kind, body) {
    if (kind === "savings") { return body.days; }
    if (kind === "tiers") { return body.tiers; }
    if (kind === "reliability") { return body.calibration.bins; }
    if (kind === "provider-history") {
      return Object.keys(body.providers).reduce(function (all, k) { return all.concat(body.providers[k]); }, []);
    }
    return body;
  }

  function charts(root) {
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var kind = canvas.dataset.chart, build = builders[kind];
      if (!build) { return; }
      if (canvas.hasAttribute("data-points") && !canvas.dataset.source) {
        var given = JSON.parse(canvas.getAttribute("data-points"));
        draw(canvas, build(given), given);
        return;
      }
      fetch(canvas.dataset.source, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (body) { draw(canvas, build(body), points(kind, body)); })
        .catch(function () { canvas.dataset.drawn = "error"; });
    });
  }

  function circuits(cell, provider, models) {  // the dispatchers' breakers, as text
    var list = document.createElement("ul");
    list.className = "circuits";
    models.forEach(function (c) {
      var item = document.createElement("li"), state = document.createElement("span"), why = document.createElement("span");
      item.setAttribute("data-testid", "circuit-" + provider + "-" + c.model);
      item.dataset.circuit = c.state;
      state.className = "circuit-" + c.state;
      state.textContent = c.state;
      why.className = "muted";
      why.textContent = "(" + c.detail + ")";
      item.append(c.model + ": ", state, " ", why);
      list.appendChild(item);
    });
    cell.replaceChildren(list);
  }

  function liveProviders(root) {
    var table = root.querySelector("[data-stream]");
    var label = document.getElementById("stream-state");
    if (!table || typeof EventSource === "undefined") { return; }
    var source = new EventSource(table.dataset.stream);
    source.addEventListener("open", function () { if (label) { label.textContent = "live"; } });
    source.addEventListener("error", function () { if (label) { label.textContent = "reconnecting"; } });
    source.addEventListener("status", function (event) {
      var s = JSON.parse(event.data);
      var cell = table.querySelector('[data-state-of="' + CSS.escape(s.provider) + '"]');
      if (cell) {
        cell.textContent = s.state;
        cell.className = "state state-" + s.state;
      }
      var circuit = table.querySelector('[data-circuit-of="' + CSS.escape(s.provider) + '"]');
      if (circuit && s.circuits) { circuits(circuit, s.provider, s.circuits); }
      var why = table.querySelector('[data-reason-of="' + CSS.escape(s.provider) + '"]');
      if (why) { why.textContent = s.reason || "-"; }
    });
  }

  function enhance(root) { localTimes(root); charts(root); }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    liveProviders(document);
    document.body.addEventListener("htmx:afterSwap", function (event) { enhance(event.target); });
    document.body.addEventListener("htmx:responseError", function (event) {
      var target = event.detail.target;
      if (target && event.detail.xhr && event.detail.xhr.responseText) {
        target.innerHTML = event.detail.xhr.responseText;
      }
    });
  });
}());
