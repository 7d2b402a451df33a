// Photo page: draw a box around a face the site missed (mouse, pen or touch,
// through pointer events), then name it in the form beside the photo. The box
// is sent relative to the photo (0..1), the coordinates every face box uses.
(function () {
  "use strict";
  const MIN_SIDE = 0.01; // a click or a slip, not a box
  const frame = document.getElementById("frame");
  const button = document.getElementById("draw-face");
  if (!frame || !button || !document.getElementById("draw-form")) return;
  let start = null;
  let drawn = null;

  function stage() {
    return document.getElementById("stage");
  }

  function drawing() {
    return frame.classList.contains("drawing");
  }

  function setDrawing(on) {
    frame.classList.toggle("drawing", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "Drawing… (Esc)" : "Draw a face";
  }

  // Looked up each time: the viewer swaps in the next photo's form with its faces.
  function drawForm() {
    return document.getElementById("draw-form");
  }

  function clearBox() {
    if (drawn) drawn.remove();
    drawn = null;
    if (drawForm()) drawForm().hidden = true;
  }

  // The point relative to the photo, clamped to it.
  function relative(event) {
    const rect = stage().querySelector("img").getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return { x: clamp((event.clientX - rect.left) / rect.width), y: clamp((event.clientY - rect.top) / rect.height) };
  }

  function boxFrom(a, b) {
    return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
  }

  function place(box) {
    if (!drawn) {
      drawn = document.createElement("div");
      drawn.className = "drawn";
      stage().appendChild(drawn);
    }
    drawn.style.left = box.x * 100 + "%";
    drawn.style.top = box.y * 100 + "%";
    drawn.style.width = box.w * 100 + "%";
    drawn.style.height = box.h * 100 + "%";
  }

  frame.addEventListener("pointerdown", (event) => {
    if (!drawing() || !stage() || !stage().contains(event.target)) return;
    event.preventDefault();
    clearBox();
    start = relative(event);
    // Moves outside the photo still reach the box; a pointer the browser no
    // longer tracks cannot be captured, and the box is drawn without it.
    try {
      stage().setPointerCapture(event.pointerId);
    } catch (error) {
      /* drawn without capture */
    }
  });

  frame.addEventListener("pointermove", (event) => {
    if (!start) return;
    place(boxFrom(start, relative(event)));
  });

  function finish(event) {
    if (!start) return;
    const box = boxFrom(start, relative(event));
    start = null;
    if (box.w < MIN_SIDE || box.h < MIN_SIDE) {
      clearBox();
      return;
    }
    place(box);
    setDrawing(false);
    // The form sits beside the photo, which the viewer covers.
    if (frame.classList.contains("viewing")) document.getElementById("view-full").click();
    const form = drawForm();
    if (!form) return;
    ["x", "y", "w", "h"].forEach((key) => (form.elements[key].value = box[key].toFixed(5)));
    form.hidden = false;
    form.elements.name.focus();
  }
  frame.addEventListener("pointerup", finish);
  frame.addEventListener("pointercancel", () => {
    start = null;
    clearBox();
  });

  button.addEventListener("click", () => {
    clearBox();
    setDrawing(!drawing());
  });
  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element) || !event.target.closest("#draw-cancel")) return;
    clearBox();
    setDrawing(false);
  });
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
      if (event.key === "Escape" && target.form === drawForm()) clearBox();
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "d" || event.key === "D") {
      event.preventDefault();
      clearBox();
      setDrawing(!drawing());
    } else if (event.key === "Escape" && drawing()) {
      setDrawing(false);
    }
  });
})();
