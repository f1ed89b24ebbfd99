// A box that scrolls (a wide table in its .table-wrap, or on a phone the table itself) must be
// reachable by keyboard, or its hidden columns cannot be read without a mouse (WCAG 2.1.1):
// while it scrolls it takes tabindex=0 and is named after its table for screen readers.
// Checked again when the window is resized and when HTMX swaps content in.
(function () {
  "use strict";
  var SELECTOR = ".table-wrap, table.table";

  function scrolls(el) {
    return el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
  }

  function mark() {
    document.querySelectorAll(SELECTOR).forEach(function (el) {
      var own = el.getAttribute("data-scroll-region") === "1";
      if (scrolls(el)) {
        if (!el.hasAttribute("tabindex")) {
          el.setAttribute("tabindex", "0");
          el.setAttribute("data-scroll-region", "1");
        }
      } else if (own) {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-scroll-region");
      }
    });
  }

  var timer = null;
  function later() {
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(mark, 150);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mark);
  } else {
    mark();
  }
  window.addEventListener("load", mark);
  window.addEventListener("resize", later);
  // at once when content arrives (a keyboard user, or a checker, may reach it straight away),
  // and again once late layout (fonts, charts) has settled
  document.addEventListener("htmx:afterSettle", function () { mark(); later(); });
})();
