// The check-in and checklist page: geolocation check-in, pass/fail/na toggles, photos per
// failed item, and the submit through DustGridInspection.sendVisit (inspection.js).
(function () {
  "use strict";
  var root = document.getElementById("visit");
  var form = document.getElementById("checklist");
  if (!root || !form) { return; }
  var api = window.DustGridInspection;
  var siteId = parseInt(root.dataset.siteId, 10);
  var status = document.getElementById("checkin-status");
  var errorBox = document.getElementById("submit-error");
  var storeKey = "dustgrid-visit-" + siteId;
  var visit = { site_id: siteId, mode: "on_site", key: sessionStorage.getItem(storeKey) || api.newKey() };
  sessionStorage.setItem(storeKey, visit.key);
  var photos = {};

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] != null ? values[k] : m; });
  }
  function distance(m) {
    if (m >= 1000) { return (m / 1000).toFixed(1) + " " + root.dataset.unitKm; }
    return Math.round(m) + " " + root.dataset.unitM;
  }
  function localPart(detail) {
    var parts = String(detail || "").split(" / ");
    return root.dataset.locale === "en" && parts.length > 1 ? parts.slice(1).join(" / ") : parts[0];
  }
  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("is-error", !!isError);
  }
  function refusal(err) {
    var d = err.body && err.body.details;
    if (d && d.distance_m != null) {
      return fill(root.dataset.msgTooFar, { d: distance(d.distance_m), r: Math.round(d.radius_m) });
    }
    return localPart(err.message);
  }

  function checkedIn(inspection) {
    if (visit.mode === "video") {
      say(root.dataset.msgOkVideo);
    } else {
      say(fill(root.dataset.msgOk, {
        d: distance(inspection.check_in_distance_m || 0),
        a: Math.round(inspection.check_in_accuracy_m || 0)
      }));
    }
    form.hidden = false;
  }
  // No network: the check-in is kept on the phone (its time and position) and sent with
  // the whole visit by the outbox; the fence is checked then.
  function checkedInOffline() {
    var at = new Date(visit.checked_in_at);
    say(fill(root.dataset.msgCheckinSaved, {
      at: ("0" + at.getHours()).slice(-2) + ":" + ("0" + at.getMinutes()).slice(-2)
    }));
    form.hidden = false;
  }
  function doCheckIn() {
    api.checkIn(visit).then(checkedIn, function (err) {
      if (err instanceof api.ApiError) { say(refusal(err), true); } else { checkedInOffline(); }
    });
  }

  var onSite = document.getElementById("checkin-on-site");
  onSite.addEventListener("click", function () {
    if (!navigator.geolocation) { say(root.dataset.msgNoGeo, true); return; }
    say(root.dataset.msgLocating);
    navigator.geolocation.getCurrentPosition(function (pos) {
      visit.mode = "on_site";
      visit.lat = pos.coords.latitude;
      visit.lon = pos.coords.longitude;
      visit.accuracy_m = pos.coords.accuracy;
      visit.checked_in_at = new Date().toISOString();
      doCheckIn();
    }, function () { say(root.dataset.msgNoGeo, true); },
    { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
  });
  var video = document.getElementById("checkin-video");
  if (video) {
    video.addEventListener("click", function () {
      visit.mode = "video";
      visit.lat = visit.lon = visit.accuracy_m = null;
      visit.checked_in_at = new Date().toISOString();
      doCheckIn();
    });
  }

  var items = Array.prototype.slice.call(form.querySelectorAll(".insp-item"));
  items.forEach(function (li) {
    var code = li.dataset.code;
    var failBox = li.querySelector(".insp-fail");
    li.querySelectorAll("input[type=radio]").forEach(function (radio) {
      radio.addEventListener("change", function () { failBox.hidden = radio.value !== "failed"; });
    });
    li.querySelector(".insp-photo").addEventListener("change", function (e) {
      var picked = Array.prototype.slice.call(e.target.files);
      photos[code] = (photos[code] || []).concat(picked);
      li.querySelector(".insp-photo-count").textContent = fill(root.dataset.msgPhotos, { n: photos[code].length });
      var thumbs = li.querySelector(".insp-thumbs");
      picked.forEach(function (f) {  // a preview from the blob kept on the phone (img-src blob:)
        var img = document.createElement("img");
        img.className = "insp-thumb";
        img.alt = f.name;
        img.src = URL.createObjectURL(f);
        thumbs.appendChild(img);
      });
    });
  });
  document.getElementById("all-pass").addEventListener("click", function () {
    items.forEach(function (li) {
      var r = li.querySelector("input[value=passed]");
      r.checked = true;
      r.dispatchEvent(new Event("change"));
    });
  });

  function collect() {
    var answers = [], unanswered = [], bare = [], shots = [];
    items.forEach(function (li) {
      var code = li.dataset.code;
      var picked = li.querySelector("input[type=radio]:checked");
      if (!picked) { unanswered.push(li.dataset.label); return; }
      var note = picked.value === "failed" ? li.querySelector(".insp-note").value : "";
      answers.push({ item_code: code, outcome: picked.value, note: note });
      if (picked.value !== "failed") { return; }
      if (!(photos[code] || []).length) { bare.push(li.dataset.label); }
      (photos[code] || []).forEach(function (f) { shots.push({ item_code: code, blob: f, name: f.name }); });
    });
    return { answers: answers, unanswered: unanswered, bare: bare, photos: shots };
  }
  function showError(text) { errorBox.textContent = text; errorBox.hidden = !text; }

  var button = form.querySelector("button[type=submit]");
  function release(text) {
    button.disabled = false;
    button.textContent = form.dataset.submitLabel || button.textContent;
    showError(text);
  }
  // A visit sent by the outbox (now or later, from this page or another field page).
  document.addEventListener("dustgrid:visit-sent", function (e) {
    if (e.detail.key !== visit.key) { return; }
    sessionStorage.removeItem(storeKey);
    window.location.assign("/inspections/" + e.detail.inspection.id);
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var c = collect();
    if (c.unanswered.length) { showError(fill(root.dataset.msgUnanswered, { items: c.unanswered.join("、") })); return; }
    if (c.bare.length) { showError(fill(root.dataset.msgNeedPhoto, { items: c.bare.join("、") })); return; }
    showError("");
    button.disabled = true;
    button.textContent = root.dataset.msgSubmitting;
    visit.answers = c.answers;
    visit.photos = c.photos;
    visit.note = document.getElementById("visit-note").value;
    if (!window.FieldQueue) {  // no outbox (IndexedDB unavailable): send straight away
      api.sendVisit(visit).then(function (detail) {
        sessionStorage.removeItem(storeKey);
        window.location.assign("/inspections/" + detail.id);
      }, function (err) {
        release(err instanceof api.ApiError ? fill(root.dataset.msgFailed, { msg: localPart(err.message) }) : root.dataset.msgOffline);
      });
      return;
    }
    // The whole visit goes into the phone's outbox first, then the outbox sends it: exactly
    // once, by its idempotency key, now or when the network is back.
    var label = document.querySelector("[data-testid=visit-site]").textContent;
    window.FieldQueue.enqueue("visit", visit.key, label, visit).then(function (rows) {
      var mine = (rows || []).filter(function (r) { return r.key === visit.key; })[0];
      if (!mine) { return; }  // sent: "dustgrid:visit-sent" moves on to the visit's page
      if (mine.error) {
        window.FieldQueue.discard(visit.key);
        release(fill(root.dataset.msgFailed, { msg: mine.error }));
        return;
      }
      button.textContent = form.dataset.submitLabel;
      showSaved();
    }, function () {
      release(root.dataset.msgOffline);
    });
  });
  function showSaved() {
    var saved = document.getElementById("submit-saved");
    saved.textContent = root.dataset.msgSaved;
    saved.hidden = false;
  }
  form.dataset.submitLabel = button.textContent;
})();
