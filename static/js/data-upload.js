/* Create a data asset from local files: each file goes to the studio in chunks through the
   resumable upload API (POST .../data/uploads with "parallel": true, then PUT .../data/uploads/<id>
   with Content-Range, several chunks at once), with a progress bar; a chunk whose connection drops
   is sent again. Then the asset is created from the finished uploads. */
(function () {
  "use strict";

  const form = document.querySelector("form[data-chunked-upload]");
  if (!form) return;
  const base = form.getAttribute("data-api");
  const box = form.querySelector(".upload-progress");
  const bar = box.querySelector(".progress-bar");
  const label = box.querySelector(".progress-label");
  const errorBox = form.querySelector("[data-form-error]");
  const MAX_RETRIES = 8;
  const AT_ONCE = 4; // chunks of one file on their way at once
  let picked = [];
  const finished = new Map(); // file identity -> upload id, so a second try does not send files again
  form.setAttribute("data-ready", "");

  const csrfToken = window.Studio.csrfToken;

  const humanSize = window.Studio.humanSize;

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || "The studio could not take this request. Try again.");
      this.status = status;
      this.body = body || {};
    }
  }

  /* XMLHttpRequest rather than fetch: it reports upload progress. Resolves {status, body};
     rejects only when the connection fails. */
  function send(method, url, body, headers, onProgress) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      Object.entries(headers || {}).forEach(function ([k, v]) { xhr.setRequestHeader(k, v); });
      if (onProgress) xhr.upload.addEventListener("progress", function (e) { onProgress(e.loaded); });
      xhr.addEventListener("load", function () {
        let parsed = null;
        try { parsed = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        resolve({ status: xhr.status, body: parsed });
      });
      xhr.addEventListener("error", function () { reject(new Error("connection lost")); });
      xhr.addEventListener("abort", function () { reject(new Error("connection aborted")); });
      xhr.send(body);
    });
  }

  async function json(method, url, payload) {
    const answer = await send(method, url, payload === undefined ? null : JSON.stringify(payload),
      payload === undefined ? {} : { "Content-Type": "application/json" });
    if (answer.status < 200 || answer.status >= 300) throw new ApiError(answer.status, answer.body);
    return answer.body;
  }

  function progress(done, total) {
    const pct = total ? Math.floor((done / total) * 100) : 100;
    bar.style.width = pct + "%";
    box.setAttribute("data-percent", pct);
    label.textContent = "Uploading: " + pct + "% of " + humanSize(total);
  }

  /* One file as a parallel upload: up to AT_ONCE chunks on their way at once, each retried after a
     dropped connection. A 409 for a chunk the studio already holds (its answer was lost) counts
     as sent; a 409 for one it does not hold yet (still being written from an earlier try) is
     tried again after a pause. */
  async function uploadFile(item, reportBytes) {
    const key = item.path + "|" + item.file.size + "|" + item.file.lastModified;
    if (finished.has(key)) { reportBytes(item.file.size); return finished.get(key); }
    const size = item.file.size;
    const session = await json("POST", base + "/uploads", { file_name: item.path, size: size, parallel: true });
    const url = base + "/uploads/" + session.id;
    const chunk = session.chunk_size;
    const starts = [];
    for (let start = 0; start < size; start += chunk) starts.push(start);
    const inFlight = new Map(); // chunk start -> bytes of it sent so far
    let sent = 0, next = 0;
    function report() {
      let partial = 0;
      inFlight.forEach(function (bytes) { partial += bytes; });
      reportBytes(sent + partial);
    }

    async function sendChunk(start) {
      const end = Math.min(start + chunk, size);
      let failures = 0;
      for (;;) {
        inFlight.set(start, 0);
        try {
          const answer = await send("PUT", url, item.file.slice(start, end),
            { "Content-Type": "application/octet-stream", "Content-Range": "bytes " + start + "-" + (end - 1) + "/" + size },
            function (loaded) { inFlight.set(start, Math.min(loaded, end - start)); report(); });
          if (answer.status === 200 || (answer.status === 409 && !stillMissing(answer.body, start, end))) {
            inFlight.delete(start);
            sent += end - start;
            report();
            return;
          }
          if (answer.status !== 409) throw new ApiError(answer.status, answer.body);
          if (++failures > MAX_RETRIES) throw new ApiError(answer.status, answer.body);
        } catch (error) {
          inFlight.delete(start);
          if (error instanceof ApiError || ++failures > MAX_RETRIES) throw error;
          label.textContent = "Connection lost; resuming (try " + failures + " of " + MAX_RETRIES + ")…";
        }
        report();
        await sleep(Math.min(250 * 2 ** failures, 8000));
      }
    }

    async function worker() {
      while (next < starts.length) await sendChunk(starts[next++]);
    }

    reportBytes(0);
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, starts.length) }, worker));
    const status = await json("GET", url);
    if (status.received !== size) throw new Error("the studio holds " + status.received + " of " + size + " bytes");
    finished.set(key, session.id);
    return session.id;
  }

  /* Whether a 409's `missing` ranges (inclusive ends) overlap the chunk [start, end). */
  function stillMissing(body, start, end) {
    return ((body && body.missing) || []).some(function (gap) { return gap.start < end && gap.end >= start; });
  }

  function showErrors(error) {
    errorBox.hidden = false;
    errorBox.textContent = error.message;
    form.querySelectorAll("small.error[data-js]").forEach(function (el) { el.remove(); });
    ((error.body && error.body.error && error.body.error.details) || []).forEach(function (detail) {
      const input = form.querySelector("[name='" + detail.field + "']");
      if (!input) return;
      const note = document.createElement("small");
      note.className = "error";
      note.setAttribute("data-js", "");
      note.setAttribute("data-field", detail.field);
      note.textContent = detail.message;
      input.closest(".field").appendChild(note);
    });
  }

  /* One name=value (or name: value) per line, as the studio's forms read them (core/forms.py). */
  function tags(text) {
    const out = {};
    const errors = [];
    (text || "").split("\n").forEach(function (raw, index) {
      const line = raw.trim();
      if (!line) return;
      const cuts = [line.indexOf("="), line.indexOf(":")].filter(function (i) { return i >= 0; });
      const cut = cuts.length ? Math.min.apply(null, cuts) : -1;
      const key = cut < 0 ? "" : line.slice(0, cut).trim();
      if (!key) { errors.push("Line " + (index + 1) + ": write tags as name=value."); return; }
      out[key] = line.slice(cut + 1).trim();
    });
    if (errors.length) {
      throw new ApiError(400, { error: { message: errors.join(" "), details: errors.map(function (m) { return { field: "tags", message: m }; }) } });
    }
    return out;
  }

  form.addEventListener("change", function (event) {
    const input = event.target.closest("input[data-pick]");
    if (!input) return;
    picked = Array.from(input.files).map(function (file) { return { file: file, path: file.webkitRelativePath || file.name }; });
    const total = picked.reduce(function (sum, item) { return sum + item.file.size; }, 0);
    form.querySelector("[data-picked]").textContent = picked.length === 1
      ? picked[0].path + " (" + humanSize(total) + ")"
      : picked.length + " files (" + humanSize(total) + ")";
    const type = form.querySelector("[name=type]");
    if (input.getAttribute("data-pick") === "folder" && type.value === "uri_file") type.value = "uri_folder";
    const name = form.querySelector("[name=name]");
    if (!name.value && picked.length) {
      name.value = picked[0].path.split("/")[0].replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_.-]/g, "-");
    }
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    if (!picked.length) { showErrors(new Error("Choose a file or a folder to upload.")); return; }
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    box.hidden = false;
    box.removeAttribute("data-done");
    const total = picked.reduce(function (sum, item) { return sum + item.file.size; }, 0);
    let before = 0;
    try {
      const assetTags = tags(form.querySelector("[name=tags]").value);
      const uploads = [];
      for (const item of picked) {
        const id = await uploadFile(item, function (bytes) { progress(before + bytes, total); });
        before += item.file.size;
        uploads.push({ id: id, path: item.path });
      }
      progress(total, total);
      label.textContent = "Uploaded " + picked.length + " file" + (picked.length > 1 ? "s" : "") + "; creating the data asset…";
      const asset = await json("POST", base, {
        name: form.querySelector("[name=name]").value.trim(),
        version: form.querySelector("[name=version]").value.trim() || null,
        type: form.querySelector("[name=type]").value,
        description: form.querySelector("[name=description]").value,
        tags: assetTags,
        uploads: uploads,
      });
      box.setAttribute("data-done", "ok");
      label.textContent = "Created " + asset.name + ":" + asset.version;
      window.location.assign(form.getAttribute("data-detail") + encodeURIComponent(asset.name) + "/" + encodeURIComponent(asset.version) + "/");
    } catch (error) {
      box.setAttribute("data-done", "error");
      label.textContent = error instanceof ApiError ? "Not created" : "Upload failed: " + error.message;
      showErrors(error);
      submit.disabled = false;
    }
  });
})();
