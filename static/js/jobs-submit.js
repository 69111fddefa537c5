/* The "Submit job" form: the code folder's relative paths go with its files (the server zips them),
   and input/output rows are added and removed. */
(function () {
  "use strict";

  const IGNORED = [".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache"];

  const humanSize = window.Studio.humanSize;

  document.addEventListener("change", function (event) {
    const input = event.target.closest("input[type=file][name=code_files]");
    if (!input) return;
    const form = input.form;
    const holder = form.querySelector("[data-code-paths]");
    holder.replaceChildren();
    form.querySelectorAll(".repick").forEach(function (note) { note.hidden = true; });
    // Leave out what never belongs in a snapshot (as .amlignore usually does), then check the count.
    const all = Array.from(input.files);
    const files = all.filter(function (file) {
      return !(file.webkitRelativePath || "").split("/").some(function (part) { return IGNORED.indexOf(part) !== -1; });
    });
    if (files.length !== all.length && window.DataTransfer) {
      const kept = new DataTransfer();
      files.forEach(function (file) { kept.items.add(file); });
      input.files = kept.files;
    }
    const limit = parseInt(input.getAttribute("data-max-files") || "0", 10);
    const tooMany = limit && files.length > limit;
    input.setCustomValidity(tooMany ? "The folder has " + files.length + " files; a form takes up to " + limit +
      ". Zip it and submit with the CLI, or pick a smaller folder." : "");
    let total = 0;
    files.forEach(function (file) {
      const path = document.createElement("input");
      path.type = "hidden";
      path.name = "code_paths";
      path.value = file.webkitRelativePath || file.name;
      holder.appendChild(path);
      total += file.size;
    });
    const picked = form.querySelector("[data-picked]");
    if (picked) {
      const folder = files.length && files[0].webkitRelativePath ? files[0].webkitRelativePath.split("/")[0] : "";
      const skipped = all.length - files.length;
      picked.textContent = files.length
        ? files.length + " file" + (files.length > 1 ? "s" : "") + (folder ? " from " + folder + "/" : "") + " (" + humanSize(total) + ")" +
          (skipped ? "; " + skipped + " left out (.git, __pycache__, virtual environments)" : "") +
          (tooMany ? ". " + input.validationMessage : "")
        : "";
      picked.hidden = !files.length;
    }
  });

  // A component picked: show what it brings, and add a row for each of its inputs not listed yet.
  function showComponent(select, addRows) {
    const form = select.form;
    const option = select.selectedOptions[0];
    const info = form.querySelector("[data-component-info]");
    const environment = form.querySelector("select[name=environment]");
    const command = form.querySelector("textarea[name=command]");
    if (!option || !option.value) {
      info.hidden = true;
      environment.options[0].textContent = "Select an environment";
      return;
    }
    info.hidden = false;
    info.querySelector("[data-component-command]").textContent = option.getAttribute("data-command");
    info.querySelector("[data-component-environment]").textContent = option.getAttribute("data-environment");
    environment.options[0].textContent = "The component's: " + option.getAttribute("data-environment");
    command.placeholder = "Leave empty to run the component's command";
    if (!addRows) return;
    const body = form.querySelector("table[data-rows=input] tbody");
    const listed = Array.from(body.querySelectorAll("input[name=input_name]")).map(function (el) { return el.value; });
    body.querySelectorAll("tr").forEach(function (tr) {  // drop untouched empty rows
      if (!tr.querySelector("input[name=input_name]").value && !tr.querySelector("input[name=input_value]").value) tr.remove();
    });
    JSON.parse(option.getAttribute("data-inputs") || "[]").forEach(function (input) {
      if (listed.indexOf(input.name) !== -1) return;
      const row = document.querySelector("template[data-row-template=input]").content.cloneNode(true);
      row.querySelector("input[name=input_name]").value = input.name;
      const type = row.querySelector("select[name=input_type]");
      if (Array.from(type.options).some(function (o) { return o.value === input.type; })) type.value = input.type;
      row.querySelector("input[name=input_value]").value = input.default || "";
      if (input.description) row.querySelector("input[name=input_value]").title = input.description;
      body.appendChild(row);
    });
  }

  // A data asset or datastore picked for an input: it becomes the row's path (and type, for an asset).
  document.addEventListener("change", function (event) {
    const pick = event.target.closest("select[data-data-pick]");
    if (!pick || !pick.value) return;
    const row = pick.closest("tr");
    const value = row.querySelector("input[name=input_value]");
    const option = pick.selectedOptions[0];
    value.value = pick.value;
    const type = row.querySelector("select[name=input_type]");
    const assetType = option.getAttribute("data-type");
    if (assetType && Array.from(type.options).some(function (o) { return o.value === assetType; })) type.value = assetType;
    else if (!assetType && ["string", "integer", "number", "boolean"].indexOf(type.value) !== -1) type.value = "uri_folder";
    pick.value = "";
    value.focus();
    value.setSelectionRange(value.value.length, value.value.length);
  });

  document.addEventListener("change", function (event) {
    const select = event.target.closest("select[data-component-select]");
    if (select) showComponent(select, true);
  });
  document.addEventListener("DOMContentLoaded", function () {
    const select = document.querySelector("select[data-component-select]");
    if (select) showComponent(select, false);
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    const input = form.querySelector && form.querySelector("input[type=file][name=code_files]");
    const source = form.querySelector && form.querySelector("input[name=code_source]:checked");
    if (input && input.validationMessage && (!source || source.value === "upload")) {
      event.preventDefault();
      input.reportValidity();
    }
  });

  document.addEventListener("click", function (event) {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      const kind = add.getAttribute("data-add-row");
      const template = document.querySelector("template[data-row-template=" + kind + "]");
      const body = document.querySelector("table[data-rows=" + kind + "] tbody");
      body.appendChild(template.content.cloneNode(true));
      body.lastElementChild.querySelector("input").focus();
      return;
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) remove.closest("tr").remove();
  });
})();
