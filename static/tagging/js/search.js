// Search page: fills <datalist id="search-suggestions"> with whole queries
// completing the last term typed (the form itself works without script).
(function () {
  "use strict";
  const list = document.getElementById("search-suggestions");
  const input = document.getElementById("search-q");
  if (!list || !input) return;
  let timer = null;
  let asked = null;

  function lookup() {
    const query = input.value;
    if (query === asked) return;
    asked = query;
    fetch(list.dataset.url + "?q=" + encodeURIComponent(query), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then((response) => (response.ok ? response.json() : { suggestions: [] }))
      .then((data) => {
        if (input.value !== query) return;
        list.replaceChildren(
          ...(data.suggestions || []).map((text) => {
            const option = document.createElement("option");
            option.value = text;
            return option;
          }),
        );
      })
      .catch(() => {});
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(lookup, 150);
  });
})();
