// Alert profile form: choosing a rule fills the tuning box with that rule's example.
(function () {
  "use strict";
  var select = document.getElementById("profile_id");
  if (!select) { return; }
  select.addEventListener("change", function (e) {
    var opt = e.target.options[e.target.selectedIndex];
    document.getElementById("tuning").value = opt.getAttribute("data-example") || "{}";
  });
})();
