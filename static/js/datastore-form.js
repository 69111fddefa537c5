/* Create datastore: show only the fields of the chosen kind (azure_blob, azure_file, s3, local),
   as the page first renders them. Hidden fields are disabled, so they are not sent. */
(function () {
  "use strict";

  const form = document.querySelector("form[data-datastore-form]");
  if (!form) return;
  const kind = form.querySelector("[name=kind]");
  const texts = JSON.parse(document.getElementById("datastore-kind-texts").textContent);

  function show() {
    form.querySelectorAll("[data-kinds]").forEach(function (element) {
      const shown = element.getAttribute("data-kinds").split(" ").indexOf(kind.value) >= 0;
      element.hidden = !shown;
      element.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !shown; });
    });
    const container = form.querySelector("label[for=id_container_name]");
    if (container && texts.container[kind.value]) container.textContent = texts.container[kind.value];
    const rootHelp = form.querySelector("#id_root_helptext");
    if (rootHelp) rootHelp.textContent = texts.root[kind.value] || "";
  }

  kind.addEventListener("change", show);
  show();
})();
