// Any page with a <dialog id="shortcuts">: "?" (or a [data-shortcuts] button)
// lists the page's keyboard shortcuts; Esc closes the list (the dialog's own).
(function () {
  "use strict";
  const dialog = document.getElementById("shortcuts");
  if (!dialog) return;
  document.documentElement.classList.add("js");

  function open() {
    if (!dialog.open) dialog.showModal();
  }
  document.querySelectorAll("[data-shortcuts]").forEach((button) => button.addEventListener("click", open));
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type !== "checkbox") return;
    if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement || target.isContentEditable) return;
    if (event.key === "?" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      open();
    }
  });
})();
