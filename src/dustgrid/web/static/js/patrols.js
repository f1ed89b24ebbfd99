// Patrol plans page: one group's routes of the week on a map, a colour per day, stops numbered.
(function () {
  "use strict";
  var holder = document.getElementById("patrol-map");
  var cfgNode = document.getElementById("patrol-config");
  if (!holder || !cfgNode || typeof L === "undefined") { return; }
  var cfg = JSON.parse(cfgNode.textContent);
  function textNode(value) {
    var span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span;
  }
  var COLORS = ["#0b57d0", "#188038", "#f29900", "#9334e6", "#d01884", "#00838f", "#5f6368"];
  var map = L.map(holder, { minZoom: 3, maxZoom: 18 });
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: textNode(cfg.tileAttribution || "").innerHTML, maxZoom: 18 }).addTo(map);
  }
  var layer = L.layerGroup().addTo(map);
  function draw(index) {
    layer.clearLayers();
    var plan = cfg.plans[index];
    var bounds = L.latLngBounds([]);
    if (!plan) { return; }
    plan.routes.forEach(function (route, r) {
      var color = COLORS[r % COLORS.length];
      var line = route.stops.map(function (s) { return [s[0], s[1]]; });
      L.polyline(line, { color: color, weight: 3, opacity: 0.8 }).addTo(layer);
      route.stops.forEach(function (s, i) {
        var missed = s[3] === "missed";
        var m = L.circleMarker([s[0], s[1]], {
          radius: 8, color: missed ? "#d93025" : "#fff", weight: missed ? 3 : 1.5,
          fillColor: color, fillOpacity: 0.95
        }).addTo(layer);
        m.bindTooltip(textNode(route.day + " · " + route.who + " · " + (i + 1) + ". " + s[2]));
        bounds.extend([s[0], s[1]]);
      });
    });
    if (bounds.isValid()) { map.fitBounds(bounds.pad(0.15)); } else { map.setView([41.8, 123.4], 11); }
  }
  var select = document.getElementById("patrol-group");
  if (select) { select.addEventListener("change", function () { draw(Number(select.value)); }); }
  draw(0);
})();
