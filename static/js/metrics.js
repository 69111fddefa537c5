/* Metric charts (uPlot) for a job's Metrics tab and the Compare page.

   - The Metrics tab asks for each metric's point count (data-summary-url); a metric with several
     points gets a chart, a metric with one point goes in the single-value table.
   - While the job runs it asks again every data-poll-ms and fetches, for a metric whose count
     grew, only the points logged after the last one its chart has (`after_id=`); the server sends the whole,
     downsampled series instead when that is shorter, and the page keeps at most about 2000 points
     per series before it asks for the downsampled whole again. Polling stops when the job ends.
   - Options: x-axis (step, wall time, time since the series' first point), EMA smoothing (the
     raw line stays, faded), log scale, and one extra chart combining chosen metrics.
   - The Compare page draws one chart per metric with a line per job.
   - Steps are whole numbers: a step axis has ticks on whole steps only. The legend shows each
     line's latest value (and the x of the last point) until the pointer is on the chart. */
(function () {
  "use strict";

  const COLORS = ["#0078d4", "#d83b01", "#107c10", "#8764b8", "#008575", "#e3008c", "#986f0b", "#4f6bed", "#c239b3", "#ca5010"];
  const HEIGHT = 230;
  const MAX_KEPT = 2000;
  // Tick spacings of a step axis: whole numbers only (1, 2, 5, 10, 20, 50, ...).
  const WHOLE_INCRS = [];
  for (let m = 1; m <= 1e15; m *= 10) WHOLE_INCRS.push(m, 2 * m, 5 * m);

  // -- series data ---------------------------------------------------------------------------------

  /* One metric of one job, as fetched for one x unit ("step" or "time"). */
  function Store(url, key, unit) {
    this.url = url; this.key = key; this.unit = unit;
    this.x = []; this.y = []; this.count = -1; this.known = 0; this.lastId = null; this.loading = null;
  }

  Store.prototype.load = function (count) {
    if (this.loading) return this.loading;
    if (count !== undefined && count === this.count) return Promise.resolve(false);
    const self = this;
    const params = new URLSearchParams({ key: this.key, x: this.unit });
    if (this.lastId !== null && this.x.length < MAX_KEPT) params.set("after_id", String(this.lastId));
    this.loading = fetch(this.url + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        if (data.full) { self.x = data.x; self.y = data.y; self.known = data.count; }
        else { self.x = self.x.concat(data.x); self.y = self.y.concat(data.y); self.known += data.x.length; }
        self.lastId = data.last_id;
        // Points logged between the count and this answer are already here: count them too.
        self.count = Math.max(count === undefined ? 0 : count, self.known);
        return true;
      })
      .finally(function () { self.loading = null; });
    return this.loading;
  };

  function ema(values, weight) {
    if (!weight) return values;
    const out = new Array(values.length);
    let last = 0, n = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) { out[i] = null; continue; }
      last = last * weight + (1 - weight) * v;
      n += 1;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  function positive(values) {
    return values.map(function (v) { return v !== null && v > 0 ? v : null; });
  }

  // -- one chart -----------------------------------------------------------------------------------

  /* A card with a uPlot chart of `lines`: [{label, store}]. */
  function Chart(card, lines, options) {
    this.card = card; this.lines = lines; this.options = options;
    this.box = card.querySelector("[data-chart]");
    this.plot = null; this.shape = "";
  }

  Chart.prototype.data = function () {
    const opts = this.options;
    const tables = [];
    const series = [];
    this.lines.forEach(function (line, i) {
      const color = line.color || COLORS[i % COLORS.length];
      let xs = line.store.x;
      if (opts.x === "relative" && xs.length) { const first = xs[0]; xs = xs.map(function (v) { return v - first; }); }
      let raw = line.store.y;
      let smooth = ema(raw, opts.smoothing);
      if (opts.log) { raw = positive(raw); smooth = positive(smooth); }
      if (opts.smoothing) {
        tables.push([xs, raw]);
        series.push({ label: line.label + " (raw)", stroke: color + "40", width: 1, points: { show: false }, raw: true });
      }
      tables.push([xs, smooth]);
      series.push({ label: line.label, stroke: color, width: 1.6, points: { show: false } });
    });
    const joined = tables.length === 1 ? tables[0] : uPlot.join(tables);
    return { data: joined, series: series };
  };

  function formatValue(v) {
    if (v === null || v === undefined) return "--";
    return String(Number(v.toPrecision(6)));
  }

  function formatX(v, x) {
    if (v === null || v === undefined) return "--";
    if (x === "time") return new Date(v * 1000).toLocaleString();
    return x === "step" ? String(v) : formatValue(v);
  }

  /* While the pointer is off the chart, each legend row shows its line's latest value (uPlot's own
     legend would show "--"); the x row shows the last point's x. */
  function showLatest(u, x) {
    if (u.cursor.idx !== null && u.cursor.idx !== undefined) return;
    const rows = u.root.querySelectorAll(".u-legend .u-series");
    let lastX = null;
    for (let i = 1; i < u.data.length; i++) {
      const ys = u.data[i];
      let j = ys.length - 1;
      while (j >= 0 && (ys[j] === null || ys[j] === undefined)) j--;
      const cell = rows[i] && rows[i].querySelector(".u-value");
      if (cell) cell.textContent = j >= 0 ? formatValue(ys[j]) : "--";
      if (j >= 0 && (lastX === null || u.data[0][j] > lastX)) lastX = u.data[0][j];
    }
    const xCell = rows[0] && rows[0].querySelector(".u-value");
    if (xCell) xCell.textContent = formatX(lastX, x);
  }

  Chart.prototype.draw = function () {
    const built = this.data();
    const points = this.lines.reduce(function (n, line) { return n + line.store.x.length; }, 0);
    this.card.dataset.points = String(points);
    this.card.dataset.logged = String(this.lines.reduce(function (n, line) { return n + Math.max(line.store.count, 0); }, 0));
    const shape = JSON.stringify([this.options, built.series.map(function (s) { return s.label; })]);
    if (this.plot && shape === this.shape) { this.plot.setData(built.data); showLatest(this.plot, this.options.x); return; }
    if (this.plot) this.plot.destroy();
    this.shape = shape;
    const opts = this.options;
    const xLabel = opts.x === "step" ? "Step" : opts.x === "time" ? "Wall time" : "Seconds";
    const card = this.card;
    const xAxis = { stroke: "#605e5c", grid: { stroke: "#edebe9" }, ticks: { stroke: "#e1dfdd" } };
    if (opts.x === "step") {
      xAxis.incrs = WHOLE_INCRS;
      xAxis.values = function (u, splits) {
        card.dataset.xTicks = splits.join(" ");
        return splits.map(function (v) { return v.toLocaleString(); });
      };
    }
    this.plot = new uPlot({
      width: Math.max(this.box.clientWidth, 200),
      height: HEIGHT,
      scales: { x: { time: opts.x === "time" }, y: { distr: opts.log ? 3 : 1 } },
      series: [{ label: xLabel }].concat(built.series),
      axes: [xAxis, { stroke: "#605e5c", size: 64, grid: { stroke: "#edebe9" }, ticks: { stroke: "#e1dfdd" } }],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: { setLegend: [function (u) { showLatest(u, opts.x); }] },
    }, built.data, this.box);
    showLatest(this.plot, opts.x);
    const rows = this.plot.root.querySelectorAll(".u-legend .u-series");
    built.series.forEach(function (s, i) { if (s.raw && rows[i + 1]) rows[i + 1].hidden = true; });
  };

  Chart.prototype.resize = function () {
    if (this.plot) this.plot.setSize({ width: Math.max(this.box.clientWidth, 200), height: HEIGHT });
  };

  function chartCard(title, attrs) {
    const card = document.createElement("section");
    card.className = "card chart-card";
    Object.keys(attrs || {}).forEach(function (k) { card.setAttribute(k, attrs[k]); });
    const h = document.createElement("h2");
    h.textContent = title;
    const box = document.createElement("div");
    box.className = "chart";
    box.setAttribute("data-chart", "");
    card.append(h, box);
    return card;
  }

  // -- options -------------------------------------------------------------------------------------

  function readOptions(root) {
    const get = function (name) { return root.querySelector('[data-option="' + name + '"]'); };
    return { x: get("x").value, smoothing: parseFloat(get("smoothing").value) || 0, log: get("log").checked };
  }

  function watchOptions(root, onChange) {
    root.querySelectorAll("[data-option]").forEach(function (input) {
      input.addEventListener("input", function () {
        const out = root.querySelector("[data-smoothing-value]");
        if (out) out.textContent = root.querySelector('[data-option="smoothing"]').value;
        onChange(readOptions(root));
      });
    });
  }

  function unitOf(x) { return x === "step" ? "step" : "time"; }

  // -- a job's Metrics tab -------------------------------------------------------------------------

  function JobMetrics(root) {
    this.root = root;
    this.summaryUrl = root.dataset.summaryUrl;
    this.seriesUrl = root.dataset.seriesUrl;
    this.pollMs = parseInt(root.dataset.pollMs, 10) || 1500;
    this.active = root.dataset.active === "true";
    this.options = readOptions(root);
    this.stores = {};
    this.charts = {};      // key -> Chart
    this.combined = null;  // the chart of chosen metrics
    this.chosen = [];
    this.counts = {};
    this.grid = root.querySelector("[data-charts]");
  }

  JobMetrics.prototype.store = function (key) {
    const unit = unitOf(this.options.x);
    const id = unit + "|" + key;
    if (!this.stores[id]) this.stores[id] = new Store(this.seriesUrl, key, unit);
    return this.stores[id];
  };

  JobMetrics.prototype.start = function () {
    const self = this;
    watchOptions(this.root, function (options) {
      self.options = options;
      Object.values(self.charts).forEach(function (chart) { chart.options = options; });
      self.refresh(true);
    });
    window.addEventListener("resize", function () { self.allCharts().forEach(function (c) { c.resize(); }); });
    this.tick();
  };

  JobMetrics.prototype.allCharts = function () {
    return Object.values(this.charts).concat(this.combined ? [this.combined] : []);
  };

  JobMetrics.prototype.tick = function () {
    const self = this;
    fetch(this.summaryUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (summary) {
        self.active = summary.active;
        self.root.dataset.active = String(summary.active);
        self.root.querySelector("[data-live-note]").hidden = !summary.active;
        self.counts = {};
        summary.metrics.forEach(function (m) { self.counts[m.key] = m.count; });
        self.showSingles(summary.metrics.filter(function (m) { return m.count <= 1; }));
        self.root.querySelector("[data-empty]").hidden = summary.metrics.length > 0;
        return self.refresh(false);
      })
      .catch(function () { /* a failed poll is retried on the next tick */ })
      .finally(function () {
        if (self.active) setTimeout(function () { self.tick(); }, self.pollMs);
      });
  };

  JobMetrics.prototype.showSingles = function (rows) {
    const section = this.root.querySelector("[data-single]");
    const body = section.querySelector("tbody");
    body.replaceChildren();
    rows.forEach(function (m) {
      const tr = document.createElement("tr");
      const cells = [m.key, m.text, String(m.step), new Date(m.timestamp).toLocaleString()];
      cells.forEach(function (text, i) {
        const td = document.createElement("td");
        if (i === 1 || i === 2) td.className = "num";
        td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    section.hidden = rows.length === 0;
  };

  /* Fetch what is new for each charted metric and redraw; `reset` after an option changed. */
  JobMetrics.prototype.refresh = function (reset) {
    const self = this;
    const keys = Object.keys(this.counts).filter(function (k) { return self.counts[k] > 1; }).sort();
    keys.forEach(function (key) {
      if (!self.charts[key]) {
        const card = chartCard(key, { "data-metric": key });
        self.grid.appendChild(card);
        self.charts[key] = new Chart(card, [], self.options);
      }
    });
    Object.keys(this.charts).forEach(function (key) {
      if (!keys.includes(key)) { self.charts[key].card.remove(); delete self.charts[key]; }
    });
    this.updateOverlayChoices(keys);
    return Promise.all(keys.map(function (key) {
      const chart = self.charts[key];
      const store = self.store(key);
      chart.lines = [{ label: key, store: store }];
      return store.load(self.counts[key]).then(function (changed) {
        if (changed || reset || !chart.plot) chart.draw();
      });
    })).then(function () { self.drawCombined(reset); });
  };

  JobMetrics.prototype.updateOverlayChoices = function (keys) {
    const menu = this.root.querySelector("[data-overlay-choices]");
    if (!menu) return;
    const have = Array.from(menu.querySelectorAll("input")).map(function (i) { return i.value; });
    if (have.join("\n") === keys.join("\n")) return;
    const self = this;
    menu.replaceChildren();
    if (!keys.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No metrics with several points yet.";
      menu.appendChild(p);
      return;
    }
    keys.forEach(function (key) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = key;
      input.checked = self.chosen.includes(key);
      input.addEventListener("change", function () {
        self.chosen = Array.from(menu.querySelectorAll("input:checked")).map(function (i) { return i.value; });
        self.drawCombined(true);
      });
      label.append(input, document.createTextNode(" " + key));
      menu.appendChild(label);
    });
  };

  JobMetrics.prototype.drawCombined = function (reset) {
    const self = this;
    const chosen = this.chosen.filter(function (k) { return self.charts[k]; });
    if (chosen.length < 2) {
      if (this.combined) { this.combined.card.remove(); this.combined = null; }
      return;
    }
    if (!this.combined) {
      const card = chartCard("", { "data-testid": "combined-chart" });
      card.classList.add("combined");
      this.grid.prepend(card);
      this.combined = new Chart(card, [], this.options);
    }
    this.combined.card.querySelector("h2").textContent = chosen.join(" · ");
    this.combined.options = this.options;
    this.combined.lines = chosen.map(function (key) { return { label: key, store: self.store(key) }; });
    this.combined.draw();
  };

  // -- the Compare page ----------------------------------------------------------------------------

  function Compare(root) {
    this.root = root;
    this.jobs = JSON.parse(document.getElementById("compare-jobs").textContent);
    this.options = readOptions(root);
    this.charts = [];
  }

  Compare.prototype.start = function () {
    const self = this;
    this.root.querySelectorAll("[data-compare-key]").forEach(function (card) {
      self.charts.push(new Chart(card, [], self.options));
    });
    watchOptions(this.root, function (options) { self.options = options; self.load(); });
    window.addEventListener("resize", function () { self.charts.forEach(function (c) { c.resize(); }); });
    this.load();
  };

  Compare.prototype.load = function () {
    const self = this;
    const unit = unitOf(this.options.x);
    this.charts.forEach(function (chart) {
      const key = chart.card.dataset.compareKey;
      chart.options = self.options;
      chart.lines = self.jobs.map(function (job, i) {
        return { label: job.label, color: COLORS[i % COLORS.length], store: new Store(job.series_url, key, unit) };
      });
      Promise.all(chart.lines.map(function (line) { return line.store.load(); }))
        .then(function () { chart.draw(); })
        .catch(function () { chart.card.querySelector("[data-chart]").textContent = "The chart could not be loaded."; });
    });
  };

  function onlyDifferences() {
    const toggle = document.querySelector("[data-only-differences]");
    if (!toggle) return;
    toggle.addEventListener("change", function () {
      document.getElementById("compare").classList.toggle("only-differences", toggle.checked);
    });
  }

  function paintSwatches() {
    document.querySelectorAll("[data-swatch]").forEach(function (el) {
      el.style.background = COLORS[parseInt(el.dataset.swatch, 10) % COLORS.length];
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const job = document.getElementById("job-metrics");
    if (job) new JobMetrics(job).start();
    const compare = document.getElementById("compare-charts");
    if (compare) new Compare(compare).start();
    onlyDifferences();
    paintSwatches();
  });
})();
