// The base map the two map pickers share (the site form's site_map.js and the known-place
// form's place_map.js): the tile server when one is set, else the demo city's roads and
// rivers, and the district boundaries in scope, all in the base map's datum (cfg.crs; the
// pickers convert with DustDatum). Loaded after leaflet.js and datum.js, before the picker.
(function (root) {
  "use strict";
  var STYLE = {
    river: { color: "#9cc3e6", weight: 5, opacity: 0.9 },
    ring_road: { color: "#c5bfb3", weight: 4, opacity: 0.9 },
    road: { color: "#d3cec4", weight: 2.5, opacity: 0.9 }
  };

  // A Leaflet map in the element ``id`` with the base layers of ``cfg`` (the picker's JSON
  // configuration); returns the map and its district layer (for the first view).
  function create(id, cfg, maxZoom) {
    var map = L.map(id, { minZoom: 3, maxZoom: maxZoom, zoomSnap: 0.25 });
    if (cfg.tileUrl) {
      var attribution = document.createElement("span");  // the text as text, never as HTML
      attribution.textContent = cfg.tileAttribution || "";
      L.tileLayer(cfg.tileUrl, { attribution: attribution.innerHTML, maxZoom: maxZoom }).addTo(map);
    }
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
    return { map: map, districts: districts };
  }

  // The WGS-84 point typed in the latitude and longitude boxes, or null when it is no point.
  function typed(latIn, lonIn) {
    var lat = parseFloat(latIn.value), lon = parseFloat(lonIn.value);
    if (!isFinite(lat) || !isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) { return null; }
    return [lat, lon];
  }

  root.DustPickMap = { create: create, typed: typed };
})(window);
