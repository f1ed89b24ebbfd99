// Alert rule form: choosing another standard opens its form at once (the "open" button does
// the same without JavaScript).
(function () {
  "use strict";
  var select = document.querySelector("select[data-autosubmit]");
  if (!select) { return; }
  select.addEventListener("change", function () { select.form.submit(); });
})();
