// The console and administration pages' only script (no build step, no CDN): a confirmation before
// destructive forms (data-confirm="question") and Copy buttons (data-copy="element id").
"use strict";
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
}, true);
document.addEventListener("click", function (event) {
  var id = event.target.getAttribute && event.target.getAttribute("data-copy");
  if (!id) return;
  var el = document.getElementById(id);
  if (el && navigator.clipboard) {
    navigator.clipboard.writeText(el.textContent.trim()).then(function () { event.target.textContent = "Copied"; });
  }
});

// Project page: the live preview. The editor's template, kind and frame height are copied into the preview form,
// which posts into the sandboxed preview frame, a moment after the last keystroke.
(function () {
  var editor = document.getElementById("project-form");
  var preview = document.getElementById("preview-form");
  if (!editor || !preview) return;
  var timer = null;
  function refresh() {
    preview.elements.template.value = editor.elements.template.value;
    preview.elements.kind.value = editor.elements.kind.value;
    preview.elements.frame_height.value = editor.elements.frame_height.value;
    preview.submit();
  }
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 400); }
  editor.addEventListener("input", later);
  preview.elements.row.addEventListener("input", later);
  preview.addEventListener("submit", function (event) { event.preventDefault(); refresh(); });
  refresh();
})();

// Batch page: the carousel follows the arrow keys.
document.addEventListener("keydown", function (event) {
  if (event.target.closest && event.target.closest("input, textarea, select")) return;
  var link = event.key === "ArrowLeft" ? document.getElementById("prev-row")
           : event.key === "ArrowRight" ? document.getElementById("next-row") : null;
  if (link) { event.preventDefault(); window.location.href = link.href; }
});
