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

  // Tiles come from the server's own partial, so a redrawn tile shows what a
  // reload would: file name, state, reason and Retry where it can help.
  function render(photo) {
    let tile = grid.querySelector('[data-photo-id="' + photo.id + '"]');
    const key = photo.status + ":" + photo.faces + ":" + photo.thumbnail;
    if (tile && tile.dataset.rendered === key) return;
    const holder = document.createElement("template");
    holder.innerHTML = photo.html.trim();
    const fresh = holder.content.firstElementChild;
    fresh.dataset.rendered = key;
    if (tile) {
      const old = tile.querySelector('input[name="photos"]');
      const box = fresh.querySelector('input[name="photos"]');
      if (old && box) box.checked = old.checked;
      fresh.classList.toggle("selected", Boolean(box && box.checked));
      tile.replaceWith(fresh);
    } else {
      grid.appendChild(fresh);
      const empty = document.getElementById("no-photos");
      if (empty) empty.remove();
    }
  }

  function plural(count, one, many) {
    return count + " " + (count === 1 ? one : many);
  }

  function showProgress(progress) {
    const line = document.getElementById("processing");
    if (!line) return;
    if (!progress.total) {
      line.hidden = true;
      return;
    }
    line.hidden = false;
    let text = progress.processed + " of " + plural(progress.total, "photo", "photos") + " processed";
    if (progress.failed) text += ", " + progress.failed + " failed";
    if (progress.left && progress.seconds_left !== null) {
      const seconds = progress.seconds_left;
      text += seconds < 60 ? " · less than a minute left" : " · about " + plural(Math.round(seconds / 60), "minute", "minutes") + " left";
    } else if (progress.left) {
      text += " · working…";
    }
    line.textContent = text + (progress.left ? "" : ".");
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
          data.photos.forEach(render);
          showProgress(data.progress);
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

  // --- Selection ---------------------------------------------------------------
  // Tick, shift-tick for a range, select all: the form posts the ticked ids.

  const selection = document.getElementById("selection");
  let lastBox = null;

  function boxes() {
    return Array.from(grid.querySelectorAll('input[name="photos"]'));
  }

  function countSelected() {
    const all = boxes();
    const ticked = all.filter((box) => box.checked);
    all.forEach((box) => box.closest(".photo-tile").classList.toggle("selected", box.checked));
    selection.querySelector(".selected-count").textContent = ticked.length
      ? plural(ticked.length, "photo", "photos") + " selected"
      : "Tick photos to delete or move them.";
    selection.querySelectorAll('button[type="submit"]').forEach((button) => (button.disabled = !ticked.length));
  }

  if (selection && grid) {
    selection.classList.add("js");
    grid.addEventListener("click", (event) => {
      const box = event.target;
      if (!(box instanceof HTMLInputElement) || box.name !== "photos") return;
      if (event.shiftKey && lastBox && lastBox !== box && lastBox.isConnected) {
        const all = boxes();
        const [from, to] = [all.indexOf(lastBox), all.indexOf(box)].sort((a, b) => a - b);
        all.slice(from, to + 1).forEach((other) => (other.checked = box.checked));
      }
      lastBox = box;
      countSelected();
    });
    const setAll = (on) => {
      boxes().forEach((box) => (box.checked = on));
      countSelected();
    };
    document.getElementById("select-all").addEventListener("click", () => setAll(true));
    document.getElementById("select-none").addEventListener("click", () => setAll(false));
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (target instanceof HTMLInputElement && target.type !== "checkbox") return;
      if (target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
      if ((event.ctrlKey || event.metaKey) && event.key === "a") {
        event.preventDefault();
        setAll(true);
      } else if (event.key === "Escape") {
        setAll(false);
      }
    });
    countSelected();
  }

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
      finished - failed + " of " + total + " uploaded" + (failed ? ", " + failed + " not added" : "") + (running ? "…" : ".");
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
        // The server's own words (uploads.too_large_message), its size to three significant digits.
        finish(item, false, form.dataset.tooLarge.replace("{size}", String(Number((file.size / 1e6).toPrecision(3)))));
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
