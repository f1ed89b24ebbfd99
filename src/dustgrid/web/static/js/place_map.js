// The known-place form (/citybrain/places/new, /citybrain/places/N/edit): the place is a
// circle or a drawn boundary.
// - Circle: a click on the map sets the centre (the latitude and longitude boxes, WGS-84,
//   6 decimals); typing the boxes or the radius redraws the circle.
// - Boundary: each click adds a corner; every corner can be dragged; "remove the last
//   corner" and "clear" undo; "add a corner at the map centre" lets a keyboard user draw
//   (the arrow keys pan the map). From 3 corners on, the polygon goes into the hidden
//   "boundary" field as GeoJSON (WGS-84); the server checks it (a ring must not cross itself).
// The map (pick_map.js) is drawn in the base map's datum (GCJ-02 for Chinese tile servers;
// DustDatum converts both ways). Without JavaScript the circle's boxes work alone.
(function () {
  "use strict";
  var form = document.querySelector("form[data-place-form]");
  var cfgEl = document.getElementById("place-map-config");
  if (!form || !cfgEl || !window.L || !window.DustDatum || !window.DustPickMap) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var DIGITS = 6;
  var ZOOM = 16;
  var latIn = form.querySelector('[name="lat"]');
  var lonIn = form.querySelector('[name="lon"]');
  var radiusIn = form.querySelector('[name="radius_m"]');
  var hidden = form.querySelector('[name="boundary"]');
  var count = form.querySelector("[data-testid=draw-count]");
  var corners = [];  // WGS-84 [lat, lon], in drawing order
  var markers = [];
  var outline = null, circle = null;

  var base = DustPickMap.create("place-map", cfg, 19);
  var map = base.map, districts = base.districts;

  function shape() {
    var checked = form.querySelector("input[name=shape]:checked");
    return checked ? checked.value : "circle";
  }
  function toMap(w) { return DustDatum.toMap(w[0], w[1], cfg.crs); }
  function fromMap(latlng) {
    var w = DustDatum.fromMap(latlng.lat, latlng.lng, cfg.crs);
    return [parseFloat(w[0].toFixed(DIGITS)), parseFloat(w[1].toFixed(DIGITS))];
  }

  // ------------------------------------------------------------------ the boundary
  function cornerIcon(last) {
    return L.divIcon({ className: "cb-corner" + (last ? " last" : ""), html: "<span></span>",
      iconSize: [18, 18], iconAnchor: [9, 9] });
  }
  function save() {
    if (corners.length >= 3) {
      var ring = corners.map(function (c) { return [c[1], c[0]]; });
      ring.push(ring[0]);
      hidden.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    } else {
      hidden.value = "";
    }
    var text = corners.length ? count.getAttribute("data-some").replace("{n}", String(corners.length))
      : count.getAttribute("data-none");
    count.textContent = text;
  }
  function drawOutline() {
    if (outline) { map.removeLayer(outline); outline = null; }
    if (!corners.length || shape() !== "boundary") { return; }
    var pts = corners.map(toMap);
    var style = { color: "#c5221f", weight: 2, fillOpacity: 0.15, interactive: false, className: "cb-outline" };
    outline = (pts.length >= 3 ? L.polygon(pts, style) : L.polyline(pts, style)).addTo(map);
  }
  function drawCorners() {
    markers.forEach(function (m) { map.removeLayer(m); });
    markers = [];
    if (shape() !== "boundary") { return; }
    corners.forEach(function (c, i) {
      var m = L.marker(toMap(c), { draggable: true, keyboard: false, icon: cornerIcon(i === corners.length - 1) });
      m.on("drag", function () { corners[i] = fromMap(m.getLatLng()); drawOutline(); });
      m.on("dragend", function () { corners[i] = fromMap(m.getLatLng()); drawOutline(); save(); });
      m.addTo(map);
      markers.push(m);
    });
  }
  function redraw() { drawOutline(); drawCorners(); save(); }
  function addCorner(latlng) { corners.push(fromMap(latlng)); redraw(); }

  function readBoundary() {
    if (!hidden.value) { return; }
    try {
      var g = JSON.parse(hidden.value);
      var ring = g.type === "Polygon" ? g.coordinates[0] : g.type === "MultiPolygon" ? g.coordinates[0][0] : [];
      corners = ring.slice(0, ring.length > 1 && ring[0][0] === ring[ring.length - 1][0]
        && ring[0][1] === ring[ring.length - 1][1] ? ring.length - 1 : ring.length)
        .map(function (p) { return [p[1], p[0]]; });
    } catch (e) {
      corners = [];
    }
  }

  // ------------------------------------------------------------------ the circle
  function typed() { return DustPickMap.typed(latIn, lonIn); }
  function drawCircle() {
    if (circle) { map.removeLayer(circle); circle = null; }
    var w = typed();
    if (!w || shape() !== "circle") { return; }
    var r = parseFloat(radiusIn.value);
    circle = L.circle(toMap(w), { radius: isFinite(r) && r > 0 ? r : 0, color: "#c5221f", weight: 2,
      fillOpacity: 0.15, interactive: false, className: "cb-outline" }).addTo(map);
  }
  function setCentre(latlng) {
    var w = fromMap(latlng);
    latIn.value = w[0].toFixed(DIGITS);
    lonIn.value = w[1].toFixed(DIGITS);
    drawCircle();
  }

  // ------------------------------------------------------------------ wiring
  function showShape() {
    var kind = shape();
    form.querySelectorAll("[data-shape]").forEach(function (el) {
      el.hidden = el.getAttribute("data-shape") !== kind;
    });
    redraw();
    drawCircle();
  }
  map.on("click", function (e) {
    if (shape() === "boundary") { addCorner(e.latlng); } else { setCentre(e.latlng); }
  });
  form.querySelectorAll("input[name=shape]").forEach(function (r) { r.addEventListener("change", showShape); });
  [latIn, lonIn, radiusIn].forEach(function (input) { input.addEventListener("input", drawCircle); });
  form.querySelector("[data-draw=centre]").addEventListener("click", function () { addCorner(map.getCenter()); });
  form.querySelector("[data-draw=undo]").addEventListener("click", function () { corners.pop(); redraw(); });
  form.querySelector("[data-draw=clear]").addEventListener("click", function () { corners = []; redraw(); });

  readBoundary();
  var start = typed();  // the view first: Leaflet draws a layer only on a map with a view
  if (corners.length && shape() === "boundary") {
    map.fitBounds(L.latLngBounds(corners.map(toMap)), { padding: [24, 24], maxZoom: ZOOM + 1 });
  } else if (start) {
    map.setView(toMap(start), ZOOM);
  } else if (districts.getLayers().length) {
    map.fitBounds(districts.getBounds(), { padding: [8, 8] });
  } else {
    map.setView([41.8, 123.43], 11);
  }
  showShape();
  form.setAttribute("data-ready", "1");
})();
