// The overview's charts (grade ring, PM10 trend with the daily limit) and, on the big
// screen, live figures: the page asks /api/v1/overview every data-refresh seconds and
// updates the numbers and charts in place (no reload). Data comes in
// <script type="application/json"> blocks; texts come translated from the server.
(function () {
  "use strict";
  var dataEl = document.getElementById("overview-data");
  var textEl = document.getElementById("overview-text");
  if (!dataEl || !textEl || !window.echarts) { return; }
  var text = JSON.parse(textEl.textContent);
  var screen = document.body.classList.contains("screen");
  var fg = screen ? "#e6edf7" : "#1f2937";
  var GRADE_COLORS = { non_compliant: "#d93025", basic: "#f29900", full: "#188038", ungraded: "#80868b" };
  var ORDER = ["non_compliant", "basic", "full", "ungraded"];
  var charts = {};

  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o === null || o === undefined ? o : o[k]; }, obj);
  }

  function chart(name) {
    var el = document.querySelector('[data-chart="' + name + '"]');
    if (!el) { return null; }
    if (!charts[name]) { charts[name] = echarts.init(el, null, { renderer: "canvas" }); }
    return charts[name];
  }

  function drawGrades(data) {
    var c = chart("grades");
    if (!c) { return; }
    c.setOption({
      textStyle: { color: fg },
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      series: [{
        type: "pie", radius: ["45%", "72%"], avoidLabelOverlap: true,
        label: { color: fg, formatter: "{b}\n{c}" },
        data: ORDER.map(function (g) {
          return { name: text.grade_names[g], value: data.grades[g] || 0, itemStyle: { color: GRADE_COLORS[g] } };
        }),
      }],
    });
  }

  function drawTrend(data) {
    var c = chart("trend");
    if (!c) { return; }
    var days = data.trend.map(function (p) { return p.day.slice(5); });
    var sites = data.trend.map(function (p) { return p.sites; });
    var ref = data.trend.map(function (p) { return p.reference; });
    var top = Math.max(text.limit_value * 1.15, Math.max.apply(null, sites.concat(ref).filter(function (v) { return v !== null; }).concat([0])) * 1.1);
    c.setOption({
      textStyle: { color: fg },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null || v === undefined ? "—" : v + " " + text.unit; } },
      legend: { data: [text.sites, text.reference], textStyle: { color: fg } },
      grid: { left: 48, right: 24, top: 40, bottom: 28 },
      xAxis: { type: "category", data: days, axisLabel: { color: fg } },
      yAxis: { type: "value", min: 0, max: Math.ceil(top / 10) * 10, name: text.unit, nameTextStyle: { color: fg }, axisLabel: { color: fg } },
      series: [
        { name: text.sites, type: "line", data: sites, connectNulls: false, itemStyle: { color: "#d93025" },
          markLine: { symbol: "none", lineStyle: { color: "#d93025", type: "dashed" },
            label: { formatter: text.limit, color: fg, position: "insideEndTop" }, data: [{ yAxis: text.limit_value }] } },
        { name: text.reference, type: "line", data: ref, connectNulls: false, itemStyle: { color: "#5e97f6" } },
      ],
    });
  }

  function fill(data) {
    document.querySelectorAll("[data-k]").forEach(function (el) {
      var key = el.getAttribute("data-k");
      if (key === "as_of") { return; }
      var v = get(data, key);
      if (v === undefined) { return; }
      el.textContent = el.hasAttribute("data-pct") ? pct(v) : String(v);
    });
  }

  function draw(data) { drawGrades(data); drawTrend(data); }

  draw(JSON.parse(dataEl.textContent));
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });

  var refresh = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  var api = document.body.getAttribute("data-api");
  if (!screen || !refresh || !api) { return; }
  var stale = document.querySelector("[data-stale]");
  var clock = document.querySelector('[data-k="as_of"]');
  // The city's wall clock whatever the browser's zone: the page names the city's time zone
  // (the timezone setting, data-tz) and the time is written as the server writes it.
  var clockFormat = new Intl.DateTimeFormat("en-US", {
    timeZone: document.body.getAttribute("data-tz") || undefined,
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  function stamp(iso) {
    var p = {};
    clockFormat.formatToParts(new Date(iso)).forEach(function (part) { p[part.type] = part.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }
  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (data) {
        fill(data); draw(data);
        if (clock) { clock.textContent = stamp(data.generated_at); }
        if (stale) { stale.hidden = true; }
        document.body.setAttribute("data-updated", String(Date.now()));
      })
      .catch(function () { if (stale) { stale.hidden = false; } });
  }
  setInterval(poll, refresh * 1000);
  var full = document.querySelector("[data-fullscreen]");
  if (full && document.documentElement.requestFullscreen) {
    full.addEventListener("click", function () { document.documentElement.requestFullscreen(); });
  } else if (full) { full.hidden = true; }
})();
