// Site map: district boundaries and names, roads and rivers (when no tile server is set), one
// marker per site coloured by grade, clustered when zoomed out. A cluster is a ring showing the
// mix of grades among its sites (not the colour of its worst one) with the count in the middle.
// Filters (grade, stage, district, grid) reload the sites through /api/v1/sites/map; the layer
// control adds monitors (online / offline), open alerts and open cases, each from its own API.
// Every position arrives in the base map's datum (cfg.crs): GCJ-02 for Chinese tile servers.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var T = cfg.text;
  var mapEl = document.getElementById("map");
  // User text (district and site names) goes into the map as DOM text, never as HTML:
  // Leaflet's bindTooltip/bindPopup and the attribution control insert strings as HTML.
  function textNode(value) {
    var span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span;
  }
  function escapeHtml(value) { return textNode(value).innerHTML; }
  function link(href, text, extra) {
    var box = document.createElement("div");
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    box.appendChild(a);
    if (extra) {
      box.appendChild(document.createElement("br"));
      box.appendChild(document.createTextNode(extra));
    }
    return box;
  }
  var GRADES = ["non_compliant", "basic", "full", "ungraded"];
  var COLORS = { non_compliant: "#d93025", basic: "#f29900", full: "#188038", ungraded: "#80868b" };
  var narrow = window.matchMedia("(max-width: 700px)").matches;
  var map = L.map("map", { zoomControl: true, minZoom: 3, maxZoom: 18, zoomSnap: 0.25 });
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: escapeHtml(cfg.tileAttribution || ""), maxZoom: 18 }).addTo(map);
  }
  map.createPane("basemap").style.zIndex = 250;       // above tiles, under boundaries and sites
  var labelPane = map.createPane("districtLabels");   // above boundaries, under markers
  labelPane.style.zIndex = 450;
  labelPane.style.pointerEvents = "none";

  // ---- the filter panel and the legend live in Leaflet controls (they stay on the map) ----
  var filterForm = document.getElementById("map-filters");
  var filters = L.control({ position: "topleft" });
  filters.onAdd = function () { L.DomEvent.disableClickPropagation(filterForm); return filterForm; };
  filters.addTo(map);
  if (!narrow) { document.getElementById("map-filters-box").open = true; }
  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () { return document.getElementById("legend"); };
  legend.addTo(map);

  // ---- roads and rivers, district boundaries and names ----
  var overlays = {};
  if (cfg.basemap && cfg.basemap.features.length) {
    var STYLE = {
      river: { color: "#9cc3e6", weight: 5, opacity: 0.9 },
      ring_road: { color: "#c5bfb3", weight: 4, opacity: 0.9 },
      road: { color: "#d3cec4", weight: 2.5, opacity: 0.9 }
    };
    var basemap = L.geoJSON(cfg.basemap, {
      pane: "basemap", interactive: false, renderer: L.svg({ pane: "basemap" }),
      style: function (f) { return STYLE[f.properties.kind] || STYLE.road; }
    }).addTo(map);
    overlays[T.layerBasemap] = basemap;
  }
  var districtLayer = L.geoJSON(
    { type: "FeatureCollection", features: cfg.districts.filter(function (d) { return d.boundary; }).map(function (d) {
      return { type: "Feature", properties: { id: d.id, name: d.name }, geometry: d.boundary };
    }) },
    {
      renderer: L.svg(),
      style: { color: "#0b3d91", weight: 2, fillOpacity: 0.04, dashArray: "4 3" },
      onEachFeature: function (f, layer) { layer.bindTooltip(textNode(f.properties.name), { sticky: true }); }
    }
  );
  var districtNames = L.layerGroup(cfg.districts.filter(function (d) { return d.label; }).map(function (d) {
    return L.marker(d.label, {
      pane: "districtLabels", interactive: false, keyboard: false,
      icon: L.divIcon({ className: "district-label", html: escapeHtml(d.name), iconSize: null })
    });
  }));
  var districts = L.layerGroup([districtLayer, districtNames]).addTo(map);
  overlays[T.layerDistricts] = districts;

  // ---- sites: a ring per cluster, the grade colour for a single site ----
  function gradeMix(children) {
    var counts = { non_compliant: 0, basic: 0, full: 0, ungraded: 0 };
    children.forEach(function (m) { counts[m.options.grade in counts ? m.options.grade : "ungraded"] += 1; });
    return counts;
  }
  function ringStyle(counts, n) {
    var stops = [], at = 0;
    GRADES.forEach(function (g) {
      if (!counts[g]) { return; }
      var to = at + counts[g] / n * 100;
      stops.push(COLORS[g] + " " + at.toFixed(2) + "% " + to.toFixed(2) + "%");
      at = to;
    });
    return "background:conic-gradient(" + stops.join(",") + ")";
  }
  function clusterIcon(cluster) {
    var n = cluster.getChildCount();
    var counts = gradeMix(cluster.getAllChildMarkers());
    var title = GRADES.filter(function (g) { return counts[g]; }).map(function (g) {
      return cfg.labels[g] + " " + counts[g];
    }).join(" · ");
    var mix = GRADES.map(function (g) { return g + ":" + counts[g]; }).join(",");
    var size = n < 20 ? 36 : n < 100 ? 44 : 52;
    return L.divIcon({
      html: '<div class="ring" style="' + ringStyle(counts, n) + '" title="' + escapeHtml(title) +
            '" data-count="' + n + '" data-mix="' + mix + '"><span>' + n + "</span></div>",
      className: "marker-cluster cluster-ring", iconSize: L.point(size, size)
    });
  }
  var clusters = L.markerClusterGroup({ iconCreateFunction: clusterIcon, chunkedLoading: true,
                                        disableClusteringAtZoom: 16, showCoverageOnHover: false });
  map.addLayer(clusters);
  overlays[T.layerSites] = clusters;

  function siteMarker(row) {
    var id = row[0], grade = row[3], name = row[4], code = row[5];
    var m = L.circleMarker([row[1], row[2]], {
      radius: 7, color: "#fff", weight: 1.5, fillColor: COLORS[grade] || COLORS.ungraded,
      fillOpacity: 0.95, grade: grade, className: "site-marker grade-" + grade
    });
    m.bindPopup(link("/sites/" + id, name, code + " · " + (cfg.labels[grade] || "")));
    return m;
  }
  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); });
  }
  function filterQuery() {
    var q = new URLSearchParams({ crs: cfg.crs }), n = 0;
    new FormData(filterForm).forEach(function (value, key) {
      if (value) { q.set(key, String(value)); n += 1; }
    });
    document.getElementById("filter-count").textContent = n ? "(" + n + ")" : "";
    return q.toString();
  }
  function scopeBounds(markers) {
    var own = cfg.fitDistrict && districtLayer.getLayers().filter(function (l) {
      return l.feature.properties.id === cfg.fitDistrict;
    })[0];
    if (own) { return own.getBounds(); }
    var b = L.latLngBounds([]);
    markers.forEach(function (m) { b.extend(m.getLatLng()); });
    if (!b.isValid() && districtLayer.getLayers().length) { b = districtLayer.getBounds(); }
    return b;
  }
  var byId = {}, first = true;
  function showHashSite() {
    var hash = /site=(\d+)/.exec(window.location.hash);
    if (hash && byId[hash[1]]) {
      clusters.zoomToShowLayer(byId[hash[1]], function () { byId[hash[1]].openPopup(); });
      return true;
    }
    return false;
  }
  window.addEventListener("hashchange", showHashSite);
  function loadSites() {
    mapEl.removeAttribute("data-markers");
    return getJson("/api/v1/sites/map?" + filterQuery()).then(function (data) {
      byId = {};
      var markers = data.rows.map(function (row) { var m = siteMarker(row); byId[row[0]] = m; return m; });
      clusters.clearLayers();
      clusters.addLayers(markers);
      var filtered = document.getElementById("filter-count").textContent;
      document.getElementById("site-count").textContent =
        (filtered ? T.shown : T.sites).replace("__N__", markers.length);
      mapEl.setAttribute("data-markers", String(markers.length));
      if (first) {
        first = false;
        if (showHashSite()) { return; }
        var b = scopeBounds(markers);
        if (b.isValid()) { map.fitBounds(b, { padding: [20, 20] }); } else { map.setView([41.80, 123.43], 11); }
      }
    }).catch(function () {
      document.getElementById("site-count").textContent = T.failed;
      if (first) { first = false; map.setView([41.80, 123.43], 11); }
    });
  }
  filterForm.addEventListener("change", function (ev) {
    if (ev.target.name === "district_id") { narrowGrids(ev.target.value); }
    loadSites();
  });
  filterForm.addEventListener("reset", function () {
    window.setTimeout(function () { narrowGrids(""); loadSites(); }, 0);
  });
  filterForm.addEventListener("submit", function (ev) { ev.preventDefault(); });
  function narrowGrids(districtId) {
    var select = filterForm.elements.grid_id;
    Array.prototype.forEach.call(select.options, function (o) {
      var d = o.getAttribute("data-district");
      o.hidden = Boolean(districtId && d && d !== districtId);
      if (o.hidden && o.selected) { select.value = ""; }
    });
  }

  // ---- monitors, open alerts and open cases: loaded when their layer is first switched on ----
  function shapeIcon(cls, label) {
    return L.divIcon({ className: "map-shape " + cls, iconSize: L.point(14, 14), html: "<span>" + escapeHtml(label) + "</span>" });
  }
  var devicesOn = L.layerGroup(), devicesOff = L.layerGroup(), alerts = L.layerGroup(), cases = L.layerGroup();
  var CASE_TEXT = { green: T.caseGreen, yellow: T.caseYellow, red: T.caseRed };
  var sources = [
    { layer: devicesOn, attr: "data-devices-online", legend: "legend-devices", url: "/api/v1/devices/map",
      rows: function (d) { return d.rows.filter(function (r) { return r[3]; }); },
      marker: function (r) {
        return L.marker([r[1], r[2]], { icon: shapeIcon("dev-marker dev-on", ""), title: T.deviceOnline })
          .bindPopup(link("/devices/" + r[0], r[4], T.deviceOnline));
      } },
    { layer: devicesOff, attr: "data-devices-offline", legend: "legend-devices", url: "/api/v1/devices/map",
      rows: function (d) { return d.rows.filter(function (r) { return !r[3]; }); },
      marker: function (r) {
        return L.marker([r[1], r[2]], { icon: shapeIcon("dev-marker dev-off", ""), title: T.deviceOffline })
          .bindPopup(link("/devices/" + r[0], r[4], T.deviceOffline));
      } },
    { layer: alerts, attr: "data-alerts", legend: "legend-alerts", url: "/api/v1/alerts/map",
      rows: function (d) { return d.rows; },
      marker: function (r) {
        return L.marker([r[1], r[2]], { icon: shapeIcon("alert-marker sev-" + r[4], "!"), title: T.alertOpen })
          .bindPopup(link("/alerts/" + r[0], T.openAlert, T.alertOpen));
      } },
    { layer: cases, attr: "data-cases", legend: "legend-cases", url: "/api/v1/cases/map",
      rows: function (d) { return d; },
      marker: function (c) {
        return L.marker([c.lat, c.lon], { icon: shapeIcon("case-marker light-" + c.light, ""), title: CASE_TEXT[c.light] || "" })
          .bindPopup(link("/cases/" + c.id, T.openCase, CASE_TEXT[c.light] || ""));
      } }
  ];
  var cache = {};
  function fill(src) {
    if (src.loaded) { return; }
    src.loaded = true;
    cache[src.url] = cache[src.url] || getJson(src.url + "?crs=" + encodeURIComponent(cfg.crs));
    cache[src.url].then(function (data) {
      var rows = src.rows(data);
      rows.forEach(function (r) { src.layer.addLayer(src.marker(r)); });
      mapEl.setAttribute(src.attr, String(rows.length));
    }).catch(function () { src.loaded = false; mapEl.setAttribute(src.attr, "error"); });
  }
  overlays[T.layerDevicesOnline] = devicesOn;
  overlays[T.layerDevicesOffline] = devicesOff;
  overlays[T.layerAlerts] = alerts;
  overlays[T.layerCases] = cases;
  map.on("overlayadd overlayremove", function (ev) {
    sources.forEach(function (src) {
      if (src.layer !== ev.layer) { return; }
      if (ev.type === "overlayadd") { fill(src); }
      var shown = sources.some(function (s) { return s.legend === src.legend && map.hasLayer(s.layer); });
      document.getElementById(src.legend).hidden = !shown;
    });
  });
  L.control.layers(null, overlays, { collapsed: narrow, position: "topright" }).addTo(map);

  loadSites();
})();
