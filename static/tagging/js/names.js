// Fills the shared <datalist id="people-names"> with matching names as a
// member types in any "Who is this?" field.
(function () {
  "use strict";
  const list = document.getElementById("people-names");
  if (!list) return;
  let timer = null;
  let lastQuery = null;

  function fill(names) {
    list.replaceChildren(...names.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      return option;
    }));
  }

  function lookup(query) {
    if (query === lastQuery) return;
    lastQuery = query;
    const url = list.dataset.url + "?q=" + encodeURIComponent(query);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : { names: [] }))
      .then((data) => fill(data.names || []))
      .catch(() => {});
  }

  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.getAttribute("list") !== "people-names") return;
    clearTimeout(timer);
    timer = setTimeout(() => lookup(input.value.trim()), 150);
  });
  document.addEventListener("focusin", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.getAttribute("list") === "people-names") {
      lookup(event.target.value.trim());
    }
  });

  const selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      document.querySelectorAll('#review-form input[name="faces"]').forEach((box) => {
        box.checked = selectAll.checked;
      });
    });
  }
})();
