// The review page's keyboard shortcuts (no build step, no CDN): j/k move between answers, x selects,
// a approves, r opens the reject feedback, b the bonus amount, A approves everything selected.
"use strict";
(function () {
  var answers = Array.prototype.slice.call(document.querySelectorAll("li.answer"));
  var current = -1;
  function focus(i) {
    if (!answers.length) return;
    current = Math.max(0, Math.min(answers.length - 1, i));
    answers.forEach(function (el, j) { el.classList.toggle("current", j === current); });
    answers[current].focus();
    answers[current].scrollIntoView({block: "nearest"});
  }
  function here() { return current >= 0 ? answers[current] : null; }
  function click(selector) {
    var el = here() && here().querySelector(selector);
    if (el) el.click();
  }
  function open(selector) {
    var li = here();
    if (!li) return;
    var details = li.querySelector("details");
    if (details) details.open = true;
    var input = li.querySelector(selector);
    if (input) input.focus();
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var typing = event.target.closest && event.target.closest("input:not([type=checkbox]):not([type=radio]), textarea, select");
    if (typing) {
      // Enter in a feedback box rejects, in a bonus amount sends the bonus (never the form's first button).
      if (event.key === "Enter" && event.target.classList.contains("feedback")) {
        event.preventDefault(); event.target.form.querySelector("button.reject").click();
      } else if (event.key === "Enter" && event.target.classList.contains("amount")) {
        event.preventDefault(); event.target.form.querySelector("button.bonus").click();
      } else if (event.key === "Enter" && event.target.id === "bulk-feedback") {
        event.preventDefault(); document.getElementById("bulk-reject").click();
      } else if (event.key === "Escape") {
        event.target.blur();
      }
      return;
    }
    switch (event.key) {
      case "j": focus(current + 1); break;
      case "k": focus(current - 1); break;
      case "x": var box = here() && here().querySelector("input[type=checkbox]"); if (box) box.checked = !box.checked; break;
      case "a": click("button.approve"); break;
      case "r": open("input.feedback"); break;
      case "b": open("input.amount"); break;
      case "A": document.getElementById("bulk-approve").click(); break;
      default: return;
    }
    event.preventDefault();
  });
  var all = document.getElementById("select-all");
  if (all) all.addEventListener("change", function () {
    document.querySelectorAll("input[name=assignment][form=bulk]").forEach(function (box) { box.checked = all.checked; });
  });
})();
