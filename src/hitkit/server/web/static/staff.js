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
