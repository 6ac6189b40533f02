/* adrec dashboard: draws a run's views with Chart.js (shipped with adrec, MIT).
 *
 * Served by an app (/dashboard/), the data come from the JSON endpoints under ./api/; in a
 * report written by `adrec report` they are embedded in the page (#adrec-data, and each
 * user's series in #adrec-users, compressed, unpacked when a user is first shown). Colours: Okabe-Ito,
 * safe for the common colour-vision deficiencies; series also differ by dash and marker.
 */
(function () {
  "use strict";

  const C = {
    blue: "#0072B2", orange: "#E69F00", green: "#009E73", vermillion: "#D55E00",
    sky: "#56B4E9", purple: "#CC79A7", yellow: "#F0E442", black: "#000000", grey: "#8a8a8a",
  };
  const SOURCE_COLOURS = [C.blue, C.orange, C.green, C.purple, C.sky, C.vermillion, C.yellow];
  const VARIANTS = {
    "best fixed blend": { color: C.black, dash: [7, 4], point: "rect", order: 0 },
    "anomaly-aware rule": { color: C.vermillion, dash: [], point: "circle", order: 1 },
    "learned gate": { color: C.blue, dash: [2, 3], point: "triangle", order: 2 },
  };
  const DAY = 86400;
  const GRID = "#e4e4e4";
  const charts = {};
  const ready = {};
  window.adrecCharts = charts;
  window.adrecReady = ready;

  // -- where the data come from ---------------------------------------------------------
  const embedded = document.getElementById("adrec-data");
  const source = embedded ? embeddedSource(JSON.parse(embedded.textContent)) : httpSource();

  function httpSource() {
    async function get(path) {
      const r = await fetch("api/" + path, { headers: { Accept: "application/json" } });
      if (r.status === 202) return { pending: true };
      if (!r.ok) throw new Error("GET api/" + path + ": HTTP " + r.status);
      return r.json();
    }
    return {
      mode: "served",
      summary: () => get("summary"),
      population: () => get("population"),
      accuracy: () => get("accuracy"),
      users: (q, limit) => get("users?q=" + encodeURIComponent(q) + "&limit=" + limit),
      user: (key) => get("users/" + encodeURIComponent(key)),
      live: () => get("live"),
    };
  }

  // The report's per-user series: gzip-compressed JSON in base64, unpacked once, when the
  // first user is shown (DecompressionStream: every current browser, no library).
  async function unpack(id) {
    const text = document.getElementById(id).textContent.trim();
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).json();
  }

  function embeddedSource(D) {
    let series = null;
    return {
      mode: "report",
      summary: async () => D.summary,
      population: async () => D.population,
      accuracy: async () => D.accuracy,
      users: async (q, limit) => {
        const query = q.trim().toLowerCase();
        let hit = D.users;
        if (query) {
          hit = D.users.filter((u) => u.key.toLowerCase().includes(query));
          hit.sort((a, b) => (b.key.toLowerCase() === query) - (a.key.toLowerCase() === query));
        }
        return { total: D.users.length, matched: hit.length, users: hit.slice(0, limit) };
      },
      user: async (key) => {
        if (!series) series = unpack("adrec-users");
        const all = await series;
        if (!(key in all)) throw new Error("no series for user " + key);
        return all[key];
      },
      live: D.live ? async () => D.live : null,
      generated: D.generated,
    };
  }

  // -- formatting -----------------------------------------------------------------------
  const iso = (t) => new Date(t * 1000).toISOString();
  const fmtDay = (t) => iso(t).slice(0, 10);
  const fmtTime = (t) => iso(t).slice(0, 16).replace("T", " ");
  const fmtClock = (t) => iso(t).slice(11, 19);
  const pct = (v, d = 1) => (v === null || v === undefined ? "–" : (100 * v).toFixed(d) + "%");
  const num = (v, d = 3) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
  const int = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString("en"));
  const alpha = (hex, a) => {
    const n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c));
    return e;
  }

  function showError(panel, err) {
    console.error(err);
    const p = el("p", { class: "error" }, "Could not load this panel: " + err.message);
    $(panel).append(p);
  }

  // -- Chart.js setup -------------------------------------------------------------------
  Chart.defaults.font.size = 13;
  Chart.defaults.color = "#333";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  Chart.defaults.plugins.legend.position = "top";
  Chart.defaults.plugins.legend.align = "start";
  Chart.defaults.plugins.legend.labels.usePointStyle = true;
  Chart.defaults.plugins.legend.labels.boxHeight = 9;

  // Shaded x ranges (detected episodes) and vertical lines (threshold, life events) with
  // a label at the top, drawn inside the plot area; adrec's own small plugin.
  Chart.register({
    id: "adrecMarkers",
    defaults: { ranges: [], vlines: [] },
    beforeDatasetsDraw(chart, _args, opts) {
      const { ctx, chartArea: a, scales } = chart;
      for (const r of opts.ranges) {
        const x0 = Math.max(a.left, scales.x.getPixelForValue(r.from));
        const x1 = Math.min(a.right, scales.x.getPixelForValue(r.to));
        if (x1 < a.left || x0 > a.right) continue;
        ctx.save();
        ctx.fillStyle = r.color;
        ctx.fillRect(x0, a.top, Math.max(x1 - x0, 3), a.bottom - a.top);
        ctx.restore();
      }
    },
    afterDatasetsDraw(chart, _args, opts) {
      const { ctx, chartArea: a, scales } = chart;
      chart.data.datasets.forEach((d, j) => {
        if (!d.errorBars || !chart.isDatasetVisible(j)) return;
        const meta = chart.getDatasetMeta(j);
        ctx.save();
        ctx.strokeStyle = d.borderColor;
        ctx.lineWidth = 1.5;
        d.errorBars.forEach(([low, high], i) => {
          const point = meta.data[i];
          if (low === null || high === null || !point) return;
          const y0 = scales.y.getPixelForValue(low);
          const y1 = scales.y.getPixelForValue(high);
          ctx.beginPath();
          ctx.moveTo(point.x, y0);
          ctx.lineTo(point.x, y1);
          ctx.moveTo(point.x - 4, y0);
          ctx.lineTo(point.x + 4, y0);
          ctx.moveTo(point.x - 4, y1);
          ctx.lineTo(point.x + 4, y1);
          ctx.stroke();
        });
        ctx.restore();
      });
      opts.vlines.forEach((v, i) => {
        const x = scales.x.getPixelForValue(v.x);
        if (x < a.left - 1 || x > a.right + 1) return;
        ctx.save();
        ctx.strokeStyle = v.color;
        ctx.lineWidth = v.width || 2;
        ctx.setLineDash(v.dash || []);
        ctx.beginPath();
        ctx.moveTo(x, a.top);
        ctx.lineTo(x, a.bottom);
        ctx.stroke();
        if (v.label) {
          ctx.font = "12px system-ui, sans-serif";
          const w = ctx.measureText(v.label).width + 8;
          const left = x + 4 + w > a.right ? x - 4 - w : x + 4;
          const top = a.top + 4 + 18 * (i % 3);
          ctx.fillStyle = "rgba(255,255,255,0.85)";
          ctx.fillRect(left, top, w, 16);
          ctx.fillStyle = v.color;
          ctx.fillText(v.label, left + 4, top + 12);
        }
        ctx.restore();
      });
    },
  });

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    const canvas = $(id);
    canvas.parentElement.parentElement.querySelector(".empty")?.setAttribute("hidden", "");
    canvas.parentElement.hidden = false;
    charts[id] = new Chart(canvas, config);
    return charts[id];
  }

  function empty(id, emptyId, text) {
    if (charts[id]) {
      charts[id].destroy();
      delete charts[id];
    }
    $(id).parentElement.hidden = true;
    const note = $(emptyId);
    note.textContent = text;
    note.hidden = false;
  }

  function axis(title, extra) {
    return Object.assign({ title: { display: true, text: title }, grid: { color: GRID } }, extra);
  }

  // A linear time axis (unix seconds) with ticks on whole days, weeks, ... in UTC.
  function timeAxis(tmin, tmax) {
    const span = Math.max((tmax - tmin) / DAY, 1);
    const days = [1, 2, 7, 14, 28, 56, 91, 182, 364].find((s) => span / s <= 9) || 728;
    const step = days * DAY;
    return axis("date (UTC)", {
      type: "linear",
      min: Math.floor(tmin / step) * step,
      max: Math.max(Math.ceil(tmax / step) * step, Math.floor(tmin / step) * step + step),
      ticks: { stepSize: step, callback: (v) => fmtDay(v), maxRotation: 0 },
    });
  }

  const dayAxis = () => axis("day (UTC)", { ticks: { maxRotation: 0, autoSkipPadding: 12 } });

  // -- the run --------------------------------------------------------------------------
  function fact(name, value) {
    return el("div", {}, el("dt", {}, name), el("dd", {}, String(value)));
  }

  function drawSummary(s) {
    const det = s.detector || {};
    const window = det.window ? det.window.size + " " + det.window.kind : "";
    $("run-line").textContent =
      "Run " + s.run + (source.mode === "report" ? " — report generated " + source.generated : "");
    const facts = [
      ["users / items", int(s.users) + " / " + int(s.items)],
      ["detector", (det.name || "none") + (window ? " (" + window + ")" : "")],
      ["threshold", "calibrated 0.5 = raw " + num(det.threshold, 4)],
      ["served blend", s.served_blend + " over " + (s.sources || []).join(", ")],
      ["windows scored", int(s.scored_windows) + " (" + int(s.flagged_windows) + " flagged)"],
      ["period", s.first_time ? fmtDay(s.first_time) + " – " + fmtDay(s.last_time) : "–"],
      ["rows in / used / rejected",
        int(s.data.rows_in) + " / " + int(s.data.rows_used) + " / " + int(s.data.rows_rejected)],
    ];
    if (s.detection) {
      facts.push(["detection AUROC / AUPRC", num(s.detection.auroc) + " / " + num(s.detection.auprc)]);
    }
    $("run-facts").replaceChildren(...facts.map(([k, v]) => fact(k, v)));
  }

  // -- population -----------------------------------------------------------------------
  function drawPopulation(p, s) {
    const flagged = p.flagged_share.map((v) => (v === null ? null : 100 * v));
    let note = "Flagged: calibrated score ≥ " + p.threshold + " (the detector's raw threshold " +
      num(s.detector.threshold, 4) + "). " + int(s.scored_windows) + " windows of " +
      int(s.scored_users) + " users over " + p.days.length + " days.";
    if (p.ground_truth) {
      note += " Ground truth: " + int(s.ground_truth_users) + " users with planted or labelled " +
        "events; a window after a user's event is a life-event window, one ending before it " +
        "is normal, one the event splits is in neither rate.";
    }
    $("population-note").textContent = note;
    draw("chart-flagged", {
      data: {
        labels: p.days,
        datasets: [
          { type: "bar", label: "users flagged (%)", data: flagged, backgroundColor: C.blue,
            yAxisID: "y", order: 1 },
          { type: "line", label: "users scored", data: p.users, borderColor: C.grey,
            backgroundColor: C.grey, borderWidth: 1.5, pointRadius: 0, borderDash: [4, 3],
            yAxisID: "y2", order: 0 },
        ],
      },
      options: {
        scales: {
          x: dayAxis(),
          y: axis("users flagged (%)", { beginAtZero: true, position: "left" }),
          y2: axis("users scored", { beginAtZero: true, position: "right",
            grid: { drawOnChartArea: false } }),
        },
        plugins: { tooltip: { callbacks: { afterBody: (items) => {
          const i = items[0].dataIndex;
          return p.flagged_users[i] + " of " + p.users[i] + " users flagged; " + p.windows[i] +
            " windows, mean calibrated " + num(p.mean_calibrated[i]);
        } } } },
      },
    });
    if (p.ground_truth) {
      draw("chart-detection", {
        type: "line",
        data: {
          labels: p.days,
          datasets: [
            { label: "recall: life-event windows flagged (%)", borderColor: C.green,
              backgroundColor: C.green, data: p.recall.map((v) => (v === null ? null : 100 * v)),
              pointStyle: "circle", pointRadius: 3, borderWidth: 2 },
            { label: "false alarms: normal windows flagged (%)", borderColor: C.vermillion,
              backgroundColor: C.vermillion, borderDash: [6, 3], pointStyle: "triangle",
              pointRadius: 3, borderWidth: 2,
              data: p.false_alarm_rate.map((v) => (v === null ? null : 100 * v)) },
          ],
        },
        options: {
          spanGaps: false,
          scales: { x: dayAxis(), y: axis("windows flagged (%)", { min: 0, max: 100 }) },
          plugins: { tooltip: { callbacks: { afterBody: (items) => {
            const i = items[0].dataIndex;
            return p.event_windows[i] + " life-event and " + p.normal_windows[i] +
              " normal windows that day";
          } } } },
        },
      });
    } else {
      empty("chart-detection", "detection-empty",
        "No ground truth for this log: recall and false alarms need planted or labelled " +
        "events (life_events.parquet beside the log; simulated logs carry one, or pass " +
        "--logs to a folder that has it).");
    }
    drawHistogram(p.histogram, p.threshold, p.ground_truth);
  }

  function drawHistogram(h, threshold, truth) {
    const centres = h.edges.slice(0, -1).map((e, i) => (e + h.edges[i + 1]) / 2);
    const series = (counts) => counts.map((c, i) => ({ x: centres[i], y: c > 0 ? c : null }));
    const step = (label, counts, color, dash, fill) => ({
      label, data: series(counts), borderColor: color, backgroundColor: alpha(color, 0.18),
      borderDash: dash, stepped: "middle", pointRadius: 0, borderWidth: 2, fill, spanGaps: true,
    });
    const datasets = truth
      ? [
        step("normal windows", h.normal, C.blue, [], "origin"),
        step("life-event windows", h.event, C.vermillion, [], false),
        step("windows the event splits", h.split, C.grey, [5, 3], false),
      ]
      : [step("all windows", h.all, C.blue, [], "origin")];
    draw("chart-distribution", {
      type: "line",
      data: { datasets },
      options: {
        scales: {
          x: axis("calibrated score", { type: "linear", min: 0, max: 1,
            ticks: { stepSize: 0.1 } }),
          y: axis("windows (log scale)", { type: "logarithmic", min: 0.8, ticks: {
            callback: (v) => (Math.log10(v) % 1 === 0 ? int(v) : "") } }),
        },
        plugins: {
          adrecMarkers: { vlines: [{ x: threshold, color: C.black, dash: [6, 4],
            label: "threshold " + threshold }] },
          tooltip: { callbacks: { title: (items) => {
            const i = items[0].dataIndex;
            return "score " + h.edges[i].toFixed(3) + "–" + h.edges[i + 1].toFixed(3);
          } } },
        },
      },
    });
  }

  // -- one user -------------------------------------------------------------------------
  let userRequest = 0;
  let selectedKey = null;

  function userItem(u) {
    const li = el("li", { role: "option", tabindex: "0", "data-key": u.key,
      "aria-selected": String(u.key === selectedKey) }, "user " + u.user_id);
    li.append(el("span", { class: "badge" }, "peak " + num(u.peak, 2)));
    if (u.flagged) li.append(el("span", { class: "badge flag" }, u.flagged + " flagged"));
    if (u.event) li.append(el("span", { class: "badge event" }, "life event"));
    li.addEventListener("click", () => selectUser(u.key));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") selectUser(u.key); });
    return li;
  }

  let lastList = [];
  async function searchUsers(q) {
    const res = await source.users(q, 50);
    lastList = res.users;
    $("user-list").replaceChildren(...res.users.map(userItem));
    $("user-count").textContent = int(res.matched) + " of " + int(res.total) + " users" +
      (res.matched > res.users.length ? " (first " + res.users.length + " shown)" : "");
    return res;
  }

  function onSearch() {
    let timer = null;
    $("user-search").addEventListener("input", (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => searchUsers(e.target.value).catch((err) => showError("user", err)), 120);
    });
    $("user-search").addEventListener("keydown", async (e) => {
      if (e.key !== "Enter") return;
      clearTimeout(timer);
      const res = await searchUsers(e.target.value);
      if (res.users.length) selectUser(res.users[0].key);
    });
  }

  async function selectUser(key) {
    const mine = ++userRequest;
    selectedKey = key;
    for (const li of $("user-list").children) {
      li.setAttribute("aria-selected", String(li.dataset.key === key));
    }
    try {
      const u = await source.user(key);
      if (mine !== userRequest) return;
      drawUser(u);
      ready.user = key;
    } catch (err) {
      showError("user", err);
    }
  }

  function drawUser(u) {
    const n = u.time.length;
    const tmin = Math.min(u.window_start[0], ...u.events.map((e) => e.time));
    const tmax = Math.max(u.time[n - 1], ...u.events.map((e) => e.time));
    const x = timeAxis(tmin, tmax);
    const ranges = u.episodes.map((e) => ({ from: e.start, to: e.end, color: alpha(C.vermillion, 0.14) }));
    const vlines = u.events.map((e) => ({ x: e.time, color: C.green, width: 2,
      label: (e.kind || "event") + (e.new_categories && e.new_categories.length
        ? " → " + e.new_categories.join(", ") : "") }));
    const flagged = u.flagged.filter(Boolean).length;
    let line = "User " + u.user_id + ": " + n + " windows scored, " + flagged + " flagged in " +
      u.episodes.length + " episode" + (u.episodes.length === 1 ? "" : "s") + ", peak calibrated " +
      num(Math.max(...u.calibrated.filter((v) => v !== null)), 3) + ".";
    for (const e of u.events) {
      line += " Life event " + (e.kind ? "(" + e.kind + ") " : "") + "on " + fmtTime(e.time) +
        (e.new_categories && e.new_categories.length ? ", new categories " + e.new_categories.join(", ") : "") + ".";
    }
    if (!u.events.length) line += " No known event for this user.";
    $("user-line").textContent = line;
    const points = u.time.map((t, i) => ({ x: t, y: u.calibrated[i] }));
    draw("chart-user-score", {
      type: "line",
      data: {
        datasets: [
          { label: "calibrated score", data: points, borderColor: C.blue, backgroundColor: C.blue,
            borderWidth: 2, pointRadius: u.flagged.map((f) => (f ? 5 : 3)),
            pointStyle: u.flagged.map((f) => (f ? "triangle" : "circle")),
            pointBackgroundColor: u.flagged.map((f) => (f ? C.vermillion : C.blue)),
            pointBorderColor: u.flagged.map((f) => (f ? C.vermillion : C.blue)) },
          { label: "threshold (0.5)", data: [{ x: x.min, y: u.threshold }, { x: x.max, y: u.threshold }],
            borderColor: C.black, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0,
            backgroundColor: C.black, pointStyle: "line" },
          { label: "detected episode", data: [], backgroundColor: alpha(C.vermillion, 0.25),
            borderColor: alpha(C.vermillion, 0.25), pointStyle: "rect" },
          ...(u.events.length ? [{ label: "life event (ground truth)", data: [],
            borderColor: C.green, backgroundColor: C.green, pointStyle: "line" }] : []),
        ],
      },
      options: {
        scales: { x, y: axis("calibrated score", { min: 0, max: 1, ticks: { stepSize: 0.1 } }) },
        plugins: {
          adrecMarkers: { ranges, vlines },
          tooltip: { filter: (item) => item.datasetIndex === 0, callbacks: {
            title: (items) => fmtTime(items[0].raw.x),
            label: (item) => {
              const i = item.dataIndex;
              return ["calibrated " + num(u.calibrated[i]) + (u.flagged[i] ? " (flagged)" : ""),
                "raw score " + num(u.score[i], 4),
                "window from " + fmtTime(u.window_start[i])];
            },
          } },
        },
      },
    });
    const w = u.weights;
    if (!w || !w.sources || !w.sources.length || !w[w.sources[0]].length) {
      empty("chart-user-weights", "weights-empty",
        "No source weights: the run's engine does not know this user.");
      return;
    }
    draw("chart-user-weights", {
      type: "line",
      data: {
        datasets: w.sources.map((name, j) => ({
          label: name, data: u.time.map((t, i) => ({ x: t, y: w[name][i] })),
          borderColor: SOURCE_COLOURS[j % SOURCE_COLOURS.length],
          backgroundColor: alpha(SOURCE_COLOURS[j % SOURCE_COLOURS.length], 0.55),
          fill: j === 0 ? "origin" : "-1", pointRadius: 2, borderWidth: 1.5,
          pointStyle: ["circle", "rect", "triangle", "rectRot", "star", "cross"][j % 6],
        })),
      },
      options: {
        scales: { x: timeAxis(tmin, tmax),
          y: axis("weight (stacked)", { stacked: true, min: 0, max: 1, ticks: { stepSize: 0.2 } }) },
        interaction: { mode: "index", intersect: false },
        plugins: {
          adrecMarkers: { ranges, vlines: vlines.map((v) => Object.assign({}, v, { label: "" })) },
          subtitle: { display: true, text: "served blend: " + w.served, align: "start" },
          tooltip: { callbacks: { title: (items) => fmtTime(items[0].raw.x),
            label: (item) => item.dataset.label + " " + num(item.raw.y, 2) } },
        },
      },
    });
  }

  // -- accuracy over time ---------------------------------------------------------------
  let accuracy = null;

  async function loadAccuracy() {
    try {
      const a = await source.accuracy();
      if (!a || a.pending) {
        $("accuracy-note").textContent =
          "Computing the accuracy of the run's test targets through its engine (this runs " +
          "once per run and is cached)…";
        setTimeout(loadAccuracy, 2000);
        return;
      }
      accuracy = a;
      drawAccuracy();
      ready.accuracy = true;
    } catch (err) {
      showError("accuracy", err);
    }
  }

  // Each variant's points are moved a little sideways (dodged) so that equal values stay
  // visible, with a vertical bar for the 95% interval.
  function accuracyChart(id, group, metric) {
    const g = accuracy.groups[group];
    const n = accuracy.periods.length;
    const width = accuracy.variants.length > 1 ? 0.24 : 0;
    const datasets = accuracy.variants.map((v, j) => {
      const style = VARIANTS[v] || { color: C.purple, dash: [], point: "circle", order: 3 };
      const m = g[metric][v];
      const shift = accuracy.variants.length > 1 ? -width / 2 + (width * j) / (accuracy.variants.length - 1) : 0;
      return {
        label: v, data: m.mean.map((y, i) => ({ x: i + shift, y })),
        errorBars: m.low.map((low, i) => [low, m.high[i]]), ci: m,
        borderColor: style.color, backgroundColor: style.color, borderDash: style.dash,
        pointStyle: style.point, pointRadius: 4.5, borderWidth: 2, order: style.order,
      };
    });
    const label = metric === "ndcg@10" ? "NDCG@10" : "HR@10";
    const top = Math.max(0, ...datasets.flatMap((d) => d.errorBars.flat().filter((v) => v !== null)));
    const unit = { day: "day", week: "week (from Monday)", month: "month" }[accuracy.period];
    draw(id, {
      type: "line",
      data: { datasets },
      options: {
        spanGaps: false,
        scales: {
          x: axis(unit + " of the target (UTC)", {
            type: "linear", min: -0.5, max: n - 0.5,
            afterBuildTicks: (scale) => {
              scale.ticks = accuracy.periods.map((_, i) => ({ value: i }));
            },
            ticks: { maxRotation: 0, autoSkipPadding: 12,
              callback: (v) => (Number.isInteger(v) && v >= 0 && v < n ? accuracy.periods[v] : "") },
          }),
          y: axis(label, { beginAtZero: true, suggestedMax: top }),
        },
        plugins: {
          subtitle: { display: true, align: "start",
            text: "bars: 95% interval (bootstrap over users)" },
          tooltip: { callbacks: {
            title: (items) => accuracy.periods[Math.round(items[0].raw.x)],
            label: (item) => {
              const ci = item.dataset.ci;
              const i = item.dataIndex;
              return item.dataset.label + ": " + num(ci.mean[i]) + " [" + num(ci.low[i]) + ", " +
                num(ci.high[i]) + "]";
            },
            afterBody: (items) => {
              const i = items[0].dataIndex;
              return g.targets[i] + " targets of " + g.users[i] + " users";
            },
          } },
        },
      },
    });
  }

  function drawAccuracy() {
    const metric = $("metric").value;
    const a = accuracy;
    const all = a.groups.all.overall;
    const sh = a.groups.shifting.overall;
    $("accuracy-note").textContent =
      "The run's held-out test targets (" + a.split + ", up to " + a.targets_per_user +
      " per user; the fit never read them), scored through the saved engine: full ranking, " +
      "the user's seen items excluded: " + int(all.targets) + " targets of " + int(all.users) +
      " users, grouped by the " + a.period + " of the target. Shifting: calibrated anomaly score ≥ " + a.shift_level +
      " at prediction time (" + int(sh.targets) + " targets of " + int(sh.users) + " users).";
    const name = metric === "ndcg@10" ? "NDCG@10" : "HR@10";
    $("acc-all-title").textContent = name + " per " + a.period + ", all test targets";
    $("acc-shifting-title").textContent = name + " per " + a.period + ", targets of shifting users";
    accuracyChart("chart-acc-all", "all", metric);
    if (sh.targets > 0) {
      accuracyChart("chart-acc-shifting", "shifting", metric);
    } else {
      empty("chart-acc-shifting", "acc-shifting-empty",
        "No test target of a shifting user: the detector flagged no user at a test target's time.");
    }
    drawAccuracyTable();
  }

  function drawAccuracyTable() {
    const a = accuracy;
    const head = el("tr", {}, el("th", {}, "over the whole test period"),
      ...a.variants.flatMap((v) => [el("th", {}, v + " NDCG@10"), el("th", {}, v + " HR@10")]));
    const rows = ["all", "shifting"].map((g) => {
      const o = a.groups[g].overall;
      const cells = a.variants.flatMap((v) => ["ndcg@10", "hr@10"].map((m) => {
        const c = o[m] && o[m][v];
        return el("td", {}, c ? num(c[0]) + " [" + num(c[1]) + ", " + num(c[2]) + "]" : "–");
      }));
      return el("tr", {}, el("td", {}, (g === "all" ? "all targets" : "shifting users") + " (" +
        int(o.targets) + ")"), ...cells);
    });
    $("accuracy-table").replaceChildren(head, ...rows);
  }

  // -- the live service -----------------------------------------------------------------
  function tile(k, v) {
    return el("div", { class: "tile" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k));
  }

  async function loadLive() {
    if (!source.live) {
      $("live-note").textContent = "Live service numbers appear when the dashboard is served by " +
        "the application (GET /dashboard/ of `adrec serve` or the plain app); this report is a " +
        "snapshot of the run directory (`adrec report --live URL` adds a running service's " +
        "numbers as they are when the report is written).";
      for (const id of ["chart-live-requests", "chart-live-latency"]) {
        $(id).closest(".card").hidden = true;
      }
      return;
    }
    let L;
    try {
      L = await source.live();
      drawLive(L);
      ready.live = (ready.live || 0) + 1;
    } catch (err) {
      showError("live", err);
      return;
    }
    if (source.mode === "report") {  // a snapshot: no polling
      $("live-note").textContent = "As " + L.url + " saw it when this report was written " +
        "(" + fmtTime(L.now) + " UTC): " + $("live-note").textContent;
      return;
    }
    setTimeout(loadLive, 5000);
  }

  function drawLive(L) {
    if (!L.source) {
      $("live-note").textContent = L.note || "This app keeps no live metrics.";
      return;
    }
    const t = L.totals;
    const lm = L.last_minute;
    $("live-note").textContent = "POST /v1/recommend as seen by " + L.source + ", since " +
      fmtTime(L.since) + " UTC; percentiles over the last " + Math.round(L.window_s / 60) +
      " minutes, intervals of " + L.bucket_s + " s.";
    $("live-tiles").replaceChildren(
      tile("requests", int(t.requests)),
      tile("requests/s (last minute)", num(lm.requests_per_s, 2)),
      tile("latency p50", num(L.latency_ms.p50, 1) + " ms"),
      tile("latency p95", num(L.latency_ms.p95, 1) + " ms"),
      tile("latency p99", num(L.latency_ms.p99, 1) + " ms"),
      tile("anomalous answers", pct(L.anomalous_share)),
      tile("4xx / 5xx", int(t.client_errors) + " / " + int(t.server_errors)),
    );
    const s = L.series;
    const labels = s.time.map(fmtClock);
    const x = axis("time (UTC)", { ticks: { maxRotation: 0, autoSkipPadding: 16 } });
    const keep = (id) => charts[id] && charts[id].data.labels.length === labels.length;
    const requests = {
      data: {
        labels,
        datasets: [
          { type: "bar", label: "requests", data: s.requests, backgroundColor: C.blue, yAxisID: "y", order: 1 },
          { type: "line", label: "anomalous answers (%)", yAxisID: "y2", order: 0,
            data: s.anomalous_share.map((v) => (v === null ? null : 100 * v)),
            borderColor: C.vermillion, backgroundColor: C.vermillion, borderDash: [6, 3],
            pointStyle: "triangle", pointRadius: 3, spanGaps: false },
        ],
      },
      options: { scales: { x,
        y: axis("requests per " + L.bucket_s + " s", { beginAtZero: true }),
        y2: axis("anomalous (%)", { min: 0, max: 100, position: "right", grid: { drawOnChartArea: false } }) } },
    };
    const latency = {
      type: "line",
      data: {
        labels,
        datasets: [
          ["p50", C.blue, [], "circle"], ["p95", C.orange, [6, 3], "rect"],
          ["p99", C.vermillion, [2, 3], "triangle"],
        ].map(([k, color, dash, point]) => ({ label: k, data: s[k], borderColor: color,
          backgroundColor: color, borderDash: dash, pointStyle: point, pointRadius: 2.5,
          borderWidth: 2, spanGaps: false })),
      },
      options: { scales: { x, y: axis("latency (ms)", { beginAtZero: true }) } },
    };
    for (const [id, cfg] of [["chart-live-requests", requests], ["chart-live-latency", latency]]) {
      if (keep(id)) {
        charts[id].data = cfg.data;
        charts[id].update("none");
      } else {
        draw(id, cfg);
      }
    }
  }

  // -- start ----------------------------------------------------------------------------
  async function start() {
    onSearch();
    $("metric").addEventListener("change", () => accuracy && drawAccuracy());
    let summary;
    try {
      summary = await source.summary();
      drawSummary(summary);
      ready.summary = true;
    } catch (err) {
      showError("population", err);
      return;
    }
    source.population().then((p) => { drawPopulation(p, summary); ready.population = true; })
      .catch((err) => showError("population", err));
    searchUsers("").then((res) => { if (res.users.length) selectUser(res.users[0].key); })
      .catch((err) => showError("user", err));
    loadAccuracy();
    loadLive();
  }

  start();
})();
