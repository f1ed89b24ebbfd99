// Every htmx request carries the page's CSRF token (the API checks it for cookie callers).
(function () {
  "use strict";
  document.body.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector("meta[name=csrf-token]");
    if (meta) { e.detail.headers["X-CSRF-Token"] = meta.content; }
  });
})();
