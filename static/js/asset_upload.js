/* Asset registration forms that upload files (models, components): the chosen files are sent
   with their relative paths and the form's fields in one multipart request, with a progress bar.
   A form opts in with data-asset-upload; its file pickers carry data-pick (data-strip-top drops
   the chosen folder's own name from each path). The server answers {url} or {error: {details}}. */
(function () {
  "use strict";

  const csrfToken = window.Studio.csrfToken;

  const humanSize = window.Studio.humanSize;

  function relativePath(file, stripTop) {
    let path = file.webkitRelativePath || file.name;
    if (stripTop && path.indexOf("/") > 0) path = path.slice(path.indexOf("/") + 1);
    return path;
  }

  document.addEventListener("change", function (event) {
    const picker = event.target.closest("input[data-pick]");
    if (!picker || !picker.form) return;
    const form = picker.form;
    const files = Array.from(picker.files);
    form.assetFiles = files.map(function (file) {
      return { file: file, path: relativePath(file, picker.hasAttribute("data-strip-top")) };
    });
    form.querySelectorAll("input[data-pick]").forEach(function (other) { if (other !== picker) other.value = ""; });
    const label = form.querySelector("[data-picked]");
    if (!label) return;
    const total = files.reduce(function (sum, f) { return sum + f.size; }, 0);
    const top = files.length && files[0].webkitRelativePath ? files[0].webkitRelativePath.split("/")[0] + "/" : "";
    label.textContent = !files.length ? "No file chosen"
      : (top ? top + " — " + files.length + " file" + (files.length > 1 ? "s" : "")
        : (files.length === 1 ? files[0].name : files.length + " files")) + " (" + humanSize(total) + ")";
    label.classList.toggle("chosen", files.length > 0);
  });

  function clearErrors(form) {
    form.querySelectorAll("small.error[data-js]").forEach(function (el) { el.remove(); });
    form.querySelectorAll(".has-error[data-js-error]").forEach(function (el) {
      el.classList.remove("has-error");
      el.removeAttribute("data-js-error");
    });
    const box = form.querySelector("[data-errors]");
    if (box) box.replaceChildren();
  }

  function fieldBox(form, field) {
    const input = form.querySelector("[name='" + CSS.escape(field) + "']");
    if (input && input.closest(".field")) return input.closest(".field");
    return Array.from(form.querySelectorAll("[data-fields]")).find(function (el) {
      return el.getAttribute("data-fields").split(" ").indexOf(field) !== -1;
    }) || null;
  }

  /* A field named by the studio, as the form labels it ("Model YAML", not "yaml"); a field the form
     does not have (a YAML path such as inputs.lr.type) keeps its name. */
  function fieldLabel(form, field) {
    const box = fieldBox(form, field);
    const label = box && box.querySelector("label");
    return label ? label.textContent.replace(/\s*\*\s*$/, "").trim() : field;
  }

  function showErrors(form, error) {
    const details = (error && error.details) || [];
    const box = form.querySelector("[data-errors]");
    const message = document.createElement("div");
    message.className = "msg msg-error";
    message.setAttribute("role", "alert");
    message.setAttribute("data-testid", "form-error");
    const title = document.createElement("strong");
    title.textContent = details.length > 1 ? "Fix these problems:" : "Fix this problem:";
    message.appendChild(title);
    const list = document.createElement("ul");
    (details.length ? details : [{ field: "", message: (error && error.message) || "The request failed." }])
      .forEach(function (detail) {
        const item = document.createElement("li");
        item.setAttribute("data-field", detail.field || "");
        item.textContent = (detail.field ? fieldLabel(form, detail.field) + ": " : "") + detail.message;
        list.appendChild(item);
        const target = detail.field && fieldBox(form, detail.field);
        if (target) {
          const small = document.createElement("small");
          small.className = "error";
          small.setAttribute("data-js", "");
          small.setAttribute("data-field", detail.field);
          small.textContent = detail.message;
          target.appendChild(small);
          target.classList.add("has-error");
          target.setAttribute("data-js-error", "");
        }
      });
    message.appendChild(list);
    if (box) { box.appendChild(message); box.scrollIntoView({ block: "nearest" }); }
    showYamlLines(form, message, details);
  }

  // Under the errors, the YAML lines they name (read from the chosen file), the named line marked.
  function showYamlLines(form, message, details) {
    const input = form.querySelector("input[type=file][name=yaml]");
    const file = input && input.files && input.files[0];
    const lines = new Set();
    details.forEach(function (d) {
      const found = /\(line (\d+)/.exec(d.message || "");
      if (found) lines.add(Number(found[1]));
    });
    if (!file || !lines.size || !file.text) return;
    file.text().then(function (text) {
      const all = text.split("\n");
      const first = Math.max(1, Math.min.apply(null, Array.from(lines)) - 2);
      const last = Math.min(all.length, Math.max.apply(null, Array.from(lines)) + 2);
      const pre = document.createElement("pre");
      pre.className = "code yaml-lines";
      pre.setAttribute("data-testid", "yaml-lines");
      for (let n = first; n <= last; n++) {
        const row = document.createElement("span");
        row.className = lines.has(n) ? "yaml-line bad" : "yaml-line";
        const number = document.createElement("span");
        number.className = "ln";
        number.textContent = String(n).padStart(3, " ") + "  ";
        row.appendChild(number);
        row.appendChild(document.createTextNode((all[n - 1] || "") + "\n"));
        pre.appendChild(row);
      }
      const caption = document.createElement("small");
      caption.textContent = file.name;
      message.appendChild(caption);
      message.appendChild(pre);
    });
  }

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-asset-upload]");
    if (!form) return;
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    let total = 0;
    (form.assetFiles || []).forEach(function (item) {
      data.append("files", item.file, item.file.name);
      data.append("relative_paths", item.path);
      total += item.file.size;
    });
    const button = form.querySelector("button[type=submit]");
    const box = form.querySelector(".upload-progress");
    const bar = box.querySelector(".progress-bar");
    const label = box.querySelector(".progress-label");
    box.hidden = false;
    box.removeAttribute("data-done");
    box.removeAttribute("data-percent");
    bar.style.width = "0%";
    label.textContent = "Uploading " + (form.assetFiles || []).length + " file(s) (" + humanSize(total) + ")…";
    button.disabled = true;

    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      const pct = Math.round((e.loaded / e.total) * 100);
      bar.style.width = pct + "%";
      box.setAttribute("data-percent", pct);
      label.textContent = pct < 100 ? "Uploading: " + pct + "% of " + humanSize(e.total) : "Checking and registering…";
    });
    xhr.addEventListener("load", function () {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && body.url) {
        bar.style.width = "100%";
        box.setAttribute("data-done", "ok");
        label.textContent = "Registered " + (body.id || "") + ". Opening it…";
        window.location.assign(body.url);
        return;
      }
      button.disabled = false;
      box.setAttribute("data-done", "error");
      label.textContent = xhr.status === 413 ? "The upload is larger than the studio accepts." : "Not registered.";
      showErrors(form, body.error || { message: "The studio could not register it. Try again." });
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      box.setAttribute("data-done", "error");
      label.textContent = "Upload failed: the connection was lost. Try again.";
    });
    xhr.send(data);
  });
})();
