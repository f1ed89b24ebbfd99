// WGS-84 <-> GCJ-02 in the browser, the same algorithm as dustgrid/geo/coords.py: the site
// form's map picker draws in the base map's datum (GCJ-02 for Chinese tile servers) while the
// ledger stores WGS-84. The inverse is iterated (not the one-step guess), to < 1e-10 degrees.
(function (root) {
  "use strict";
  var A = 6378245.0;
  var EE = 0.00669342162296594323;
  var TOLERANCE = 1e-10;
  var MAX_ITERATIONS = 30;

  function outOfChina(lat, lon) {
    return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
  }
  function tLat(x, y) {
    var r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
    r += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320.0 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
    return r;
  }
  function tLon(x, y) {
    var r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
    r += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
    return r;
  }
  function delta(lat, lon) {
    var dlat = tLat(lon - 105.0, lat - 35.0);
    var dlon = tLon(lon - 105.0, lat - 35.0);
    var radLat = lat / 180.0 * Math.PI;
    var magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    var sqrtMagic = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI);
    dlon = (dlon * 180.0) / (A / sqrtMagic * Math.cos(radLat) * Math.PI);
    return [dlat, dlon];
  }
  function wgs84ToGcj02(lat, lon) {
    if (outOfChina(lat, lon)) { return [lat, lon]; }
    var d = delta(lat, lon);
    return [lat + d[0], lon + d[1]];
  }
  function gcj02ToWgs84(lat, lon) {
    if (outOfChina(lat, lon)) { return [lat, lon]; }
    var d = delta(lat, lon);
    var p = [lat - d[0], lon - d[1]];
    for (var i = 0; i < MAX_ITERATIONS; i += 1) {
      var f = wgs84ToGcj02(p[0], p[1]);
      var rLat = lat - f[0], rLon = lon - f[1];
      if (Math.abs(rLat) < TOLERANCE && Math.abs(rLon) < TOLERANCE) { break; }
      p = [p[0] + rLat, p[1] + rLon];
    }
    return p;
  }
  // A stored WGS-84 point in the map's datum, and back ("wgs84" or "gcj02").
  function toMap(lat, lon, crs) { return crs === "gcj02" ? wgs84ToGcj02(lat, lon) : [lat, lon]; }
  function fromMap(lat, lon, crs) { return crs === "gcj02" ? gcj02ToWgs84(lat, lon) : [lat, lon]; }
  root.DustDatum = { wgs84ToGcj02: wgs84ToGcj02, gcj02ToWgs84: gcj02ToWgs84, toMap: toMap, fromMap: fromMap };
})(window);
