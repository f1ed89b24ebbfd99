// Sending an inspection visit: one function, sendVisit(visit), takes the whole visit
// (check-in, answers, photo blobs) and sends it through the API in order:
//   POST /api/v1/inspections              (check-in, keyed by visit.key)
//   POST /api/v1/inspections/{id}/photos  (one multipart request per photo)
//   POST /api/v1/inspections/{id}/submit  (the answers)
// Sending the same visit again is harmless: the same key returns the same inspection, a
// photo already stored is not stored twice and a submitted visit comes back as it is. An
// offline queue (service worker + IndexedDB) can keep the visit object and call sendVisit
// later; ApiError.status tells a refusal (4xx: do not retry) from a server error.
//
// visit = { key, site_id, mode: "on_site"|"video", lat, lon, accuracy_m, checked_in_at,
//           answers: [{ item_code, outcome: "passed"|"failed"|"not_applicable", note }],
//           note, photos: [{ item_code, blob, name }] }
(function (global) {
  "use strict";

  function ApiError(status, message, body) {
    this.name = "ApiError";
    this.status = status;
    this.message = message;
    this.body = body || {};
  }
  ApiError.prototype = Object.create(Error.prototype);

  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  function newKey() {
    var c = global.crypto;
    if (c && typeof c.randomUUID === "function") { return c.randomUUID(); }
    var bytes = new Uint8Array(16);
    c.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function call(method, url, body) {
    var headers = { "X-CSRF-Token": csrfToken(), "Accept": "application/json" };
    var payload = body;
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(url, {
      method: method, headers: headers, body: payload, credentials: "same-origin"
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) { throw new ApiError(resp.status, data.detail || resp.statusText, data); }
        return data;
      });
    });
  }

  function checkIn(visit) {
    var body = { site_id: visit.site_id, mode: visit.mode || "on_site", idempotency_key: visit.key };
    if (visit.checked_in_at) { body.checked_in_at = visit.checked_in_at; }
    if (visit.lat != null && visit.lon != null) {
      body.lat = visit.lat;
      body.lon = visit.lon;
      if (visit.accuracy_m != null) { body.accuracy_m = visit.accuracy_m; }
    }
    return call("POST", "/api/v1/inspections", body);
  }

  function sendPhoto(inspectionId, photo) {
    var form = new FormData();
    form.append("item_code", photo.item_code || "");
    form.append("photo", photo.blob, photo.name || "photo.jpg");
    return call("POST", "/api/v1/inspections/" + inspectionId + "/photos", form);
  }

  function sendVisit(visit, onProgress) {
    var progress = onProgress || function () {};
    return checkIn(visit).then(function (inspection) {
      progress("checked_in", inspection);
      // sent before and submitted (the answer was lost on the way back): nothing left to do
      if (inspection.result && inspection.result !== "draft") { return inspection; }
      var chain = Promise.resolve();
      (visit.photos || []).forEach(function (photo, n) {
        chain = chain.then(function () {
          return sendPhoto(inspection.id, photo).then(function () { progress("photo", n + 1); });
        });
      });
      return chain.then(function () {
        return call("POST", "/api/v1/inspections/" + inspection.id + "/submit", {
          answers: visit.answers, note: visit.note || ""
        });
      });
    });
  }

  global.DustGridInspection = {
    ApiError: ApiError, newKey: newKey, checkIn: checkIn, sendVisit: sendVisit
  };
})(window);
