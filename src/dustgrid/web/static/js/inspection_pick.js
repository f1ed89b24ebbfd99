// The site picker: nearest first from the phone's position (plus the text filter).
(function () {
  "use strict";
  var list = document.getElementById("site-list");
  var status = document.getElementById("pick-status");
  if (!list || !status || !navigator.geolocation) { return; }

  function unit(m) {
    var zh = document.documentElement.lang !== "en";
    if (m >= 1000) { return (m / 1000).toFixed(1) + (zh ? " 公里" : " km"); }
    return Math.round(m) + (zh ? " 米" : " m");
  }
  function row(site) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = "/inspections/new/" + site.id;
    var away = document.createElement("span");
    away.className = "insp-away";
    away.textContent = site.distance_m != null ? status.dataset.away.replace("{d}", unit(site.distance_m)) : "";
    var name = document.createElement("strong");
    name.textContent = site.name;
    var small = document.createElement("small");
    small.textContent = site.project_code + " · " + site.address;
    a.append(away, name, small);
    li.append(a);
    return li;
  }
  status.textContent = status.dataset.locating;
  navigator.geolocation.getCurrentPosition(function (pos) {
    var params = new URLSearchParams({
      lat: pos.coords.latitude, lon: pos.coords.longitude, q: list.dataset.q || ""
    });
    fetch("/api/v1/inspections/nearby?" + params, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (sites) {
        list.replaceChildren.apply(list, sites.map(row));
        if (!sites.length) {
          var li = document.createElement("li");
          li.className = "muted";
          li.textContent = status.dataset.empty;
          list.append(li);
        }
        status.textContent = status.dataset.located;
      }, function () { status.textContent = status.dataset.noPosition; });
  }, function () { status.textContent = status.dataset.noPosition; },
  { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
})();
