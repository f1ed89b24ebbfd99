// The outbox on field pages (Today, the inspection page): registers the sender of queued
// visits (DustGridInspection.sendVisit: check-in → photos → submit, each idempotent), shows
// "N waiting to send" and what waits, and registers the service worker (/sw.js) so that the
// field pages open without a network.
(function (global) {
  "use strict";
  var queue = global.FieldQueue;
  var api = global.DustGridInspection;
  var box = document.getElementById("outbox");
  if (!queue) { return; }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] != null ? values[k] : m; });
  }
  function localPart(detail) {
    var parts = String(detail || "").split(" / ");
    return document.documentElement.lang === "en" && parts.length > 1 ? parts.slice(1).join(" / ") : parts[0];
  }
  // A refusal for good (the server said no: a 4xx other than "log in again" or "too many"):
  // kept and shown; anything else (no network, a server error) is tried again later.
  function refusedForGood(err) {
    return err instanceof api.ApiError && err.status >= 400 && err.status < 500 &&
      [401, 408, 425, 429].indexOf(err.status) < 0;
  }

  // Once a visit is sent and out of the outbox, the page that made it moves on to it.
  var sent = {};
  queue.onSent(function (record) {
    if (!sent[record.key]) { return; }
    document.dispatchEvent(new CustomEvent("dustgrid:visit-sent", {
      detail: { key: record.key, inspection: sent[record.key] }
    }));
    delete sent[record.key];
  });
  if (api) {
    queue.register("visit", function (record) {
      return api.sendVisit(record.payload).then(function (detail) {
        sent[record.key] = detail;
        return "done";
      }, function (err) {
        if (refusedForGood(err)) { return { error: localPart(err.message) }; }
        throw err;
      });
    });
  }

  function time(ms) {
    var d = new Date(ms);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }
  function show(rows) {
    if (!box) { return; }
    var badge = document.getElementById("outbox-badge");
    var list = document.getElementById("outbox-list");
    box.hidden = rows.length === 0;
    badge.textContent = fill(box.dataset.msgWaiting, { n: rows.length });
    list.textContent = "";
    rows.forEach(function (r) {
      var li = document.createElement("li");
      li.textContent = fill(box.dataset.msgQueuedAt, { label: r.label, at: time(r.queuedAt) });
      if (r.error) {
        var why = document.createElement("div");
        why.className = "is-error";
        why.textContent = fill(box.dataset.msgRefused, { msg: r.error });
        li.appendChild(why);
        // a refused visit is kept until the person has read why and lets it go
        var drop = document.createElement("button");
        drop.type = "button";
        drop.className = "btn btn-secondary";
        drop.textContent = box.dataset.msgDiscard;
        drop.addEventListener("click", function () { queue.discard(r.key); });
        li.appendChild(drop);
      }
      list.appendChild(li);
    });
  }
  queue.onChange(show);
  var send = document.getElementById("outbox-send");
  if (send) {
    send.addEventListener("click", function () {
      document.getElementById("outbox-badge").textContent = box.dataset.msgSending;
      queue.flush();
    });
  }
  queue.flush();

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () { /* pages still work online */ });
  }
})(window);
