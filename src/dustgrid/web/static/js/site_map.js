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
  if (!row || !cfgEl || !form || !window.L || !window.DustDatum || !window.DustPickMap) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var latIn = form.querySelector('[name="lat"]');
  var lonIn = form.querySelector('[name="lon"]');
  var DIGITS = 6;
  var PIN_ZOOM = 15;
  row.hidden = false;

  var base = DustPickMap.create("coord-map", cfg, 18);
  var map = base.map, districts = base.districts;

  var pin = L.marker([0, 0], {
    draggable: true, autoPan: true, keyboard: false,
    icon: L.divIcon({ className: "coord-pin", html: "<span></span>", iconSize: [24, 24], iconAnchor: [12, 24] })
  });

  function typed() { return DustPickMap.typed(latIn, lonIn); }
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
