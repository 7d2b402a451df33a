// Timeline: the next photos load as the "More" link comes into view (the link
// itself works without script). A month split between two pages stays one.
(function () {
  "use strict";
  const timeline = document.getElementById("timeline");
  const MARGIN = 600;
  let loading = false;

  function more() {
    return document.getElementById("more");
  }

  function load() {
    const link = more();
    if (!link || loading) return;
    loading = true;
    fetch(link.href, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const next = new DOMParser().parseFromString(html, "text/html");
        next.querySelectorAll("#timeline section.month").forEach((section) => {
          const sections = timeline.querySelectorAll("section.month");
          const last = sections[sections.length - 1];
          if (last && last.dataset.month === section.dataset.month) {
            const grid = last.querySelector("ul");
            section.querySelectorAll("li").forEach((tile) => grid.appendChild(document.adoptNode(tile)));
          } else {
            timeline.appendChild(document.adoptNode(section));
          }
        });
        const nextLink = next.getElementById("more");
        if (nextLink) link.href = nextLink.href;
        else link.closest(".more").remove();
        loading = false;
        // Still in view (a tall window, a short page): keep going.
        if (more() && more().getBoundingClientRect().top < window.innerHeight + MARGIN) load();
      })
      .catch(() => {
        loading = false;
      });
  }

  if (!more() || !("IntersectionObserver" in window)) return;
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) load();
  }, { rootMargin: MARGIN + "px" });
  observer.observe(more().closest(".more"));
})();
