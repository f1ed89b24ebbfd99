// Emergency declaration form: show the district boxes or the map for the chosen area, and
// let the user draw the area polygon by clicking its corners (WGS-84, no tiles: district
// outlines only). The polygon goes into the hidden "polygon" field as GeoJSON.
(function () {
  "use strict";
  var form = document.querySelector("[data-testid=declare-form]");
  if (!form) { return; }
  var districts = JSON.parse(document.getElementById("em-config").textContent);
  var hidden = document.getElementById("em-polygon");
  var count = document.getElementById("em-map-count");
  var blocks = form.querySelectorAll("[data-area]");
  var map = null, shape = null, points = [];

  function textNode(value) {
    var span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span;
  }

  function redraw() {
    if (shape) { map.removeLayer(shape); shape = null; }
    if (points.length) {
      shape = (points.length >= 3 ? L.polygon(points, { color: "#c5221f" }) : L.polyline(points, { color: "#c5221f" })).addTo(map);
    }
    if (points.length >= 3) {
      var ring = points.map(function (p) { return [p[1], p[0]]; });
      ring.push(ring[0]);
      hidden.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    } else {
      hidden.value = "";
    }
    count.textContent = points.length ? String(points.length) : "";
  }

  function initMap() {
    if (map) { map.invalidateSize(); return; }
    map = L.map("em-map", { zoomControl: true, minZoom: 3, maxZoom: 18, zoomSnap: 0.25 });
    var layer = L.geoJSON(
      { type: "FeatureCollection", features: districts.filter(function (d) { return d.boundary; }).map(function (d) {
        return { type: "Feature", properties: { name: d.name }, geometry: d.boundary };
      }) },
      { style: { color: "#0b3d91", weight: 2, fillOpacity: 0.04, dashArray: "4 3" },
        onEachFeature: function (f, l) { l.bindTooltip(textNode(f.properties.name), { sticky: true }); } }
    ).addTo(map);
    if (layer.getLayers().length) { map.fitBounds(layer.getBounds()); } else { map.setView([35, 105], 4); }
    map.on("click", function (e) { points.push([e.latlng.lat, e.latlng.lng]); redraw(); });
  }

  function show() {
    var kind = form.querySelector("input[name=area_kind]:checked").value;
    blocks.forEach(function (b) { b.hidden = b.getAttribute("data-area") !== kind; });
    if (kind === "polygon") { initMap(); }
  }

  form.querySelectorAll("input[name=area_kind]").forEach(function (r) { r.addEventListener("change", show); });
  document.getElementById("em-map-clear").addEventListener("click", function () { points = []; if (map) { redraw(); } });
  show();
}());
