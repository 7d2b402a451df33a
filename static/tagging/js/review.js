// The review grid ("Is this X?"): the buttons post by fetch, and the page changes
// only where the answer says: confirmed or rejected faces leave, a face the
// server refused (its suggestion changed meanwhile) stays with the reason, and
// every other face on screen stays as it was. New suggestions come only with
// "Load more" (a reload). In "Review all", an emptied grid moves on by itself.
(function () {
  "use strict";
  const form = document.getElementById("review-form");
  if (!form) return;
  const confirmButton = document.getElementById("review-confirm");
  const status = document.getElementById("review-status");
  const more = document.getElementById("review-more");
  const walking = Boolean(form.querySelector('input[name="walk"]'));

  function open() {
    return Array.from(form.querySelectorAll(".review-tile:not(.refused)"));
  }

  function ticked() {
    return open().filter((tile) => tile.querySelector('input[name="faces"]').checked);
  }

  function relabel() {
    const boxes = ticked();
    const likely = open().filter((tile) => tile.classList.contains("band-likely"));
    const allLikely = likely.length > 0 && boxes.length === likely.length && boxes.every((t) => likely.includes(t));
    confirmButton.textContent = allLikely ? "Confirm all likely" : "Confirm " + boxes.length + " ticked";
    confirmButton.disabled = boxes.length === 0;
    form.querySelectorAll(".faces-grid").forEach((list) => {
      const head = list.previousElementSibling;
      const empty = list.children.length === 0;
      list.hidden = empty;
      if (head && head.classList.contains("band-head")) head.hidden = empty;
    });
  }

  // The same Undo as the message area's (templates/tagging/partials/undo.html): a
  // plain form post that comes back to this page.
  function undoForm(undo) {
    const undoing = document.createElement("form");
    undoing.method = "post";
    undoing.action = undo.url;
    undoing.className = "inline";
    const token = form.querySelector('input[name="csrfmiddlewaretoken"]').cloneNode();
    const next = document.createElement("input");
    next.type = "hidden";
    next.name = "next";
    next.value = window.location.pathname + window.location.search;
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "small";
    button.id = "review-undo";
    button.textContent = "Undo";
    undoing.append(token, next, button);
    return undoing;
  }

  function settle(data) {
    (data.done || []).forEach((id) => {
      const tile = form.querySelector('.review-tile[data-face-id="' + id + '"]');
      if (tile) tile.remove();
    });
    Object.entries(data.refused || {}).forEach(([id, note]) => {
      const tile = form.querySelector('.review-tile[data-face-id="' + id + '"]');
      if (!tile) return;
      tile.classList.add("refused");
      const box = tile.querySelector('input[name="faces"]');
      box.checked = false;
      box.disabled = true;
      tile.querySelector(".not").disabled = true;
      tile.querySelector(".note").textContent = "Not changed: " + note;
    });
    status.replaceChildren(data.message);
    if (data.undo) status.append(" ", undoForm(data.undo));
    if (data.waiting > 0) {
      more.hidden = false;
      more.querySelector("a").textContent = "Load " + data.waiting + " more";
    }
    relabel();
    const refused = form.querySelectorAll(".review-tile.refused").length;
    if (open().length === 0 && refused === 0 && walking) {
      // Nothing left on screen, so nothing is replaced: this person's new
      // suggestions if there are any, else the next person.
      window.location.assign(data.waiting > 0 ? more.querySelector("a").href : data.next);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = new FormData(form, event.submitter);
    const buttons = form.querySelectorAll("button");
    buttons.forEach((button) => (button.disabled = true));
    // getAttribute: the buttons named "action" shadow the form's own action property.
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then((response) => {
        if (!response.ok) throw new Error("the server answered " + response.status);
        return response.json();
      })
      .then(settle)
      .catch((error) => {
        status.textContent = "Nothing was changed: " + error.message + ". Try again.";
      })
      .finally(() => {
        buttons.forEach((button) => (button.disabled = false));
        form.querySelectorAll(".review-tile.refused .not").forEach((button) => (button.disabled = true));
        relabel();
      });
  });

  form.addEventListener("change", relabel);
  relabel();
})();
