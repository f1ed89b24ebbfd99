// Site monitoring chart: PM10, PM2.5, TSP (µg/m³, left axis) and noise (dB, right axis)
// from GET /api/v1/sites/{id}/series, with a 15-min / hour / day switch.
//
// The panel arrives as an HTMX fragment, so this file may run several times and before or
// after ECharts: it loads ECharts itself when missing and initialises each chart once.
// Times are shown as the city's wall clock whatever the browser's zone: the API gives
// local ISO times ("2024-05-01T10:15:00+08:00"), plotted as if UTC with useUTC.
(function () {
  "use strict";
  if (window.DustGridSiteChart) {
    window.DustGridSiteChart.scan();
    return;
  }
  var REFRESH_MS = 60000;
  var COLORS = { pm10: "#d93025", pm25: "#f29900", tsp: "#0b3d91", noise: "#188038" };
  var loading = null;

  function wallMs(iso) {
    return Date.parse(iso.slice(0, 19) + "Z");
  }

  function withEcharts(done) {
    if (window.echarts) { done(); return; }
    if (!loading) {
      loading = [];
      var s = document.createElement("script");
      s.src = "/static/vendor/echarts/echarts.min.js";
      s.onload = function () { var q = loading; loading = null; q.forEach(function (f) { f(); }); };
      document.head.appendChild(s);
    }
    loading.push(done);
  }

  function setStatus(el, text) {
    var p = el.querySelector("[data-chart-status]");
    if (!p) {
      p = document.createElement("p");
      p.className = "muted";
      p.setAttribute("data-chart-status", "");
      p.style.position = "absolute";
      el.style.position = "relative";
      el.appendChild(p);
    }
    p.textContent = text || "";
    p.style.display = text ? "" : "none";
  }

  function option(cfg, data) {
    var bySeries = {};
    data.series.forEach(function (s) { bySeries[s.metric] = s; });
    var limits = cfg.limits || {};
    var axisLimit = [0, 0];  // the highest limit drawn on each y-axis: the axis reaches it
    var series = cfg.metrics.map(function (m) {
      var s = bySeries[m.key] || { points: [] };
      var axis = m.unit === "dB" ? 1 : 0;
      var limit = limits[m.key];
      if (limit != null) { axisLimit[axis] = Math.max(axisLimit[axis], limit); }
      return {
        name: m.name, type: "line", showSymbol: s.points.length <= 48, connectNulls: false,
        yAxisIndex: axis,
        itemStyle: { color: COLORS[m.key] }, lineStyle: { width: 1.6 },
        markLine: limit == null ? undefined : {
          symbol: "none", silent: true,
          label: { formatter: m.name + " " + cfg.labels.limit + " " + limit, position: "insideEndTop" },
          lineStyle: { color: COLORS[m.key], type: "dashed", width: 1.2 }, data: [{ yAxis: limit }]
        },
        data: s.points.map(function (p) {
          return { value: [wallMs(p.t), p.mean], rate: p.valid_rate, min: p.min, max: p.max };
        })
      };
    });
    function reach(i) {
      return function (v) { return Math.max(v.max, axisLimit[i] * 1.1) || null; };
    }
    // no time after now: the axis ends at the city's wall clock of the response
    var now = data.now ? wallMs(data.now) : null;
    return {
      useUTC: true,
      animation: false,
      grid: { left: 56, right: 56, top: 36, bottom: 56 },
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          if (!items.length) { return ""; }
          var head = window.echarts.time.format(items[0].value[0], "{yyyy}-{MM}-{dd} {HH}:{mm}", true);
          var lines = items.map(function (it) {
            var d = it.data, v = it.value[1];
            var rate = d.rate == null ? "" : " · " + cfg.labels.validRate + " " + Math.round(d.rate * 100) + "%";
            return it.marker + window.echarts.format.encodeHTML(it.seriesName) + ": " + (v == null ? "—" : v.toFixed(1)) + rate;
          });
          return [head].concat(lines).join("<br>");
        }
      },
      xAxis: { type: "time", min: wallMs(data.start), max: now == null ? wallMs(data.end) : Math.min(now, wallMs(data.end)) },
      // concentrations from zero, so a bar's height reads as its value; noise likewise
      yAxis: [
        { type: "value", name: "µg/m³", min: 0, max: reach(0) },
        { type: "value", name: "dB", min: 0, max: reach(1), splitLine: { show: false } }
      ],
      // a slider only: an "inside" zoom would take the page's mouse-wheel scrolling
      dataZoom: [{ type: "slider", height: 18, bottom: 8 }],
      series: series
    };
  }

  function init(el) {
    if (el.getAttribute("data-ready")) { return; }
    el.setAttribute("data-ready", "1");
    var panel = el.closest("[data-testid=telemetry-panel]") || el.parentNode;
    var cfgNode = panel.querySelector("script[data-chart-config]");
    var cfg = JSON.parse(cfgNode.textContent);
    var state = { period: cfg.period, chart: null, timer: null };

    function load() {
      if (!document.body.contains(el)) { window.clearInterval(state.timer); return; }
      var url = cfg.seriesUrl + "?period=" + encodeURIComponent(state.period);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (data) {
          var empty = data.series.every(function (s) { return !s.points.length; });
          withEcharts(function () {
            if (!state.chart) {
              setStatus(el, "");
              state.chart = window.echarts.init(el);
              window.addEventListener("resize", function () { state.chart.resize(); });
            }
            state.chart.setOption(option(cfg, data), true);
            setStatus(el, empty ? cfg.labels.noData : "");
            el.setAttribute("data-points", String(data.series.reduce(function (n, s) { return n + s.points.length; }, 0)));
            var model = state.chart.getModel(), y = model.getComponent("yAxis", 0).axis.scale.getExtent();
            var x = model.getComponent("xAxis", 0).axis.scale.getExtent();
            // what the axes show, for tests and assistive tools
            el.setAttribute("data-y-min", String(y[0]));
            el.setAttribute("data-y-max", String(y[1]));
            el.setAttribute("data-x-max", String(x[1]));
            el.setAttribute("data-now", String(data.now ? wallMs(data.now) : ""));
            el.setAttribute("data-limits", JSON.stringify(cfg.limits || {}));
          });
        })
        .catch(function () { setStatus(el, cfg.labels.failed); });
    }

    panel.querySelectorAll("button[data-period]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        state.period = btn.getAttribute("data-period");
        panel.querySelectorAll("button[data-period]").forEach(function (b) {
          var on = b === btn;
          b.classList.toggle("btn-primary", on);
          b.classList.toggle("btn-secondary", !on);
          b.setAttribute("aria-pressed", on ? "true" : "false");
        });
        el.setAttribute("data-current-period", state.period);
        load();
      });
    });
    el.setAttribute("data-current-period", state.period);
    load();
    state.timer = window.setInterval(load, REFRESH_MS);
  }

  function scan() {
    document.querySelectorAll("[data-site-chart]").forEach(init);
  }

  window.DustGridSiteChart = { scan: scan };
  document.addEventListener("htmx:afterSettle", scan);
  scan();
})();
