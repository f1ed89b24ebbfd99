// Searchable site pickers ([data-site-picker], templates/_site_picker.html): typing part of a
// project code, name, address or permit number lists at most a dozen open sites in the user's
// scope (GET /api/v1/sites/search); arrow keys move through the list, Enter or a click chooses,
// Escape closes. The choice goes into the hidden id field and its label into the text box;
// changing the text again drops the choice (the server then resolves the text itself, as it
// does when the page has no script). An ARIA 1.2 combobox with a listbox popup.
(function () {
  "use strict";
  var DELAY_MS = 200;

  function wire(box) {
    var input = box.querySelector("[data-site-picker-input]");
    var hidden = box.querySelector("[data-site-picker-id]");
    var list = box.querySelector('[role="listbox"]');
    var status = box.querySelector("[data-site-picker-status]");
    var timer = null, active = -1, rows = [], asked = 0;

    function options() { return list.querySelectorAll('[role="option"]'); }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }
    function mark(i) {
      var opts = options();
      if (!opts.length) { return; }
      active = (i + opts.length) % opts.length;
      for (var k = 0; k < opts.length; k += 1) {
        opts[k].setAttribute("aria-selected", k === active ? "true" : "false");
      }
      input.setAttribute("aria-activedescendant", opts[active].id);
      opts[active].scrollIntoView({ block: "nearest" });
    }
    function choose(i) {
      var row = rows[i];
      if (!row) { return; }
      input.value = row.label;
      hidden.value = String(row.id);
      status.textContent = row.label;
      close();
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    function show(found) {
      rows = found;
      list.textContent = "";
      found.forEach(function (row, i) {
        var li = document.createElement("li");
        li.id = input.id + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-site-id", String(row.id));
        var title = document.createElement("span");
        title.className = "site-picker-title";
        title.textContent = row.label;
        var more = document.createElement("span");
        more.className = "site-picker-more";
        more.textContent = [row.district, row.address, row.permit_no].filter(Boolean).join(" · ");
        li.appendChild(title);
        li.appendChild(more);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep focus
        li.addEventListener("click", function () { choose(i); });
        list.appendChild(li);
      });
      list.hidden = !found.length;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      active = -1;
      status.textContent = found.length
        ? box.getAttribute("data-found").replace("__N__", String(found.length))
        : box.getAttribute("data-none");
    }
    function search(q) {
      var ticket = ++asked;
      fetch("/api/v1/sites/search?q=" + encodeURIComponent(q), {
        credentials: "same-origin", headers: { Accept: "application/json" }
      }).then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      }).then(function (found) {
        if (ticket === asked) { show(found); }
      }).catch(function () {
        if (ticket === asked) { close(); status.textContent = box.getAttribute("data-failed"); }
      });
    }

    input.addEventListener("input", function () {
      hidden.value = "";  // the text no longer reads as the chosen site
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { close(); rows = []; return; }
      timer = setTimeout(function () { search(q); }, DELAY_MS);
    });
    input.addEventListener("keydown", function (e) {
      var open = !list.hidden;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        if (!open && rows.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
        if (!rows.length) { return; }
        e.preventDefault();
        mark(active + (e.key === "ArrowDown" ? 1 : -1));
      } else if (e.key === "Enter" && open && active >= 0) {
        e.preventDefault();  // choose, do not submit the form yet
        choose(active);
      } else if (e.key === "Escape" && open) {
        e.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function start() {
    var boxes = document.querySelectorAll("[data-site-picker]");
    for (var i = 0; i < boxes.length; i += 1) { wire(boxes[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
