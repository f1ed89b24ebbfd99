// Open cases on the map, coloured by the running stage's traffic light.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("cases-map-config").textContent);
  var COLORS = { green: "#188038", yellow: "#f29900", red: "#d93025" };
  var map = L.map("cases-map", { minZoom: 3, maxZoom: 18 });
  if (cfg.tileUrl) {
    var attribution = document.createElement("span");
    attribution.textContent = cfg.tileAttribution || "";  // Leaflet inserts it as HTML
    L.tileLayer(cfg.tileUrl, { attribution: attribution.innerHTML, maxZoom: 18 }).addTo(map);
  }
  var bounds = L.latLngBounds([]);
  var group = L.markerClusterGroup({ chunkedLoading: true, disableClusteringAtZoom: 16 });
  cfg.points.forEach(function (p) {
    var id = p[0], lat = p[1], lon = p[2], state = p[3], light = p[4];
    var m = L.circleMarker([lat, lon], { radius: 7, color: "#fff", weight: 1.5,
      fillColor: COLORS[light] || "#80868b", fillOpacity: 0.95 });
    var a = document.createElement("a");
    a.href = "/cases/" + id;
    a.textContent = "#" + id + " · " + (cfg.states[state] || state);
    m.bindPopup(a);
    bounds.extend([lat, lon]);
    group.addLayer(m);
  });
  map.addLayer(group);
  if (bounds.isValid()) { map.fitBounds(bounds.pad(0.1)); } else { map.setView([41.8, 123.43], 11); }
})();
