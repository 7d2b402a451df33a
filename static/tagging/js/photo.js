// Photo page: previous/next by keyboard; a viewer (fullscreen where the
// browser allows) with zoom, whose face boxes zoom with the photo; and each
// face box lit up together with its card.
(function () {
  "use strict";
  const STEP = 1.5;
  const MAX_ZOOM = 8;
  const frame = document.getElementById("frame");
  let zoom = 1;

  function stage() {
    return document.getElementById("stage");
  }

  function viewing() {
    return frame.classList.contains("viewing");
  }

  // The stage holds the image and its boxes; sizing the stage sizes both.
  function fitWidth() {
    const img = stage().querySelector("img");
    const ratio = img.naturalWidth && img.naturalHeight ? img.naturalWidth / img.naturalHeight : 1;
    const tools = frame.querySelector(".viewer-tools");
    const height = frame.clientHeight - (tools ? tools.offsetHeight : 0);
    return Math.min(frame.clientWidth, height * ratio);
  }

  function apply() {
    const box = stage();
    if (!box) return;
    const centreX = (frame.scrollLeft + frame.clientWidth / 2) / Math.max(frame.scrollWidth, 1);
    const centreY = (frame.scrollTop + frame.clientHeight / 2) / Math.max(frame.scrollHeight, 1);
    if (zoom === 1 && !viewing()) {
      box.style.width = "";
    } else {
      const base = viewing() ? fitWidth() : frame.clientWidth;
      box.style.width = Math.round(base * zoom) + "px";
    }
    frame.classList.toggle("zoomed", zoom > 1);
    frame.scrollLeft = centreX * frame.scrollWidth - frame.clientWidth / 2;
    frame.scrollTop = centreY * frame.scrollHeight - frame.clientHeight / 2;
    frame.dataset.zoom = String(zoom);
  }

  function setZoom(value) {
    zoom = Math.min(MAX_ZOOM, Math.max(1, value));
    apply();
  }

  function openViewer() {
    frame.classList.add("viewing");
    document.body.classList.add("has-viewer");
    document.getElementById("view-full").textContent = "Close";
    if (frame.requestFullscreen && !document.fullscreenElement) {
      frame.requestFullscreen().catch(() => {});
    }
    apply();
  }

  function closeViewer() {
    frame.classList.remove("viewing");
    document.body.classList.remove("has-viewer");
    document.getElementById("view-full").textContent = "Fullscreen";
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    zoom = 1;
    apply();
  }

  // In the viewer, the next photo replaces this one in place: leaving the page
  // would end fullscreen, which a page may only start on a key or a click.
  function swapTo(url) {
    fetch(url, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const next = new DOMParser().parseFromString(html, "text/html");
        const nextStage = next.getElementById("stage");
        if (!nextStage) {
          window.location.href = url;
          return;
        }
        stage().replaceChildren(...Array.from(nextStage.childNodes).map((node) => document.adoptNode(node)));
        ["main .page-head", "main aside.faces"].forEach((selector) => {
          const mine = document.querySelector(selector);
          const theirs = next.querySelector(selector);
          if (mine && theirs) mine.replaceWith(document.adoptNode(theirs));
        });
        document.title = next.title;
        history.pushState(null, "", url);
        zoom = 1;
        const img = stage().querySelector("img");
        if (img.complete) apply();
        else img.addEventListener("load", apply, { once: true });
      })
      .catch(() => (window.location.href = url));
  }

  function go(direction) {
    const link = document.getElementById(direction);
    if (!link) return;
    if (frame && viewing() && stage()) swapTo(link.href);
    else window.location.href = link.href;
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target.isContentEditable) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    const actions = {
      ArrowLeft: () => go("previous"),
      ArrowRight: () => go("next"),
      f: () => (viewing() ? closeViewer() : openViewer()),
      F: () => (viewing() ? closeViewer() : openViewer()),
      "+": () => setZoom(zoom * STEP),
      "=": () => setZoom(zoom * STEP),
      "-": () => setZoom(zoom / STEP),
      0: () => setZoom(1),
      Escape: () => viewing() && closeViewer(),
    };
    const action = actions[event.key];
    if (!action || (!frame && !event.key.startsWith("Arrow"))) return;
    if (!stage() && !event.key.startsWith("Arrow")) return;
    event.preventDefault();
    action();
  });

  if (frame && stage()) {
    document.getElementById("view-full").addEventListener("click", () => (viewing() ? closeViewer() : openViewer()));
    document.getElementById("zoom-in").addEventListener("click", () => setZoom(zoom * STEP));
    document.getElementById("zoom-out").addEventListener("click", () => setZoom(zoom / STEP));
    document.getElementById("zoom-fit").addEventListener("click", () => setZoom(1));
    // Esc in fullscreen is the browser's own: leave the viewer with it.
    document.addEventListener("fullscreenchange", () => {
      if (!document.fullscreenElement && viewing()) closeViewer();
    });
    window.addEventListener("resize", apply);
    window.addEventListener("popstate", () => window.location.reload());
  }

  // Delegated, so cards and boxes swapped in by the viewer light up too.
  function highlight(event, on) {
    const node = event.target instanceof Element ? event.target.closest("[data-face-id]") : null;
    if (!node) return;
    document.querySelectorAll('[data-face-id="' + node.dataset.faceId + '"]').forEach((n) => n.classList.toggle("lit", on));
  }
  document.addEventListener("mouseover", (event) => highlight(event, true));
  document.addEventListener("mouseout", (event) => highlight(event, false));
  document.addEventListener("focusin", (event) => highlight(event, true));
  document.addEventListener("focusout", (event) => highlight(event, false));
})();
