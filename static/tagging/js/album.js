// Album page: upload many files a few at a time with per-file progress, and
// keep the photo grid up to date until every photo is done or failed.
(function () {
  "use strict";
  const PARALLEL = 3;
  const POLL_MS = 2000;
  const grid = document.getElementById("photos");
  const form = document.getElementById("upload");
  let polling = false;

  // --- Live status --------------------------------------------------------------

  function tileFor(photo) {
    let tile = grid.querySelector('[data-photo-id="' + photo.id + '"]');
    if (!tile) {
      tile = document.createElement("li");
      tile.dataset.photoId = photo.id;
      grid.appendChild(tile);
      const empty = document.getElementById("no-photos");
      if (empty) empty.remove();
    }
    return tile;
  }

  function render(tile, photo) {
    if (tile.dataset.rendered === photo.status + ":" + photo.faces) return;
    tile.dataset.rendered = photo.status + ":" + photo.faces;
    tile.className = "tile photo-tile status-" + photo.status;
    const link = document.createElement("a");
    link.href = photo.url;
    if (photo.thumbnail) {
      const img = document.createElement("img");
      img.src = photo.thumbnail;
      img.alt = "";
      img.loading = "lazy";
      link.appendChild(img);
    } else {
      const placeholder = document.createElement("span");
      placeholder.className = "placeholder";
      link.appendChild(placeholder);
    }
    const meta = document.createElement("span");
    meta.className = "meta";
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = photo.status === "done" ? photo.faces + (photo.faces === 1 ? " face" : " faces") : photo.label;
    meta.append(state);
    const parts = [link, meta];
    if (photo.status === "failed") {
      const reason = document.createElement("span");
      reason.className = "error reason";
      reason.textContent = photo.error;
      parts.push(reason);
      const retry = retryForm(photo.id);
      if (retry) parts.push(retry);
    }
    tile.replaceChildren(...parts);
  }

  function retryForm(photoId) {
    const token = csrfToken();
    if (!token || grid.dataset.isOwner !== "1") return null;
    const retry = document.createElement("form");
    retry.method = "post";
    retry.action = "/photos/" + photoId + "/retry/";
    retry.className = "retry";
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "csrfmiddlewaretoken";
    hidden.value = token;
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "small";
    button.textContent = "Retry";
    retry.append(hidden, button);
    return retry;
  }

  function poll() {
    if (polling) return;
    polling = true;
    const tick = () => {
      // An answer asked for before the last upload finished may not list that
      // photo yet: it cannot end the polling.
      const askedAt = Date.now();
      fetch(grid.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((response) => response.json())
        .then((data) => {
          data.photos.forEach((photo) => render(tileFor(photo), photo));
          if (data.settled && active === 0 && queue.length === 0 && askedAt > lastUploadAt) {
            polling = false;
          } else {
            setTimeout(tick, POLL_MS);
          }
        })
        .catch(() => setTimeout(tick, POLL_MS * 3));
    };
    tick();
  }

  if (grid && grid.querySelector(".status-pending, .status-processing")) poll();

  // --- Uploads -----------------------------------------------------------------

  const queue = [];
  let active = 0;
  let lastUploadAt = 0;
  let total = 0;
  let finished = 0;
  let failed = 0;
  const loadedBytes = new Map();
  let totalBytes = 0;

  function csrfToken() {
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  if (!form) return;
  form.classList.add("js");
  const picker = form.querySelector('input[type="file"]');
  const panel = form.querySelector(".upload-progress");
  const totalBar = panel.querySelector("progress.total");
  const summary = panel.querySelector(".summary");
  const list = panel.querySelector(".files");
  const maxBytes = Number(form.dataset.maxBytes);

  function updateTotals() {
    let loaded = 0;
    loadedBytes.forEach((value) => (loaded += value));
    totalBar.max = Math.max(totalBytes, 1);
    totalBar.value = loaded;
    const running = total - finished;
    summary.textContent =
      finished + " of " + total + " uploaded" + (failed ? ", " + failed + " not added" : "") + (running ? "…" : ".");
  }

  function addFiles(files) {
    if (!files.length) return;
    panel.hidden = false;
    Array.from(files).forEach((file) => {
      const row = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = file.name;
      const bar = document.createElement("progress");
      bar.max = file.size || 1;
      bar.value = 0;
      const note = document.createElement("span");
      note.className = "note";
      row.append(name, bar, note);
      list.appendChild(row);
      total += 1;
      totalBytes += file.size;
      const item = { file, row, bar, note };
      if (file.size > maxBytes) {
        finish(item, false, "too large: " + (file.size / 1e6).toFixed(1) + " MB; the limit is " + Math.floor(maxBytes / 1e6) + " MB");
        return;
      }
      queue.push(item);
    });
    updateTotals();
    pump();
  }

  function finish(item, ok, message) {
    finished += 1;
    if (!ok) failed += 1;
    item.row.classList.add(ok ? "ok" : "failed");
    item.note.textContent = message;
    loadedBytes.set(item, item.file.size);
    item.bar.value = item.bar.max;
    updateTotals();
  }

  function pump() {
    while (active < PARALLEL && queue.length) {
      send(queue.shift());
    }
    if (active === 0 && queue.length === 0) poll();
  }

  function send(item) {
    active += 1;
    const data = new FormData();
    data.append("files", item.file, item.file.name);
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        item.bar.value = (event.loaded / event.total) * item.bar.max;
        loadedBytes.set(item, (event.loaded / event.total) * item.file.size);
        updateTotals();
      }
    });
    request.addEventListener("load", () => {
      let body = {};
      try {
        body = JSON.parse(request.responseText);
      } catch (error) {
        body = {};
      }
      const result = body.results && body.results[0];
      if (request.status === 200 && result) {
        finish(item, result.ok, result.ok ? "uploaded" : result.error);
      } else {
        finish(item, false, body.error || "the server refused the file (" + request.status + ")");
      }
      done();
    });
    request.addEventListener("error", () => {
      finish(item, false, "the connection failed; try again");
      done();
    });
    request.send(data);
    poll();
  }

  function done() {
    active -= 1;
    lastUploadAt = Date.now();
    pump();
  }

  picker.addEventListener("change", () => {
    addFiles(picker.files);
    picker.value = "";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
  });
  ["dragenter", "dragover"].forEach((type) =>
    form.addEventListener(type, (event) => {
      event.preventDefault();
      form.classList.add("over");
    }),
  );
  ["dragleave", "drop"].forEach((type) =>
    form.addEventListener(type, () => form.classList.remove("over")),
  );
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    addFiles(event.dataTransfer.files);
  });
  window.addEventListener("beforeunload", (event) => {
    if (active > 0 || queue.length > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
