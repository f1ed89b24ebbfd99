// Today (今日): my route of the day on a map, stops numbered in route order, visited ones
// green. The list under the map carries the same stops with their "start inspection" links.
(function () {
  "use strict";
  var holder = document.getElementById("today-map");
  var cfgNode = document.getElementById("today-config");
  if (!holder || !cfgNode || typeof L === "undefined") { return; }
  var cfg = JSON.parse(cfgNode.textContent);
  if (!cfg.stops || !cfg.stops.length) { return; }
  function textNode(value) {
    var span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span;
  }
  var COLORS = { visited: "#1e8e3e", missed: "#d93025", planned: "#0b57d0" };
  var map = L.map(holder, { minZoom: 3, maxZoom: 18 });
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: textNode(cfg.tileAttribution || "").innerHTML, maxZoom: 18 }).addTo(map);
  }
  var line = cfg.stops.map(function (s) { return [s[0], s[1]]; });
  L.polyline(line, { color: "#0b57d0", weight: 3, opacity: 0.7 }).addTo(map);
  var bounds = L.latLngBounds([]);
  cfg.stops.forEach(function (s) {
    var m = L.circleMarker([s[0], s[1]], {
      radius: 10, color: "#fff", weight: 2, fillColor: COLORS[s[3]] || COLORS.planned, fillOpacity: 0.95
    }).addTo(map);
    m.bindTooltip(textNode(s[5] + ". " + s[2]), { permanent: false });
    m.on("click", function () {
      var item = document.querySelector('[data-testid="stop"][data-site-id="' + s[4] + '"]');
      if (item) { item.scrollIntoView({ behavior: "smooth", block: "center" }); }
    });
    bounds.extend([s[0], s[1]]);
  });
  map.fitBounds(bounds.pad(0.2), { maxZoom: 16 });
})();
