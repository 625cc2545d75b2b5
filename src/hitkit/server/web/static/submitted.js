// On externalSubmit's thank-you page: tell hitkit's work page (the parent frame) that the assignment was submitted.
(function () {
  "use strict";
  var id = document.body.getAttribute("data-submitted");
  if (id && window.parent && window.parent !== window) {
    window.parent.postMessage({ hitkit: "submitted", assignmentId: id }, "*");
  }
})();
