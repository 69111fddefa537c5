/* Parts of a page the server pushes changes to (Server-Sent Events from core.streams.ChangeEventStream).

   <div id="job-live" data-live-stream="/…/events" data-live-refresh="/…/?tab=overview" data-status="Running">
   <section id="jobs-live" data-live-stream="/…/events?from=41" data-live-target="jobs-table">
     <div id="jobs-table" data-live-refresh="?status=Running">

   Each event from the stream fetches the target (data-live-target, else the element itself) again
   (htmx, outerHTML) from the target's data-live-refresh; an event whose JSON names the status the
   target already shows (data-status) is skipped. At most one
   fetch runs at a time and events arriving meanwhile are folded into one more. `end` closes the
   stream, and so does a new element without data-live-stream (the job has ended).
   The EventSource reconnects by itself with Last-Event-ID; when the browser gives up on it (an error
   answer), a new one starts from the last id (?from=) after a growing delay, and the element is
   fetched once so that nothing missed while it was down stays unseen. */
(function () {
  "use strict";

  const streams = {}; // element id -> state

  function current(id) { return document.getElementById(id); }

  function refresh(state) {
    if (state.busy) { state.again = true; return; }
    const target = current(state.target);
    if (!target || !window.htmx) return;
    state.busy = true;
    htmx.ajax("GET", target.getAttribute("data-live-refresh"), { target: "#" + state.target, swap: "outerHTML" })
      .catch(function () {})
      .then(function () {
        state.busy = false;
        if (state.again) { state.again = false; refresh(state); }
      });
  }

  function onEvent(state, event) {
    if (event.lastEventId) state.lastId = event.lastEventId;
    const target = current(state.target);
    if (!target) return;
    let data = null;
    try { data = JSON.parse(event.data); } catch (e) { data = null; }
    const shown = target.getAttribute("data-status");
    if (shown && data && data.status === shown && !state.again) return;
    refresh(state);
  }

  function connect(state) {
    const url = new URL(state.url, window.location.href);
    if (state.lastId) url.searchParams.set("from", state.lastId);
    const source = new EventSource(url.toString());
    state.source = source;
    source.onopen = function () { state.delay = 1000; };
    ["status", "change"].forEach(function (name) {
      source.addEventListener(name, function (event) { onEvent(state, event); });
    });
    source.addEventListener("end", function (event) { onEvent(state, event); close(state); });
    source.onerror = function () {
      if (state.closed || source.readyState !== EventSource.CLOSED) return; // CONNECTING: it retries by itself
      setTimeout(function () {
        if (state.closed) return;
        connect(state);
        refresh(state);
      }, state.delay);
      state.delay = Math.min(state.delay * 2, 30000);
    };
  }

  function close(state) {
    state.closed = true;
    if (state.source) state.source.close();
    delete streams[state.id];
  }

  function scan() {
    Object.keys(streams).forEach(function (id) {
      const element = current(id);
      if (!element || !element.hasAttribute("data-live-stream")) close(streams[id]);
    });
    document.querySelectorAll("[data-live-stream][id]").forEach(function (element) {
      const id = element.id;
      const url = element.getAttribute("data-live-stream");
      if (streams[id] && streams[id].url === url) return;
      if (streams[id]) close(streams[id]);
      const target = element.getAttribute("data-live-target") || id;
      streams[id] = { id: id, target: target, url: url, delay: 1000, lastId: null, busy: false, again: false, closed: false };
      connect(streams[id]);
    });
  }

  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:afterSettle", scan);
  window.addEventListener("pagehide", function () {
    Object.keys(streams).forEach(function (id) { close(streams[id]); });
  });
})();
