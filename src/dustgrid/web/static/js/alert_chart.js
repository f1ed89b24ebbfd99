// Alert chart: the evaluated windows (step line) and the site's per-minute readings beside
// the reference stations, the limit, the alert's start and end, and data-quality flags as
// shaded areas - from GET /api/v1/alerts/{id}/chart.
//
// Loads ECharts itself when missing. Times arrive as local ISO strings
// ("2026-11-20T10:15:00+08:00") and are plotted as wall clock (useUTC), as site_chart.js.
(function () {
  "use strict";
  var loading = null;

  function wallMs(iso) { return Date.parse(iso.slice(0, 19) + "Z"); }

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

  function status(el, text) {
    var p = el.querySelector("[data-chart-status]");
    if (p) { p.textContent = text || ""; p.style.display = text ? "" : "none"; }
  }

  function option(cfg, d) {
    var L = cfg.labels;
    var windows = [];
    d.windows.forEach(function (w) {
      windows.push({ value: [wallMs(w.start), w.value], w: w });
      windows.push({ value: [wallMs(w.end) - 1, w.value], w: w });
    });
    var refWindows = d.windows.filter(function (w) { return w.reference != null; }).map(function (w) {
      return [wallMs(w.start) + (wallMs(w.end) - wallMs(w.start)) / 2, w.reference];
    });
    // no time after now: the axis, and the band of a still open alert, end at now
    var end = d.now ? Math.min(wallMs(d.end), wallMs(d.now)) : wallMs(d.end);
    var marks = [[{ xAxis: wallMs(d.started_at), name: "", itemStyle: { color: "rgba(217,48,37,0.08)" } },
                  { xAxis: Math.min(d.ended_at ? wallMs(d.ended_at) : end, end) }]];
    var flagAreas = d.flags.map(function (f) {
      var name = (cfg.flagNames && cfg.flagNames[f.kind]) || f.kind;
      return [{ xAxis: wallMs(f.start), name: name, itemStyle: { color: "rgba(242,153,0,0.18)" } },
              { xAxis: wallMs(f.end) }];
    });
    var series = [
      { name: L.site, type: "line", showSymbol: false, lineStyle: { width: 1 }, itemStyle: { color: "#0b3d91" },
        data: d.site_points.map(function (p) { return [wallMs(p[0]), p[1]]; }),
        markArea: { silent: true, data: marks } },
      { name: L.reference, type: "line", showSymbol: false, lineStyle: { width: 1, type: "dashed" },
        itemStyle: { color: "#188038" },
        data: d.reference_points.length ? d.reference_points.map(function (p) { return [wallMs(p[0]), p[1]]; }) : refWindows },
      { name: L.window, type: "line", step: false, showSymbol: false, lineStyle: { width: 2.5 },
        itemStyle: { color: "#d93025" }, data: windows,
        markLine: d.limit == null ? undefined : { symbol: "none", silent: true, label: { formatter: L.limit + " {c}" },
          lineStyle: { color: "#b3261e", type: "dotted" }, data: [{ yAxis: d.limit }] } },
      { name: L.flag, type: "line", data: [], markArea: { silent: false, data: flagAreas },
        itemStyle: { color: "rgba(242,153,0,0.6)" } }
    ];
    return {
      useUTC: true, animation: false,
      grid: { left: 56, right: 64, top: 36, bottom: 56 },
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          if (!items.length) { return ""; }
          var head = window.echarts.time.format(items[0].value[0], "{yyyy}-{MM}-{dd} {HH}:{mm}", true);
          return [head].concat(items.map(function (it) {
            var v = it.value[1], extra = "";
            if (it.data && it.data.w) {
              var w = it.data.w;
              extra = (w.reference_used != null ? " − " + w.reference_used.toFixed(1) : "") +
                " → " + w.excess.toFixed(1) + (w.held ? " · " + L.held : "");
            }
            return it.marker + window.echarts.format.encodeHTML(it.seriesName) + ": " + (v == null ? "—" : v.toFixed(1)) + extra;
          })).join("<br>");
        }
      },
      xAxis: { type: "time", min: wallMs(d.start), max: end },
      // a concentration axis from zero that always reaches the limit line
      yAxis: { type: "value", name: d.metric, min: 0,
               max: function (v) { return d.limit == null ? null : Math.max(v.max, d.limit * 1.1); } },
      dataZoom: [{ type: "slider", height: 18, bottom: 8 }],
      series: series
    };
  }

  function init(el) {
    if (el.getAttribute("data-ready")) { return; }
    el.setAttribute("data-ready", "1");
    var cfg = JSON.parse(el.parentNode.querySelector("script[data-alert-chart-config]").textContent);
    fetch(cfg.chartUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (d) {
        withEcharts(function () {
          status(el, "");
          var chart = window.echarts.init(el);
          chart.setOption(option(cfg, d), true);
          window.addEventListener("resize", function () { chart.resize(); });
          var empty = !d.site_points.length && !d.windows.length;
          if (empty) { status(el, cfg.labels.no_data); }
          el.setAttribute("data-windows", String(d.windows.length));
          el.setAttribute("data-points", String(d.site_points.length));
          var model = chart.getModel(), y = model.getComponent("yAxis", 0).axis.scale.getExtent();
          var x = model.getComponent("xAxis", 0).axis.scale.getExtent();
          // what the axes show, for tests and assistive tools
          el.setAttribute("data-y-min", String(y[0]));
          el.setAttribute("data-y-max", String(y[1]));
          el.setAttribute("data-x-max", String(x[1]));
          el.setAttribute("data-now", String(d.now ? wallMs(d.now) : ""));
          el.setAttribute("data-limit", String(d.limit));
        });
      })
      .catch(function () { status(el, cfg.labels.failed); });
  }

  document.querySelectorAll("[data-alert-chart]").forEach(init);
})();
