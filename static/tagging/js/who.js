// "Who is this?": Enter confirms the suggestion, N says not this person, X
// says it is not a face at all, 1-3 pick a guess, S skips, B goes back, R
// reviews all suggestions; typing a letter starts the name field. The letter
// keys act in lower case only: a capital starts a name ("Barack" must not go
// Back, "Nina" must not say no, "Xavier" must not say "not a face").
(function () {
  "use strict";
  const field = document.getElementById("who-name-field");

  function submit(id) {
    const form = document.getElementById(id);
    if (form) form.requestSubmit();
    return Boolean(form);
  }

  function follow(id) {
    const link = document.getElementById(id);
    if (link) window.location.href = link.href;
    return Boolean(link);
  }

  document.addEventListener("keydown", (event) => {
    if (event.target === field || event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key;
    let done = false;
    if (key === "Enter") done = submit("who-confirm");
    else if (key === "n") done = submit("who-reject");
    else if (key === "x") done = submit("who-not-a-face");
    else if (key === "s") done = follow("who-skip");
    else if (key === "b") done = follow("who-back");
    else if (key === "r") done = follow("who-review");
    else if (/^[1-9]$/.test(key)) {
      const guess = document.querySelector('.guess[data-key="' + key + '"]');
      if (guess) {
        guess.form.requestSubmit();
        done = true;
      }
    }
    if (!done && field && key.length === 1 && /\p{L}/u.test(key)) {
      field.focus();
      return; // the letter goes into the field
    }
    if (done) event.preventDefault();
  });
})();
