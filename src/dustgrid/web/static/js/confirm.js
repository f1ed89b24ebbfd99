// A confirm step for a form that cannot be undone lightly (退出台账): a form with
// data-confirm="<dialog id>" opens that <dialog> on submit, shows the typed reason, and is
// sent (with confirm=yes) only when the dialog's confirm button is pressed. Without
// JavaScript the server answers the first post with a confirmation page instead.
(function () {
  "use strict";
  function wire(form) {
    var dialog = document.getElementById(form.getAttribute("data-confirm"));
    var confirm = form.querySelector('input[name="confirm"]');
    if (!dialog || !confirm || typeof dialog.showModal !== "function") { return; }
    var reason = form.querySelector('[name="reason"]');
    var shown = dialog.querySelector("[data-confirm-reason]");
    form.addEventListener("submit", function (e) {
      if (confirm.value === "yes") { return; }
      e.preventDefault();
      if (shown && reason) { shown.textContent = reason.value; }
      dialog.showModal();
    });
    dialog.querySelector("[data-confirm-yes]").addEventListener("click", function () {
      confirm.value = "yes";
      dialog.close();
      form.submit();
    });
    dialog.querySelector("[data-confirm-no]").addEventListener("click", function () {
      dialog.close();
    });
  }
  function wireAll() {
    var forms = document.querySelectorAll("form[data-confirm]");
    for (var i = 0; i < forms.length; i += 1) { wire(forms[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wireAll);
  } else {
    wireAll();
  }
})();
