/* A job's live log: Server-Sent Events from jobs/streams.py into a capped, auto-scrolling view.

   - Every piece of log text enters the page through textContent / text nodes, never as HTML.
   - ANSI SGR escapes (colours, bold, ...) become spans with classes; other escapes are dropped.
   - The EventSource resumes by itself with Last-Event-ID; if it gives up, a new one starts from
     the last offset (?from=), so no line is lost or shown twice.
   - At most MAX_LINES lines stay in the page; the full log is a download. */
(function () {
  "use strict";

  const MAX_LINES = 5000;
  const MAX_LINE_CHARS = 20000; // a longer line (or one without a newline) wraps into a new element
  const LABELS = { NotStarted: "Not started", CancelRequested: "Cancel requested" };
  const ESCAPES = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
  const PARTIAL_ESCAPE = /\x1b(?:\[[0-9;:?]*|\][^\x07\x1b]*)?$/;

  // -- ANSI SGR state ------------------------------------------------------------------------------

  function AnsiState() { this.reset(); }

  AnsiState.prototype.reset = function () {
    this.fg = null; this.bg = null; this.fgRgb = null; this.bgRgb = null;
    this.bold = false; this.dim = false; this.italic = false; this.underline = false; this.strike = false;
  };

  AnsiState.prototype.plain = function () {
    return !(this.fg || this.bg || this.fgRgb || this.bgRgb || this.bold || this.dim || this.italic || this.underline || this.strike);
  };

  function rgbOf256(n) {
    if (n < 16) return null;
    if (n >= 232) { const v = 8 + (n - 232) * 10; return [v, v, v]; }
    n -= 16;
    const steps = [0, 95, 135, 175, 215, 255];
    return [steps[Math.floor(n / 36)], steps[Math.floor(n / 6) % 6], steps[n % 6]];
  }

  function classOf16(n, base) { // 0-7 -> 30-37 (or 40-47), 8-15 -> 90-97 (or 100-107)
    return n < 8 ? base + n : base + 60 + (n - 8);
  }

  AnsiState.prototype.apply = function (raw) {
    const codes = raw === "" ? [0] : raw.split(/[;:]/).map(function (p) { return p === "" ? 0 : parseInt(p, 10); });
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) this.reset();
      else if (c === 1) this.bold = true;
      else if (c === 2) this.dim = true;
      else if (c === 3) this.italic = true;
      else if (c === 4) this.underline = true;
      else if (c === 9) this.strike = true;
      else if (c === 22) { this.bold = false; this.dim = false; }
      else if (c === 23) this.italic = false;
      else if (c === 24) this.underline = false;
      else if (c === 29) this.strike = false;
      else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) { this.fg = c; this.fgRgb = null; }
      else if (c === 39) { this.fg = null; this.fgRgb = null; }
      else if ((c >= 40 && c <= 47) || (c >= 100 && c <= 107)) { this.bg = c; this.bgRgb = null; }
      else if (c === 49) { this.bg = null; this.bgRgb = null; }
      else if (c === 38 || c === 48) {
        const fore = c === 38;
        let rgb = null, cls = null;
        if (codes[i + 1] === 5 && i + 2 < codes.length) {
          const n = codes[i + 2] & 255;
          rgb = rgbOf256(n);
          if (!rgb) cls = classOf16(n, fore ? 30 : 40);
          i += 2;
        } else if (codes[i + 1] === 2 && i + 4 < codes.length) {
          rgb = [codes[i + 2] & 255, codes[i + 3] & 255, codes[i + 4] & 255];
          i += 4;
        } else {
          break;
        }
        if (fore) { this.fg = cls; this.fgRgb = rgb; } else { this.bg = cls; this.bgRgb = rgb; }
      }
    }
  };

  AnsiState.prototype.span = function (text) {
    const span = document.createElement("span");
    const classes = [];
    if (this.fg) classes.push("ansi-fg-" + this.fg);
    if (this.bg) classes.push("ansi-bg-" + this.bg);
    if (this.bold) classes.push("ansi-bold");
    if (this.dim) classes.push("ansi-dim");
    if (this.italic) classes.push("ansi-italic");
    if (this.underline) classes.push("ansi-underline");
    if (this.strike) classes.push("ansi-strike");
    span.className = classes.join(" ");
    if (this.fgRgb) span.style.color = "rgb(" + this.fgRgb.join(",") + ")";
    if (this.bgRgb) span.style.backgroundColor = "rgb(" + this.bgRgb.join(",") + ")";
    span.textContent = text;
    return span;
  };

  // -- the view ------------------------------------------------------------------------------------

  function setStatus(state) {
    if (!state || !state.status) return;
    document.querySelectorAll("[data-job-status]").forEach(function (badge) {
      const large = badge.classList.contains("status-lg");
      badge.className = "status st-" + state.status.toLowerCase() + (large ? " status-lg" : "");
      badge.setAttribute("data-job-status", state.status);
      badge.textContent = LABELS[state.status] || state.status;
    });
  }

  function LogView(box) {
    this.box = box;
    this.root = box.closest(".log-box") || box.parentElement;
    this.stateLabel = this.root.querySelector("[data-log-state]");
    this.note = this.root.querySelector("[data-log-note]");
    this.followButton = this.root.querySelector("[data-follow]");
    this.ansi = new AnsiState();
    this.carry = "";        // an escape sequence cut at the end of an event
    this.pending = [];      // texts received since the last frame
    this.scheduled = false;
    this.open = null;       // the last line's element while it has no newline yet
    this.openLength = 0;
    this.follow = true;
    this.trimmed = false;
    this.lastId = null;
    this.from = parseInt(box.getAttribute("data-log-from") || "0", 10) || 0;
    this.skipPartialFirstLine = this.from > 0; // opened in the middle of a long log
    this.retryDelay = 1000;
    this.done = false;
    const view = this;
    box.addEventListener("scroll", function () {
      view.follow = view.atBottom();
      if (view.followButton) view.followButton.hidden = view.follow;
    });
    if (this.followButton) {
      this.followButton.addEventListener("click", function () {
        view.follow = true;
        view.followButton.hidden = true;
        box.scrollTop = box.scrollHeight;
      });
    }
    if (this.from > 0) this.showNote("The log is long: showing its end. Download it for the whole log.");
    this.connect();
  }

  LogView.prototype.atBottom = function () {
    return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 24;
  };

  LogView.prototype.say = function (text) { if (this.stateLabel) this.stateLabel.textContent = text; };

  LogView.prototype.showNote = function (text) {
    if (!this.note) return;
    this.note.textContent = text;
    this.note.hidden = false;
  };

  LogView.prototype.url = function () {
    const base = this.box.getAttribute("data-log-stream");
    const offset = this.lastId !== null ? this.lastId : this.from;
    return offset > 0 ? base + "?from=" + offset : base;
  };

  LogView.prototype.connect = function () {
    const view = this;
    const source = new EventSource(this.url());
    this.source = source;
    this.box._logView = this;
    this.say("Connecting…");
    source.onopen = function () { view.retryDelay = 1000; view.say("Live"); };
    source.addEventListener("log", function (event) {
      view.lastId = parseInt(event.lastEventId, 10);
      view.box.setAttribute("data-offset", event.lastEventId);
      view.push(event.data);
    });
    source.addEventListener("status", function (event) { setStatus(JSON.parse(event.data)); });
    source.addEventListener("end", function (event) {
      source.close();
      view.done = true;
      const final = JSON.parse(event.data);
      setStatus(final);
      view.flush();
      view.box.setAttribute("data-done", final.status);
      view.say("The job has ended (" + (LABELS[final.status] || final.status) + ")");
    });
    source.onerror = function () {
      if (view.done) return;
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. an error page instead of the stream): start again from the last offset.
        view.say("Reconnecting…");
        setTimeout(function () { if (!view.stopped) view.connect(); }, view.retryDelay);
        view.retryDelay = Math.min(view.retryDelay * 2, 30000);
      } else {
        view.say("Reconnecting…");
      }
    };
  };

  LogView.prototype.stop = function () {
    this.stopped = true;
    if (this.source) this.source.close();
  };

  LogView.prototype.push = function (text) {
    if (this.skipPartialFirstLine) {
      const newline = text.indexOf("\n");
      if (newline === -1) return;
      text = text.slice(newline + 1);
      this.skipPartialFirstLine = false;
    }
    this.pending.push(text);
    if (!this.scheduled) {
      this.scheduled = true;
      window.requestAnimationFrame(this.flush.bind(this));
    }
  };

  LogView.prototype.newLine = function (fragment) {
    const line = document.createElement("div");
    line.className = "ln";
    fragment.appendChild(line);
    this.open = line;
    this.openLength = 0;
    return line;
  };

  // Text of one line (no newline in it) into the open line, styled by the escapes it carries.
  LogView.prototype.render = function (line, text) {
    let last = 0;
    ESCAPES.lastIndex = 0;
    let match;
    while ((match = ESCAPES.exec(text)) !== null) {
      if (match.index > last) this.appendText(line, text.slice(last, match.index));
      if (match[2] === "m") this.ansi.apply(match[1]);
      last = ESCAPES.lastIndex;
    }
    if (last < text.length) this.appendText(line, text.slice(last));
  };

  LogView.prototype.appendText = function (line, text) {
    line.appendChild(this.ansi.plain() ? document.createTextNode(text) : this.ansi.span(text));
    this.openLength += text.length;
  };

  // Only the escapes of text that is not shown (older than the last MAX_LINES lines) matter.
  LogView.prototype.skim = function (text) {
    ESCAPES.lastIndex = 0;
    let match;
    while ((match = ESCAPES.exec(text)) !== null) { if (match[2] === "m") this.ansi.apply(match[1]); }
  };

  LogView.prototype.flush = function () {
    this.scheduled = false;
    if (!this.pending.length) return;
    let text = this.carry + this.pending.join("");
    this.pending = [];
    const partial = PARTIAL_ESCAPE.exec(text);
    this.carry = partial && !this.done ? partial[0] : "";
    if (this.carry) text = text.slice(0, text.length - this.carry.length);

    let pieces = text.split("\n");
    if (pieces.length > MAX_LINES + 1) {
      // More lines than the view keeps: the older ones are never drawn.
      this.skim(pieces.slice(0, pieces.length - MAX_LINES - 1).join("\n"));
      pieces = pieces.slice(pieces.length - MAX_LINES - 1);
      this.box.replaceChildren();
      this.open = null;
      this.trimmed = true;
    }
    const fragment = document.createDocumentFragment();
    const last = pieces.length - 1;
    for (let i = 0; i <= last; i++) {
      let piece = pieces[i];
      if (i > 0) this.open = null;  // the previous line ended with a newline
      if (piece === "" && i === last) break;
      if (this.open === null) this.newLine(fragment);
      while (this.openLength + piece.length > MAX_LINE_CHARS) {
        const room = MAX_LINE_CHARS - this.openLength;
        this.render(this.open, piece.slice(0, room));
        piece = piece.slice(room);
        this.newLine(fragment).classList.add("wrapped");
      }
      if (piece) this.render(this.open, piece);
    }
    this.box.appendChild(fragment);

    const excess = this.box.childElementCount - MAX_LINES;
    if (excess > 0) {
      const before = this.box.scrollHeight;
      for (let i = 0; i < excess; i++) this.box.firstElementChild.remove();
      this.trimmed = true;
      if (!this.follow) this.box.scrollTop -= before - this.box.scrollHeight;
    }
    if (this.trimmed) {
      this.box.setAttribute("data-trimmed", "true");
      this.showNote("Showing the last " + MAX_LINES.toLocaleString() + " lines; download the log for all of it.");
    }
    this.box.setAttribute("data-lines", String(this.box.childElementCount));
    if (this.follow) this.box.scrollTop = this.box.scrollHeight;
  };

  function init(root) {
    const boxes = [];
    if (root.matches && root.matches("[data-log-stream]")) boxes.push(root);
    if (root.querySelectorAll) root.querySelectorAll("[data-log-stream]").forEach(function (b) { boxes.push(b); });
    boxes.forEach(function (box) { if (!box._logView) new LogView(box); });
  }

  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    const target = event.target;
    if (target._logView) target._logView.stop();
    if (target.querySelectorAll) {
      target.querySelectorAll("[data-log-stream]").forEach(function (box) { if (box._logView) box._logView.stop(); });
    }
  });
  // When the job ends (the polled head says so), its uploaded files appear: list them again.
  let jobWasActive = null;
  function watchJobEnd() {
    const live = document.getElementById("job-live");
    if (!live) return;
    const active = live.getAttribute("data-active") === "true";
    const tree = document.getElementById("job-tree");
    if (jobWasActive && !active && tree && window.htmx) {
      htmx.ajax("GET", window.location.href, { target: "#job-tree", swap: "outerHTML" });
    }
    jobWasActive = active;
  }
  document.addEventListener("htmx:afterSettle", watchJobEnd);
  document.addEventListener("DOMContentLoaded", watchJobEnd);

  if (window.htmx) {
    htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  }
})();
