/* The jobs list: the Compare button is enabled while 2 to 10 jobs are checked, Archive while any is. The check boxes
   keep their state when the table refreshes (hx-preserve). */
(function () {
  "use strict";

  const MIN = 2;
  const MAX = 10;

  function update() {
    const form = document.querySelector("[data-compare-form]");
    if (!form) return;
    const picked = document.querySelectorAll('input[type=checkbox][form="compare-form"]:checked').length;
    form.querySelector("button").disabled = picked < MIN || picked > MAX;
    const archive = form.querySelector("[data-archive]");
    if (archive) archive.disabled = picked === 0;
    const note = form.querySelector("[data-compare-count]");
    if (picked === 0) note.textContent = "Select 2 to 10 jobs to compare them.";
    else if (picked > MAX) note.textContent = picked + " selected: at most " + MAX + " can be compared.";
    else note.textContent = picked + " selected";
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches('input[type=checkbox][form="compare-form"]')) update();
  });
  document.addEventListener("htmx:afterSettle", update);
  document.addEventListener("DOMContentLoaded", update);
})();
