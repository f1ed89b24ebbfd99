// The phone menu: on narrow screens the top navigation folds behind a menu button.
// Loaded in <head> so the page never shows the open menu first; without JavaScript the
// navigation stays visible (a scrolling row), so every link is always reachable.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  function wire() {
    var bar = document.querySelector(".topbar");
    var button = bar && bar.querySelector(".menu-toggle");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var open = bar.classList.toggle("nav-open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && bar.classList.contains("nav-open")) {
        bar.classList.remove("nav-open");
        button.setAttribute("aria-expanded", "false");
        button.focus();
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
