// "Who is this?": Enter confirms the suggestion, N says not this person, X
// says it is not a face at all, 1-3 pick a guess, S skips, B goes back; typing
// a letter starts the name field.
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
    else if (key === "n" || key === "N") done = submit("who-reject");
    else if (key === "x" || key === "X") done = submit("who-not-a-face");
    else if (key === "s" || key === "S") done = follow("who-skip");
    else if (key === "b" || key === "B") done = follow("who-back");
    else if (/^[1-9]$/.test(key)) {
      const guess = document.querySelector('.guess[data-key="' + key + '"]');
      if (guess) {
        guess.form.requestSubmit();
        done = true;
      }
    } else if (field && key.length === 1 && /\p{L}/u.test(key)) {
      field.focus();
      return; // the letter goes into the field
    }
    if (done) event.preventDefault();
  });
})();
