// City Brain pages: suspects on a map (/citybrain), one suspect with the tracks of the trucks
// that visited (/citybrain/suspects/N), the heat map of stays of a day (/citybrain/heat:
// circles sized by the number of stays in each cell). WGS-84 without tiles (offline).
(function () {
  "use strict";
  var el = document.getElementById("cb-map");
  if (!el || typeof L === "undefined") { return; }
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  var map = L.map(el, { zoomControl: true, minZoom: 3, maxZoom: 19, zoomSnap: 0.25 });
  var colours = { pushed: "#c5221f", confirmed: "#7b1fa2", dismissed: "#5f6368" };
  var bounds = [];
  var points = data("cb-points");
  if (points) {
    points.forEach(function (p) {
      var m = L.circleMarker([p.lat, p.lon], { radius: 8, color: colours[p.status] || "#c5221f", weight: 2, fillOpacity: 0.6, className: "cb-point" }).addTo(map);
      var link = document.createElement("a");
      link.href = "/citybrain/suspects/" + p.id;
      link.textContent = p.ref;
      m.bindPopup(link);
      bounds.push([p.lat, p.lon]);
    });
  }
  var detail = data("cb-detail");
  if (detail) {
    var palette = ["#1a73e8", "#188038", "#e37400", "#9334e6", "#d01884", "#12b5cb", "#5f6368"];
    detail.tracks.forEach(function (tr, i) {
      if (tr.points.length > 1) {
        L.polyline(tr.points, { color: palette[i % palette.length], weight: 2, opacity: 0.7, className: "cb-track" }).addTo(map);
      }
    });
    detail.visits.forEach(function (v) {
      L.circleMarker([v.lat, v.lon], { radius: 3, color: "#202124", weight: 1, fillOpacity: 0.8, className: "cb-visit" }).addTo(map);
    });
    var s = detail.suspect;
    L.circle([s.lat, s.lon], { radius: detail.radius || 150, color: "#c5221f", weight: 2, fill: false, className: "cb-suspect" }).addTo(map);
    bounds.push([s.lat, s.lon]);
    map.setView([s.lat, s.lon], 15);
    el.setAttribute("data-ready", "1");
    return;
  }
  var cells = data("cb-heat");
  if (cells) {
    var max = 1;
    cells.forEach(function (c) { if (c.n > max) { max = c.n; } });
    cells.forEach(function (c) {
      var share = c.n / max;
      L.circleMarker([c.lat, c.lon], {
        radius: 3 + 14 * Math.sqrt(share), stroke: false,
        fillColor: share > 0.5 ? "#c5221f" : (share > 0.2 ? "#e37400" : "#f9ab00"), fillOpacity: 0.55, className: "cb-cell"
      }).bindTooltip(String(c.n)).addTo(map);
      bounds.push([c.lat, c.lon]);
    });
  }
  if (bounds.length) {
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
  } else {
    map.setView([41.8, 123.43], 11);
  }
  el.setAttribute("data-ready", "1");
})();
