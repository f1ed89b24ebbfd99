// Evidence charts: each [data-evidence-chart] draws the series of the JSON block that
// follows it (values and limit per window, from web/evidence.py). Loads ECharts when missing.
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("[data-evidence-chart]").forEach(function (el) {
      var src = el.nextElementSibling;
      if (!src || !src.hasAttribute("data-evidence-chart-data")) { return; }
      var d = JSON.parse(src.textContent);
      var chart = window.echarts.init(el);
      chart.setOption({
        grid: { left: 48, right: 12, top: 28, bottom: 28 },
        tooltip: { trigger: "axis" },
        legend: { data: [d.name, d.limit_name] },
        xAxis: { type: "category", data: d.labels },
        yAxis: { type: "value", name: d.unit },
        series: [
          { name: d.name, type: "line", data: d.values, itemStyle: { color: "#0b3d91" } },
          { name: d.limit_name, type: "line", step: "middle", showSymbol: false, data: d.limits,
            lineStyle: { type: "dashed" }, itemStyle: { color: "#d93025" } }
        ]
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  function start() {
    if (!document.querySelector("[data-evidence-chart]")) { return; }
    if (window.echarts) { draw(); return; }
    var s = document.createElement("script");
    s.src = "/static/vendor/echarts/echarts.min.js";
    s.onload = draw;
    document.head.appendChild(s);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
