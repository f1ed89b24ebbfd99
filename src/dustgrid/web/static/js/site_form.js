// The site form's helpers: "use my location" fills latitude and longitude from the device
// (WGS-84, as the form asks), and the enterprise boxes propose the enterprises of the sites
// in scope by name or credit code (GET /api/v1/sites/enterprises); picking one fills both
// its name and its code. Without JavaScript the form works as plain text boxes.
(function () {
  "use strict";
  var known = {};
  var timer = null;

  function option(list, value, label) {
    var o = document.createElement("option");
    o.value = value;
    o.label = label;
    list.appendChild(o);
  }

  function fill(rows) {
    var names = document.getElementById("ent-names");
    var codes = document.getElementById("ent-codes");
    names.textContent = "";
    codes.textContent = "";
    rows.forEach(function (e) {
      known[e.name] = e;
      known[e.uscc] = e;
      option(names, e.name, e.uscc);
      option(codes, e.uscc, e.name);
    });
  }

  function lookup(q) {
    fetch("/api/v1/sites/enterprises?q=" + encodeURIComponent(q), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (r) { return r.ok ? r.json() : []; }).then(fill).catch(function () {});
  }

  function wireEnterprise(form, input) {
    var who = input.getAttribute("data-enterprise");
    input.addEventListener("input", function () {
      var q = input.value.trim();
      var hit = known[q];
      if (hit) {
        form.querySelector('[name="' + who + '_name"]').value = hit.name;
        form.querySelector('[name="' + who + '_uscc"]').value = hit.uscc;
        return;
      }
      clearTimeout(timer);
      if (q.length < 2) { return; }
      timer = setTimeout(function () { lookup(q); }, 250);
    });
  }

  function wireLocate(form) {
    var button = form.querySelector("[data-locate]");
    var status = form.querySelector("[data-locate-status]");
    if (!button || !navigator.geolocation) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "";
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.querySelector('[name="lat"]').value = pos.coords.latitude.toFixed(6);
        form.querySelector('[name="lon"]').value = pos.coords.longitude.toFixed(6);
        form.dispatchEvent(new Event("coordinates-filled"));  // the map picker moves its pin
        button.disabled = false;
      }, function () {
        status.textContent = button.getAttribute("data-failed");
        button.disabled = false;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  function wire() {
    var form = document.querySelector("form[data-site-form]");
    if (!form) { return; }
    var inputs = form.querySelectorAll("[data-enterprise]");
    for (var i = 0; i < inputs.length; i += 1) { wireEnterprise(form, inputs[i]); }
    wireLocate(form);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
