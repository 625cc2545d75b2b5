// The work page: deadline timer, the auto-accept toggle (saved without reloading the task), and what happens
// after the task frame's form is submitted (the frame's thank-you page posts {hitkit: "submitted"} to us).
(function () {
  "use strict";
  var bar = document.getElementById("work");
  if (!bar) return;
  var frame = document.getElementById("task");
  var timer = document.getElementById("timer");
  var assignment = bar.getAttribute("data-assignment");
  var deadline = Date.now() + 1000 * parseInt(bar.getAttribute("data-seconds-left"), 10);

  function fmt(s) {
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return (h ? h + ":" + two(m) : m) + ":" + two(sec);
  }
  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    timer.textContent = fmt(left);
    if (left <= 60) timer.classList.add("error");
    if (left <= 0) {
      document.getElementById("expired").hidden = false;
      if (frame) frame.hidden = true;
      clearInterval(handle);
    }
  }
  var handle = setInterval(tick, 1000);
  tick();

  var toggle = document.getElementById("auto-accept");
  var form = document.getElementById("auto-accept-form");
  if (toggle && form) {
    toggle.addEventListener("change", function () {
      var body = new URLSearchParams(new FormData(form));
      if (!toggle.checked) body.delete("auto_accept");
      fetch(form.action, { method: "POST", body: body, credentials: "same-origin", redirect: "manual" });
      bar.setAttribute("data-auto-accept", toggle.checked ? "on" : "off");
    });
  }

  window.addEventListener("message", function (event) {
    if (!frame || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.hitkit !== "submitted" || data.assignmentId !== assignment) return;
    if (bar.getAttribute("data-auto-accept") === "on") {
      document.getElementById("accept-next").submit();
    } else {
      window.location.assign(bar.getAttribute("data-done-url"));
    }
  });
})();
