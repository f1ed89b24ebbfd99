// Site map: district boundaries, one marker per site coloured by grade, clustered when zoomed out.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  // User text (district and site names) goes into the map as DOM text, never as HTML:
  // Leaflet's bindTooltip/bindPopup and the attribution control insert strings as HTML.
  function textNode(value) {
    var span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span;
  }
  function escapeHtml(value) { return textNode(value).innerHTML; }
  var COLORS = { non_compliant: "#d93025", basic: "#f29900", full: "#188038", ungraded: "#80868b" };
  var map = L.map("map", { zoomControl: true, minZoom: 3, maxZoom: 18, zoomSnap: 0.25 });
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: escapeHtml(cfg.tileAttribution || ""), maxZoom: 18 }).addTo(map);
  }
  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () { return document.getElementById("legend"); };
  legend.addTo(map);
  var bounds = L.latLngBounds([]);
  var districtLayer = L.geoJSON(
    { type: "FeatureCollection", features: cfg.districts.filter(function (d) { return d.boundary; }).map(function (d) {
      return { type: "Feature", properties: { name: d.name }, geometry: d.boundary };
    }) },
    {
      renderer: L.svg(),
      style: { color: "#0b3d91", weight: 2, fillOpacity: 0.04, dashArray: "4 3" },
      onEachFeature: function (f, layer) { layer.bindTooltip(textNode(f.properties.name), { sticky: true }); }
    }
  ).addTo(map);
  if (districtLayer.getLayers().length) { bounds.extend(districtLayer.getBounds()); }

  function clusterIcon(cluster) {
    var children = cluster.getAllChildMarkers();
    var worst = "full";
    var rank = { non_compliant: 3, basic: 2, ungraded: 1, full: 0 };
    children.forEach(function (m) { if (rank[m.options.grade] > rank[worst]) { worst = m.options.grade; } });
    var n = cluster.getChildCount();
    var size = n < 20 ? 34 : n < 100 ? 42 : 50;
    var cls = { non_compliant: "non", basic: "basic", full: "full", ungraded: "none" }[worst];
    return L.divIcon({
      html: "<div><span>" + Number(n) + "</span></div>",
      className: "marker-cluster cluster-" + cls, iconSize: L.point(size, size)
    });
  }
  var clusters = L.markerClusterGroup({ iconCreateFunction: clusterIcon, chunkedLoading: true,
                                        disableClusteringAtZoom: 16 });
  var byId = {};
  fetch("/api/v1/sites/map?crs=" + encodeURIComponent(cfg.crs), { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
    .then(function (data) {
      var markers = data.rows.map(function (row) {
        var id = row[0], lat = row[1], lon = row[2], grade = row[3], name = row[4], code = row[5];
        var m = L.circleMarker([lat, lon], {
          radius: 7, color: "#fff", weight: 1.5, fillColor: COLORS[grade] || COLORS.ungraded,
          fillOpacity: 0.95, grade: grade, className: "site-marker grade-" + grade
        });
        var a = document.createElement("a");
        a.href = "/sites/" + id;
        a.textContent = name;
        var box = document.createElement("div");
        box.appendChild(a);
        box.appendChild(document.createElement("br"));
        box.appendChild(document.createTextNode(code + " · " + (cfg.labels[grade] || grade)));
        m.bindPopup(box);
        m.getElement = m.getElement || function () { return null; };
        byId[id] = m;
        bounds.extend([lat, lon]);
        return m;
      });
      clusters.addLayers(markers);
      map.addLayer(clusters);
      document.getElementById("site-count").textContent = cfg.sitesText.replace("__N__", markers.length);
      document.getElementById("map").setAttribute("data-markers", String(markers.length));
      function showHashSite() {
        var hash = /site=(\d+)/.exec(window.location.hash);
        if (hash && byId[hash[1]]) {
          clusters.zoomToShowLayer(byId[hash[1]], function () { byId[hash[1]].openPopup(); });
          return true;
        }
        return false;
      }
      window.addEventListener("hashchange", showHashSite);
      if (showHashSite()) {
        return;
      } else if (bounds.isValid()) {
        map.fitBounds(bounds, { padding: [20, 20] });
      } else {
        map.setView([41.80, 123.43], 11);
      }
    })
    .catch(function (err) {
      document.getElementById("site-count").textContent = String(err);
      map.setView([41.80, 123.43], 11);
    });
})();
