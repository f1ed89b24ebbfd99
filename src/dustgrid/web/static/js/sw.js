// DustGrid's service worker (served at /sw.js). The field pages (Today, the inspection
// page) and the static assets are fetched from the network first and kept in a cache, so a
// phone without a network still opens what it opened before. Nothing else is touched: API
// calls, forms and every other page go straight to the network. Visits made offline wait
// in the page's IndexedDB outbox (static/js/field_queue.js), not here.
"use strict";
var CACHE = "dustgrid-field-v1";
var PRECACHE = [
  "/static/css/app.css",
  "/static/css/inspection.css",
  "/static/js/menu.js",
  "/static/js/csrf.js",
  "/static/js/inspection.js",
  "/static/js/inspection_page.js",
  "/static/js/field_queue.js",
  "/static/js/field_outbox.js",
  "/static/js/today.js",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/htmx.org/htmx.min.js"
];

function cacheable(url) {
  return url.origin === self.location.origin && (
    url.pathname.indexOf("/static/") === 0 ||
    url.pathname === "/today" ||
    url.pathname.indexOf("/inspections/new/") === 0
  );
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(PRECACHE).catch(function () { /* a missing file must not block */ });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) {
      return caches.delete(k);
    }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") { return; }
  var url = new URL(req.url);
  if (!cacheable(url)) { return; }
  event.respondWith(fetch(req).then(function (resp) {
    // a page is kept only when it is the page itself (not the login page it redirected to)
    if (resp.ok && !resp.redirected) {
      var copy = resp.clone();
      caches.open(CACHE).then(function (cache) { cache.put(req, copy); });
    }
    return resp;
  }, function () {
    return caches.match(req, { ignoreSearch: url.pathname.indexOf("/static/") === 0 }).then(function (hit) {
      return hit || Response.error();
    });
  }));
});
