// Photo page: previous/next by keyboard, and each face box lit up together
// with its card.
(function () {
  "use strict";
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target.isContentEditable) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const link = document.getElementById(event.key === "ArrowLeft" ? "previous" : event.key === "ArrowRight" ? "next" : "");
    if (link) {
      event.preventDefault();
      window.location.href = link.href;
    }
  });

  function highlight(faceId, on) {
    document.querySelectorAll('[data-face-id="' + faceId + '"]').forEach((node) => node.classList.toggle("lit", on));
  }
  document.querySelectorAll("[data-face-id]").forEach((node) => {
    const id = node.dataset.faceId;
    node.addEventListener("mouseenter", () => highlight(id, true));
    node.addEventListener("mouseleave", () => highlight(id, false));
    node.addEventListener("focusin", () => highlight(id, true));
    node.addEventListener("focusout", () => highlight(id, false));
  });
})();
