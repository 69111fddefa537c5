/* Small behaviours shared by the studio's pages: copy buttons, confirmations, uploads with a
   progress bar. Everything else is htmx. The helpers other scripts share are window.Studio
   (csrfToken, humanSize, toast); studio.js loads first. */
(function () {
  "use strict";

  function csrfToken() {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRFToken"] || "";
  }

  function toast(text) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { el.hidden = true; }, 2200);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const text = button.getAttribute("data-copy");
    copyText(text).then(function () { toast("Copied " + text); });
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-dismiss]");
    if (button) button.parentElement.hidden = true;
  });

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });

  // Close open menus when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[open]").forEach(function (d) {
      if (!d.contains(event.target)) d.removeAttribute("open");
    });
  });

  function humanSize(bytes) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return bytes.toFixed(i ? 1 : 0) + " " + units[i];
  }

  function refreshListing() {
    const listing = document.getElementById("listing");
    if (listing && window.htmx) {
      htmx.ajax("GET", listing.getAttribute("data-listing-url"), { target: "#listing", swap: "outerHTML" });
    }
  }

  document.addEventListener("change", function (event) {
    const input = event.target.closest("input[data-upload]");
    if (!input || !input.files.length) return;
    const files = Array.from(input.files);
    const form = new FormData();
    form.append("path", input.getAttribute("data-path") || "");
    let total = 0;
    files.forEach(function (file) {
      form.append("files", file, file.name);
      form.append("relative_paths", file.webkitRelativePath || file.name);
      total += file.size;
    });
    const box = document.querySelector(".upload-progress");
    const bar = box.querySelector(".progress-bar");
    const label = box.querySelector(".progress-label");
    const what = files.length === 1 ? files[0].name : files.length + " files";
    box.hidden = false;
    box.removeAttribute("data-done");
    box.removeAttribute("data-percent");
    bar.style.width = "0%";
    label.textContent = "Uploading " + what + " (" + humanSize(total) + ")…";

    const xhr = new XMLHttpRequest();
    xhr.open("POST", input.getAttribute("data-upload-url"));
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      const pct = Math.round((e.loaded / e.total) * 100);
      bar.style.width = pct + "%";
      box.setAttribute("data-percent", pct);
      label.textContent = "Uploading " + what + ": " + pct + "% of " + humanSize(e.total);
    });
    xhr.addEventListener("load", function () {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.style.width = "100%";
        label.textContent = "Uploaded " + body.uploaded.length + " file" + (body.uploaded.length > 1 ? "s" : "") + " (" + humanSize(total) + ")";
        box.setAttribute("data-done", "ok");
        toast(label.textContent);
        refreshListing();
      } else {
        box.setAttribute("data-done", "error");
        label.textContent = (body.error && body.error.message)
          || (xhr.status === 413 ? "The upload is larger than the studio accepts." : "Upload failed. Try again.");
      }
    });
    xhr.addEventListener("error", function () {
      box.setAttribute("data-done", "error");
      label.textContent = "Upload failed: the connection was lost. Try again.";
    });
    xhr.send(form);
    input.value = "";
  });

  window.Studio = { csrfToken: csrfToken, humanSize: humanSize, toast: toast };
})();
