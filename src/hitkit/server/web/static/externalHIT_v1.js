/*
 * externalHIT_v1.js -- hitkit's offline stand-in for
 * https://s3.amazonaws.com/mturk-public/externalHIT_v1.js
 *
 * MTurk task pages (HTMLQuestion and ExternalQuestion) load this script and call
 * turkSetAssignmentID() near the end of <body>. The page is opened with the query
 * parameters assignmentId, hitId, workerId and turkSubmitTo (in preview:
 * assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE and no workerId).
 *
 * Functions (global, as in MTurk's script):
 *   turkGetParam(name, defaultValue)  the raw (not URL-decoded) value of query
 *                                     parameter `name` of the page URL, or
 *                                     defaultValue when it is absent. MTurk's
 *                                     version returned the raw value too.
 *   turkGetSubmitToHost()             the URL-decoded turkSubmitTo parameter
 *                                     (an http(s) URL, no trailing slash); when it
 *                                     is absent or not http(s), this page's origin.
 *   turkSetAssignmentID()             copies assignmentId into the hidden input with
 *                                     id "assignmentId" (creating it inside the form
 *                                     when the template forgot it), points the form
 *                                     "mturk_form" (by id, else by name) at
 *                                     turkGetSubmitToHost() + "/mturk/externalSubmit",
 *                                     and in preview disables the submit button(s)
 *                                     with the text "You must ACCEPT the HIT before
 *                                     you can submit the results." and refuses to
 *                                     submit the form.
 *
 * Offline and sandbox-safe: no network access, no eval, no cookies or web storage
 * (the task page runs in an iframe sandboxed without allow-same-origin).
 */
(function (window, document) {
  "use strict";

  var PREVIEW_ID = "ASSIGNMENT_ID_NOT_AVAILABLE";
  var ACCEPT_MESSAGE = "You must ACCEPT the HIT before you can submit the results.";

  function escapeRegExp(text) {
    return String(text).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  /* The raw value of query parameter `name`, or defaultValue. */
  function turkGetParam(name, defaultValue) {
    var regex = new RegExp("[?&]" + escapeRegExp(name) + "=([^&#]*)");
    var results = regex.exec(window.location.href);
    return results === null ? defaultValue : results[1];
  }

  /* The page's own origin, also when the sandbox gives the document an opaque ("null") origin. */
  function pageOrigin() {
    var origin = window.location.origin;
    if (origin && origin !== "null") {
      return origin;
    }
    try {
      return new URL("/", document.baseURI).href.replace(/\/$/, "");
    } catch (e) {
      return "";
    }
  }

  function decode(value) {
    try {
      return decodeURIComponent(String(value).replace(/\+/g, " "));
    } catch (e) {
      return String(value);
    }
  }

  /* Where the form posts to: turkSubmitTo (decoded), else this page's origin. */
  function turkGetSubmitToHost() {
    var raw = turkGetParam("turkSubmitTo", null);
    if (raw !== null && raw !== "") {
      var host = decode(raw);
      if (/^https?:\/\//i.test(host)) {
        return host.replace(/\/+$/, "");
      }
    }
    return pageOrigin();
  }

  function findForm() {
    return document.getElementById("mturk_form") || (document.forms && document.forms.mturk_form) || null;
  }

  function submitButtons(form) {
    var found = [];
    var byId = document.getElementById("submitButton");
    if (byId) {
      found.push(byId);
    }
    if (form) {
      var candidates = form.querySelectorAll('input[type="submit"], button[type="submit"], button:not([type])');
      for (var i = 0; i < candidates.length; i++) {
        if (found.indexOf(candidates[i]) === -1) {
          found.push(candidates[i]);
        }
      }
    }
    return found;
  }

  function turkSetAssignmentID() {
    var assignmentId = decode(turkGetParam("assignmentId", ""));
    var form = findForm();

    var field = document.getElementById("assignmentId");
    if (!field && form) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "assignmentId";
      field.id = "assignmentId";
      form.appendChild(field);
    }
    if (field) {
      field.value = assignmentId;
    }

    if (form) {
      form.action = turkGetSubmitToHost() + "/mturk/externalSubmit";
      if (!form.getAttribute("method")) {
        form.method = "post";
      }
    }

    if (assignmentId === PREVIEW_ID) {
      var buttons = submitButtons(form);
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].disabled = true;
        if (buttons[i].tagName === "INPUT") {
          buttons[i].value = ACCEPT_MESSAGE;
        } else {
          buttons[i].textContent = ACCEPT_MESSAGE;
        }
      }
      if (form && !form.__turkPreviewGuard) {
        form.__turkPreviewGuard = true;
        form.addEventListener("submit", function (event) {
          event.preventDefault();
        });
      }
    }
  }

  window.turkGetParam = turkGetParam;
  window.turkGetSubmitToHost = turkGetSubmitToHost;
  window.turkSetAssignmentID = turkSetAssignmentID;
})(window, document);
