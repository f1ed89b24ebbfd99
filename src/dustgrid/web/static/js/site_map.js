// The site form's map picker: clicking the map or dragging the pin fills latitude and
// longitude (WGS-84, 6 decimals, as the ledger stores them); typing coordinates (or "use my
// location") moves the pin. The map draws what the ledger map draws: the demo city's roads and
// rivers when no tile server is set, and the district boundaries in scope, all in the base
// map's datum (GCJ-02 for Chinese tile servers; DustDatum converts both ways).
// Without JavaScript the map stays hidden and the two number boxes work alone.
(function () {
  "use strict";
  var row = document.querySelector("[data-coord-map-row]");
  var cfgEl = document.getElementById("coord-map-config");
  var form = document.querySelector("form[data-site-form]");
  if (!row || !cfgEl || !form || !window.L || !window.DustDatum) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var latIn = form.querySelector('[name="lat"]');
  var lonIn = form.querySelector('[name="lon"]');
  var DIGITS = 6;
  var PIN_ZOOM = 15;
  row.hidden = false;

  var map = L.map("coord-map", { minZoom: 3, maxZoom: 18, zoomSnap: 0.25 });
  if (cfg.tileUrl) {
    var attribution = document.createElement("span");
    attribution.textContent = cfg.tileAttribution || "";
    L.tileLayer(cfg.tileUrl, { attribution: attribution.innerHTML, maxZoom: 18 }).addTo(map);
  }
  var STYLE = {
    river: { color: "#9cc3e6", weight: 5, opacity: 0.9 },
    ring_road: { color: "#c5bfb3", weight: 4, opacity: 0.9 },
    road: { color: "#d3cec4", weight: 2.5, opacity: 0.9 }
  };
  if (cfg.basemap && cfg.basemap.features.length) {
    L.geoJSON(cfg.basemap, {
      interactive: false,
      style: function (f) { return STYLE[f.properties.kind] || STYLE.road; }
    }).addTo(map);
  }
  var districts = L.geoJSON({ type: "FeatureCollection", features: cfg.districts.map(function (d) {
    return { type: "Feature", properties: { id: d.id }, geometry: d.boundary };
  }) }, { interactive: false, style: { color: "#0b3d91", weight: 2, fillOpacity: 0.04, dashArray: "4 3" } })
    .addTo(map);

  var pin = L.marker([0, 0], {
    draggable: true, autoPan: true, keyboard: false,
    icon: L.divIcon({ className: "coord-pin", html: "<span></span>", iconSize: [24, 24], iconAnchor: [12, 24] })
  });

  function typed() {
    var lat = parseFloat(latIn.value), lon = parseFloat(lonIn.value);
    if (!isFinite(lat) || !isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) { return null; }
    return [lat, lon];
  }
  function showPin(wgs, pan) {
    var p = DustDatum.toMap(wgs[0], wgs[1], cfg.crs);
    pin.setLatLng(p);
    if (!map.hasLayer(pin)) { pin.addTo(map); }
    if (pan) { map.setView(p, Math.max(map.getZoom() || 0, PIN_ZOOM)); }
  }
  // A point of the map (its datum) into the form, as WGS-84; "change" tells other helpers.
  function fill(latlng) {
    var w = DustDatum.fromMap(latlng.lat, latlng.lng, cfg.crs);
    latIn.value = w[0].toFixed(DIGITS);
    lonIn.value = w[1].toFixed(DIGITS);
    showPin([parseFloat(latIn.value), parseFloat(lonIn.value)], false);
    [latIn, lonIn].forEach(function (input) {
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  map.on("click", function (e) { fill(e.latlng); });
  pin.on("dragend", function () { fill(pin.getLatLng()); });
  [latIn, lonIn].forEach(function (input) {
    input.addEventListener("input", function () { var w = typed(); if (w) { showPin(w, true); } });
  });
  // "use my location" (site_form.js) fills the boxes and says so with this event.
  form.addEventListener("coordinates-filled", function () { var w = typed(); if (w) { showPin(w, true); } });

  var start = typed();
  if (start) {
    showPin(start, true);
  } else if (districts.getLayers().length) {
    map.fitBounds(districts.getBounds(), { padding: [8, 8] });
  } else {
    map.setView([35, 105], 4);
  }
  row.setAttribute("data-ready", "1");
})();
