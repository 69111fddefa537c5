/* Environments: the build log, streamed live with Server-Sent Events (studio/streams.py).
   Log text is only ever set as textContent, never parsed as HTML. */
(function () {
  "use strict";

  const MAX_LINES = 5000; // older lines leave the page (the full log stays downloadable)
  const LABELS = { NotStarted: "Not started", Building: "Building", Succeeded: "Succeeded", Failed: "Failed" };
  const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (.*)$/;

  function setStatus(state) {
    if (!state || !state.status) return;
    document.querySelectorAll("[data-build-status]").forEach(function (tag) {
      tag.className = tag.className.replace(/\bstatus-\S+/g, "") + " status-" + state.status.toLowerCase();
      tag.setAttribute("data-build-status", state.status);
      tag.textContent = LABELS[state.status] || state.status;
    });
    document.querySelectorAll("[data-build-error]").forEach(function (box) {
      box.textContent = state.error || "";
      box.hidden = !state.error;
    });
    document.querySelectorAll("[data-show-on-status]").forEach(function (el) {
      el.hidden = el.getAttribute("data-show-on-status") !== state.status;
    });
  }

  function lineElement(text) {
    const line = document.createElement("span");
    line.className = "line";
    const match = STAMP.exec(text);
    if (match) {
      const time = document.createElement("span");
      time.className = "time";
      time.textContent = match[1].slice(11, 19) + " ";
      time.title = match[1];
      line.appendChild(time);
      line.appendChild(document.createTextNode(match[2] + "\n"));
    } else {
      line.textContent = text + "\n";
    }
    return line;
  }

  function connect(pre) {
    if (pre._source) return;
    const state = document.querySelector("[data-log-state]");
    const say = function (text) { if (state) state.textContent = text; };
    let pending = [];
    let scheduled = false;

    function flush() {
      scheduled = false;
      const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
      const fragment = document.createDocumentFragment();
      pending.forEach(function (text) { fragment.appendChild(lineElement(text)); });
      pending = [];
      pre.appendChild(fragment);
      let trimmed = false;
      while (pre.childElementCount > MAX_LINES) { pre.firstElementChild.remove(); trimmed = true; }
      if (trimmed) pre.setAttribute("data-trimmed", "true");
      pre.setAttribute("data-lines", String(pre.childElementCount));
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }

    const source = new EventSource(pre.getAttribute("data-log-stream"));
    pre._source = source;
    say("Connecting…");
    source.onopen = function () { say("Live"); };
    source.onmessage = function (event) {
      pending.push(event.data);
      if (!scheduled) { scheduled = true; window.requestAnimationFrame(flush); }
    };
    source.addEventListener("status", function (event) { setStatus(JSON.parse(event.data)); });
    source.addEventListener("end", function (event) {
      source.close();
      const final = JSON.parse(event.data);
      setStatus(final);
      flush();
      pre.setAttribute("data-done", final.status);
      say("Build finished");
    });
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) say("Reconnecting…");
    };
  }

  function init(root) {
    if (root.matches && root.matches("[data-log-stream]")) connect(root);
    if (root.querySelectorAll) root.querySelectorAll("[data-log-stream]").forEach(connect);
  }

  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    if (event.target._source) event.target._source.close();
  });
  if (window.htmx) {
    htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  }
})();
