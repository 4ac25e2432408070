/* The ask page's live answer (partials/live.html): reads the analysis's event stream
   (server-sent events, strategist/streams/events.py) and writes the answer as it arrives.
   Model output is data: it goes in as text nodes and textContent only, never as markup.
   Each routing decision and attempt is a stage line (a failover shows as a failed
   attempt, then the next one); `restart` discards the text shown; on `done` the rest of
   the panel (route, cost, confidence, citations, feedback) is the server's fragment.
   When the stream cannot be read, the polling partial takes over (data-progress). */
(function () {
  "use strict";

  var open = null;

  function part(panel, name) { return panel.querySelector('[data-testid="' + name + '"]'); }

  function stage(panel, text) {
    var item = document.createElement("li");
    item.setAttribute("data-testid", "stage");
    item.textContent = text;
    part(panel, "stages").appendChild(item);
  }

  function state(panel, text) { part(panel, "live-state").textContent = text; }

  function routing(d) {
    var c = d.classification || {};
    var tier = c.tier || c.analysis_type || "unclassified";
    var p = (c.tier_probabilities || {})[c.tier];
    var odds = typeof p === "number" ? " (" + Math.round(p * 100) + " %)" : "";
    var route = (d.route || []).map(function (s) { return s.provider + "/" + s.model; }).join(", then ");
    var head = d.escalation_round ? "Escalated (round " + d.escalation_round + "): " : "Classified: ";
    return head + tier + odds + (route ? "; route " + route : "");
  }

  function attempt(d, showErrors) {
    var name = d.provider + "/" + d.model;
    var why = d.error_kind || "no reason given";
    if (showErrors && d.error_message) { why += ": " + d.error_message; }
    if (d.status === "skipped") { return "Skipped " + name + " (" + why + ")"; }
    var head = "Attempt " + d.attempt_number + ": " + name;
    if (d.status === "started") { return head + " called"; }
    if (d.status === "succeeded") {
      var first = typeof d.first_token_ms === "number" ? ", first words after " + Math.round(d.first_token_ms) + " ms" : "";
      return head + " answered" + first;
    }
    return head + " failed (" + why + ")";
  }

  function fallBack(panel) {
    if (typeof htmx === "undefined") { return; }
    htmx.ajax("GET", panel.dataset.progress, { target: panel, swap: "outerHTML" });
  }

  function finish(panel, text, body) {
    if (text.textContent !== body.result) { text.textContent = body.result || ""; }
    text.dataset.state = "done";
    panel.setAttribute("aria-busy", "false");
    state(panel, "Done.");
    if (typeof htmx !== "undefined") {
      htmx.ajax("GET", panel.dataset.facts, { target: part(panel, "answer-facts"), swap: "innerHTML" });
    }
  }

  function follow(panel) {
    if (open) { open.close(); }
    if (typeof EventSource === "undefined") { fallBack(panel); return; }
    var text = part(panel, "answer");
    var showErrors = panel.dataset.showErrors === "1";
    var source = new EventSource(panel.dataset.events);
    open = source;
    var on = function (name, handle) {
      source.addEventListener(name, function (event) { handle(JSON.parse(event.data)); });
    };
    on("routing", function (d) { stage(panel, routing(d)); });
    on("attempt", function (d) {
      stage(panel, attempt(d, showErrors));
      if (d.status === "started") { state(panel, "Waiting for " + d.provider + "/" + d.model + "…"); }
    });
    on("delta", function (d) {
      text.appendChild(document.createTextNode(d.text));
      text.dataset.state = "writing";
      state(panel, "Writing…");
    });
    on("restart", function (d) {
      text.textContent = "";
      text.dataset.restarts = String(Number(text.dataset.restarts || 0) + 1);
      stage(panel, "Restarted: " + d.reason);
    });
    on("confidence", function (d) {
      if (typeof d.score === "number") { stage(panel, "Scored: confidence " + d.score.toFixed(2)); }
    });
    on("done", function (body) { source.close(); open = null; finish(panel, text, body); });
    source.addEventListener("error", function (event) {
      if (event.data !== undefined) {  // the stream's own `error` event: the answer panel says why
        source.close(); open = null; fallBack(panel); return;
      }
      if (source.readyState === EventSource.CLOSED) { open = null; fallBack(panel); return; }
      state(panel, "Connection lost; reconnecting…");  // the browser resumes with Last-Event-ID
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var panel = event.target.querySelector && event.target.querySelector("[data-events]");
      if (panel) { follow(panel); }
    });
  });
}());
