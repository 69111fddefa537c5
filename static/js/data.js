/* The data asset page: show and hide the description editor. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-toggle-edit]")) return;
    const form = document.querySelector(".edit-form");
    const text = document.querySelector("[data-testid=description]");
    if (!form) return;
    form.hidden = !form.hidden;
    if (text) text.hidden = !form.hidden;
    if (!form.hidden) form.querySelector("textarea").focus();
  });
})();
