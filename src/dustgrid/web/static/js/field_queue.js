// The phone's outbox for field work. A visit (check-in, checklist answers, photos) is kept
// in IndexedDB until it has been sent; it is sent when the network is back, when the page
// opens, and every half minute while something waits. Each record carries the visit's
// idempotency key, so a record sent twice (the answer was lost on the way back) is stored
// once by the server. Senders are registered per kind by the page that owns the kind
// (static/js/field_outbox.js registers "visit"); onSent listeners hear of a record once it
// has been sent and dropped from the outbox.
(function (global) {
  "use strict";
  var DB_NAME = "dustgrid-field";
  var STORE = "outbox";
  var RETRY_MS = 30000;
  var senders = {};
  var listeners = [];
  var sentListeners = [];
  var running = null;

  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(STORE, { keyPath: "key" });
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(result && result.result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function all() {
    return withStore("readonly", function (store) { return store.getAll(); }).then(function (rows) {
      return (rows || []).sort(function (a, b) { return a.queuedAt - b.queuedAt; });
    });
  }
  function put(record) { return withStore("readwrite", function (store) { return store.put(record); }); }
  function remove(key) { return withStore("readwrite", function (store) { return store.delete(key); }); }

  function changed() {
    return all().then(function (rows) {
      listeners.forEach(function (fn) { fn(rows); });
      return rows;
    });
  }

  // One pass over the queue, oldest first. A sender answers "done" (drop the record),
  // {error: text} (the server refused it for good: keep it, marked, for the person to see)
  // or throws (no network: stop and try again later).
  function flush() {
    if (running) { return running; }
    running = all().then(function (rows) {
      var chain = Promise.resolve(true);
      rows.forEach(function (record) {
        chain = chain.then(function (go) {
          var send = senders[record.kind];
          if (!go || !send || record.error) { return go; }
          return send(record).then(function (outcome) {
            if (outcome === "done") {
              return remove(record.key).then(function () {
                sentListeners.forEach(function (fn) { fn(record); });
                return true;
              });
            }
            record.error = (outcome && outcome.error) || "?";
            return put(record).then(function () { return true; });
          }, function () { return false; });
        });
      });
      return chain;
    }).then(changed, changed).finally(function () { running = null; });
    return running;
  }

  global.FieldQueue = {
    register: function (kind, sender) { senders[kind] = sender; },
    enqueue: function (kind, key, label, payload) {
      var record = { kind: kind, key: key, label: label, payload: payload, queuedAt: Date.now() };
      // a pass already running may have read the outbox before this record: run one more
      return put(record).then(changed).then(function () {
        return running ? running.then(flush) : flush();
      });
    },
    discard: function (key) { return remove(key).then(changed); },
    pending: all,
    flush: flush,
    onChange: function (fn) { listeners.push(fn); changed(); },
    onSent: function (fn) { sentListeners.push(fn); },
  };

  global.addEventListener("online", flush);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { flush(); }
  });
  setInterval(function () { if (navigator.onLine) { flush(); } }, RETRY_MS);
})(window);
