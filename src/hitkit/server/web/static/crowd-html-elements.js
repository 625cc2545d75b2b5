/*
 * crowd-html-elements.js -- hitkit's offline, dependency-free stand-in for
 * https://assets.crowd.aws/crowd-html-elements.js (Crowd HTML Elements).
 *
 * Elements: crowd-form, crowd-button, crowd-input, crowd-text-area, crowd-checkbox,
 * crowd-radio-group, crowd-radio-button, crowd-slider, crowd-instructions,
 * crowd-classifier, crowd-image-classifier, crowd-alert.
 *
 * All elements render into their own light DOM (no shadow DOM) with native
 * <input>/<button>/<details> controls, so they are keyboard usable and can be read
 * by page code. Controls the elements create are marked data-crowd-internal and
 * are never posted on their own.
 *
 * SUBMISSION. <crowd-form> moves its children into a real
 * <form method="post" action="{turkSubmitTo}/mturk/externalSubmit"> (turkSubmitTo
 * is read from the page's query string and must be http(s); without it the
 * page's own origin is used), adds a hidden assignmentId input and, when the form
 * has no submit button, a <crowd-button form-action="submit">Submit</crowd-button>.
 * Submitting (button, Enter in a text field, crowdForm.requestSubmit()):
 *   1. preview (assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE): refused with a message;
 *      submit buttons are disabled and read "You must ACCEPT the HIT before you
 *      can submit the results.";
 *   2. required fields and native constraints are checked; failures show an
 *      inline message per field and one message at the form's end;
 *   3. a cancelable "submit" Event is dispatched on the <crowd-form> element:
 *      listeners (addEventListener or the onsubmit property/attribute) cancel the
 *      submission with event.preventDefault() (or `return false` in onsubmit);
 *   4. the browser POSTs exactly two fields: assignmentId and taskAnswers.
 * crowdForm.submit() posts straight away (no validation, no event), like a native
 * form.submit(); crowdForm.serialize() returns the answers object.
 *
 * taskAnswers = JSON.stringify([answers]): an array holding ONE object keyed by
 * `name`, in document order, built from every named, enabled element inside the
 * crowd-form (elements without a name are skipped):
 *   crowd-input, crowd-text-area    "name": "text"            (string)
 *   crowd-input type="number"        "name": 7                 (number; null when empty)
 *   crowd-slider                     "name": 7                 (number)
 *   crowd-checkbox                   "name": {"<value>": bool} (value attribute, default "on")
 *   crowd-radio-button               "name": {"<value>": bool} (value attribute, default "on");
 *                                    the name is the button's own, else its group's;
 *                                    buttons sharing a name merge into one object:
 *                                    {"sentiment": {"positive": true, "negative": false}}
 *   crowd-classifier                 "name": {"label": "<category>"}
 *   crowd-image-classifier           "name": {"label": "<category>"}
 *   plain <input>/<textarea>         "name": "text"            (string; type number/range -> number, null when empty)
 *   plain checkbox / radio           "name": {"<value>": bool} (merged per name, like crowd-checkbox)
 *   plain <select>                   "name": "value"; <select multiple> -> ["v1", "v2"]
 * Skipped: disabled elements, buttons, file inputs, and the reserved names
 * assignmentId, hitId, workerId, turkSubmitTo.
 * Example: [{"label":{"label":"cat"},"comment":"nice","agree":{"on":true},
 *            "sentiment":{"positive":true,"negative":false},"score":7}]
 *
 * REQUIRED. crowd-input / crowd-text-area / crowd-checkbox / crowd-radio-group
 * (or any of its buttons) / plain controls take the `required` attribute;
 * crowd-classifier and crowd-image-classifier always need a category chosen
 * (as on MTurk).
 *
 * Offline and sandbox-safe: no network access, no eval, no innerHTML (all text
 * set with textContent, so markup in attributes such as categories shows as text),
 * no cookies or web storage (the page runs in an iframe sandboxed without
 * allow-same-origin).
 */
(function (window, document) {
  "use strict";

  if (!window.customElements || window.__hitkitCrowdElements) {
    return;
  }
  window.__hitkitCrowdElements = true;

  var PREVIEW_ID = "ASSIGNMENT_ID_NOT_AVAILABLE";
  var ACCEPT_MESSAGE = "You must ACCEPT the HIT before you can submit the results.";
  var RESERVED = { assignmentId: 1, hitId: 1, workerId: 1, turkSubmitTo: 1 };
  var INTERNAL = "data-crowd-internal";

  /* ---------------------------------------------------------------- helpers */

  function param(name) {
    try {
      return new URLSearchParams(window.location.search).get(name);
    } catch (e) {
      return null;
    }
  }

  function isPreview() {
    return param("assignmentId") === PREVIEW_ID;
  }

  function submitUrl() {
    var host = param("turkSubmitTo");
    if (host && /^https?:\/\//i.test(host)) {
      return host.replace(/\/+$/, "") + "/mturk/externalSubmit";
    }
    var origin = window.location.origin;
    if (origin && origin !== "null") {
      return origin + "/mturk/externalSubmit";
    }
    return new URL("/mturk/externalSubmit", document.baseURI).href;
  }

  var counter = 0;
  function nextId(prefix) {
    counter += 1;
    return prefix + "-" + counter;
  }

  /* Build an element: attrs via setAttribute, text via textContent, never markup. */
  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) {
          return;
        }
        if (key === "text") {
          node.textContent = value;
        } else {
          node.setAttribute(key, value === true ? "" : String(value));
        }
      });
    }
    (children || []).forEach(function (child) {
      if (child) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function flag(node, name) {
    return node.hasAttribute(name) && node.getAttribute(name) !== "false";
  }

  function moveChildren(from, to) {
    while (from.firstChild) {
      to.appendChild(from.firstChild);
    }
  }

  function whenParsed(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn, { once: true });
    } else {
      fn();
    }
  }

  function emptyObject() {
    return Object.create(null);
  }

  /* answers[name] = value, merging {key: bool} objects that share a name. */
  function put(answers, name, value) {
    var prior = answers[name];
    if (isPlainObject(value) && isPlainObject(prior)) {
      Object.keys(value).forEach(function (key) {
        prior[key] = value[key];
      });
    } else {
      answers[name] = value;
    }
  }

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function stateObject(key, on) {
    var obj = emptyObject();
    obj[key] = on;
    return obj;
  }

  /* Categories: a JSON array, or the single-quoted form MTurk samples use
     (categories="['Positive', 'Negative']"), or a comma-separated list. Never eval. */
  function parseCategories(text) {
    if (!text) {
      return [];
    }
    try {
      var parsed = JSON.parse(text);
      if (Array.isArray(parsed)) {
        return parsed.map(String);
      }
    } catch (e) {
      /* fall through to the lenient parser */
    }
    var trimmed = text.trim();
    if (trimmed.charAt(0) === "[") {
      var out = [];
      var i = 1;
      while (i < trimmed.length) {
        var ch = trimmed.charAt(i);
        if (ch === "'" || ch === '"') {
          var quote = ch;
          var value = "";
          i += 1;
          while (i < trimmed.length && trimmed.charAt(i) !== quote) {
            if (trimmed.charAt(i) === "\\" && i + 1 < trimmed.length) {
              i += 1;
            }
            value += trimmed.charAt(i);
            i += 1;
          }
          out.push(value);
        }
        i += 1;
      }
      return out;
    }
    return trimmed.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  /* Children of `host` destined for a named part: <tag> children or slot="tag". */
  function takePart(host, name) {
    var found = [];
    Array.prototype.slice.call(host.children).forEach(function (child) {
      if (child.localName === name || child.getAttribute("slot") === name) {
        found.push(child);
      }
    });
    return found;
  }

  /* ----------------------------------------------------------------- styles */

  var CSS = [
    "crowd-form,crowd-input,crowd-text-area,crowd-slider,crowd-radio-group,crowd-checkbox,",
    "crowd-radio-button,crowd-instructions,crowd-classifier,crowd-image-classifier,crowd-alert,",
    "short-summary,detailed-instructions,positive-example,negative-example,",
    "classification-target,short-instructions,full-instructions{display:block;box-sizing:border-box;max-width:100%}",
    "crowd-button{display:inline-block}",
    ".crowd-root{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;color:#16191f}",
    ".crowd-root *{box-sizing:border-box}",
    ".crowd-form__form{margin:0}",
    ".crowd-form__actions{margin-top:16px}",
    ".crowd-error{color:#b3261e;font-size:13px;margin-top:4px}",
    ".crowd-error[hidden],.crowd-form__message[hidden]{display:none}",
    ".crowd-form__message{margin-top:12px;padding:10px 12px;border:1px solid #b3261e;border-left-width:4px;",
    "background:#fdecea;color:#8c1d18;border-radius:4px}",
    ".crowd-field{display:block;margin:10px 0}",
    ".crowd-field__label{display:block;font-weight:600;margin-bottom:4px}",
    ".crowd-field input[type=text],.crowd-field input[type=number],.crowd-field input[type=email],",
    ".crowd-field input[type=url],.crowd-field input[type=password],.crowd-field input[type=tel],",
    ".crowd-field input[type=search],.crowd-field input[type=date],.crowd-field textarea{",
    "width:100%;max-width:100%;padding:8px 10px;border:1px solid #8d99a8;border-radius:4px;font:inherit;background:#fff}",
    ".crowd-field input:focus,.crowd-field textarea:focus{outline:2px solid #0073bb;outline-offset:1px}",
    "[aria-invalid=true]{border-color:#b3261e!important;outline-color:#b3261e}",
    ".crowd-counter{font-size:12px;color:#545b64;text-align:right}",
    ".crowd-button__native{font:inherit;font-weight:600;padding:8px 18px;border-radius:4px;border:1px solid #545b64;",
    "background:#fff;color:#16191f;cursor:pointer;max-width:100%;white-space:normal}",
    ".crowd-button__native.crowd-primary{background:#ec7211;border-color:#ec7211;color:#fff}",
    ".crowd-button__native.crowd-link{background:none;border-color:transparent;color:#0073bb;text-decoration:underline}",
    ".crowd-button__native:focus{outline:2px solid #0073bb;outline-offset:2px}",
    ".crowd-button__native:disabled{opacity:.6;cursor:not-allowed}",
    ".crowd-check{display:flex;align-items:flex-start;gap:8px;margin:6px 0;cursor:pointer}",
    ".crowd-check input{margin:3px 0 0;width:18px;height:18px;flex:none}",
    ".crowd-radio-group__box{border:0;margin:0;padding:0}",
    ".crowd-slider__row{display:flex;align-items:center;gap:10px}",
    ".crowd-slider__row input[type=range]{flex:1;min-width:0}",
    ".crowd-slider__row input[type=number]{width:5em}",
    ".crowd-slider__pin{min-width:2.5em;text-align:center;font-weight:600}",
    ".crowd-instructions{border:1px solid #d5dbdb;border-radius:4px;margin:10px 0;padding:0 12px}",
    ".crowd-instructions>summary,.crowd-details>summary{cursor:pointer;font-weight:600;padding:8px 0}",
    ".crowd-details{border-top:1px solid #eaeded;padding:0 0 4px}",
    ".crowd-example--positive{border-left:4px solid #1d8102;padding-left:8px}",
    ".crowd-example--negative{border-left:4px solid #d13212;padding-left:8px}",
    ".crowd-task{display:flex;flex-wrap:wrap;gap:16px;margin:10px 0 18px}",
    ".crowd-task__side{flex:1 1 220px;min-width:0;background:#f7f8f8;border:1px solid #eaeded;border-radius:4px;padding:10px}",
    ".crowd-task__main{flex:3 1 300px;min-width:0}",
    ".crowd-task__header{font-size:18px;margin:0 0 10px}",
    ".crowd-task__target{margin:0 0 12px;overflow-wrap:anywhere}",
    ".crowd-task__target img{max-width:100%;height:auto;display:block}",
    ".crowd-categories{border:0;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:8px}",
    ".crowd-category{display:inline-flex;align-items:center;gap:6px;padding:8px 12px;border:1px solid #8d99a8;",
    "border-radius:4px;cursor:pointer;background:#fff;max-width:100%;overflow-wrap:anywhere}",
    ".crowd-category:focus-within{outline:2px solid #0073bb;outline-offset:1px}",
    ".crowd-category--selected{background:#e6f2f8;border-color:#0073bb;font-weight:600}",
    ".crowd-category__key{font-size:11px;color:#545b64;border:1px solid #aab7b8;border-radius:3px;padding:0 4px}",
    ".crowd-alert{display:flex;gap:8px;align-items:flex-start;padding:10px 12px;border-radius:4px;margin:8px 0;",
    "border:1px solid #0073bb;border-left-width:4px;background:#f1faff}",
    ".crowd-alert--success{border-color:#1d8102;background:#f2f8f0}",
    ".crowd-alert--warning{border-color:#ff9900;background:#fffbf2}",
    ".crowd-alert--error{border-color:#d13212;background:#fdf3f1}",
    ".crowd-alert__body{flex:1;min-width:0}",
    ".crowd-alert__close{font:inherit;border:0;background:none;cursor:pointer;font-size:18px;line-height:1}"
  ].join("\n");

  function injectStyle() {
    if (document.getElementById("crowd-html-elements-style")) {
      return;
    }
    var style = h("style", { id: "crowd-html-elements-style" });
    style.textContent = CSS;
    (document.head || document.documentElement).appendChild(style);
  }

  /* ----------------------------------------------------------- base element */

  class CrowdElement extends HTMLElement {
    static get observedAttributes() {
      return ["disabled"];
    }

    connectedCallback() {
      injectStyle();
      if (this._built || this._pending) {
        return;
      }
      this._pending = true;
      var self = this;
      whenParsed(function () {
        self._pending = false;
        if (!self._built && self.isConnected) {
          self._built = true;
          self.classList.add("crowd-root");
          self._build();
        }
      });
    }

    attributeChangedCallback(name) {
      if (this._built && name === "disabled" && this._control) {
        this._control.disabled = flag(this, "disabled");
      }
    }

    _build() {}

    get disabled() {
      return flag(this, "disabled");
    }

    set disabled(on) {
      if (on) {
        this.setAttribute("disabled", "");
      } else {
        this.removeAttribute("disabled");
      }
    }

    get name() {
      return this.getAttribute("name") || "";
    }

    /* The text used to name this field in messages. */
    _title() {
      return this.getAttribute("label") || this.getAttribute("header") || this.getAttribute("name") || this.localName;
    }

    _errorBox() {
      if (!this._error) {
        this._error = h("div", { class: "crowd-error", id: nextId("crowd-error"), hidden: true });
        this.appendChild(this._error);
      }
      return this._error;
    }

    _showError(message) {
      var box = this._errorBox();
      box.textContent = message;
      box.hidden = false;
      if (this._control) {
        this._control.setAttribute("aria-invalid", "true");
        this._control.setAttribute("aria-describedby", box.id);
      }
    }

    _clearError() {
      if (this._error) {
        this._error.hidden = true;
        this._error.textContent = "";
      }
      if (this._control) {
        this._control.removeAttribute("aria-invalid");
      }
    }

    /* null when valid, else a message. */
    _validity() {
      return null;
    }

    _focusTarget() {
      return this._control || this;
    }
  }

  /* -------------------------------------------------------------- crowd-form */

  function plainControl(node) {
    var tag = node.localName;
    if (tag !== "input" && tag !== "select" && tag !== "textarea") {
      return false;
    }
    if (node.hasAttribute(INTERNAL) || !node.name || RESERVED[node.name] || node.disabled) {
      return false;
    }
    var type = (node.type || "").toLowerCase();
    return ["submit", "button", "reset", "image", "file"].indexOf(type) === -1;
  }

  function collectPlain(node, answers) {
    var type = (node.type || "").toLowerCase();
    if (node.localName === "select") {
      if (node.multiple) {
        put(answers, node.name, Array.prototype.filter.call(node.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; }));
      } else {
        put(answers, node.name, node.value);
      }
    } else if (type === "checkbox" || type === "radio") {
      put(answers, node.name, stateObject(node.value || "on", node.checked));
    } else if (type === "number" || type === "range") {
      put(answers, node.name, node.value === "" ? null : Number(node.value));
    } else {
      put(answers, node.name, node.value);
    }
  }

  function plainTitle(node) {
    if (node.getAttribute("aria-label")) {
      return node.getAttribute("aria-label");
    }
    if (node.labels && node.labels.length) {
      var text = node.labels[0].textContent.trim();
      if (text) {
        return text;
      }
    }
    return node.name;
  }

  class CrowdForm extends CrowdElement {
    _build() {
      var form = h("form", { method: "post", class: "crowd-form__form", "accept-charset": "UTF-8" });
      form.action = submitUrl();
      form.noValidate = true;
      this._form = form;
      moveChildren(this, form);
      this.appendChild(form);

      var idField = form.querySelector('input[name="assignmentId"]');
      if (!idField) {
        idField = h("input", { type: "hidden", name: "assignmentId" });
        form.insertBefore(idField, form.firstChild);
      }
      idField.value = param("assignmentId") || "";
      this._idField = idField;

      if (!form.querySelector('crowd-button[form-action="submit"], input[type="submit"], button[type="submit"], button:not([type])')) {
        var actions = h("div", { class: "crowd-form__actions" }, [
          h("crowd-button", { "form-action": "submit", variant: "primary", text: "Submit" })
        ]);
        form.appendChild(actions);
      }
      if (isPreview()) {
        Array.prototype.forEach.call(form.querySelectorAll('input[type="submit"], button[type="submit"], button:not([type])'),
          function (btn) {
            if (btn.hasAttribute(INTERNAL)) {
              return;
            }
            btn.disabled = true;
            if (btn.localName === "input") {
              btn.value = ACCEPT_MESSAGE;
            } else {
              btn.textContent = ACCEPT_MESSAGE;
            }
          });
      }

      this._message = h("div", { class: "crowd-form__message", role: "alert", hidden: true });
      form.appendChild(this._message);

      var self = this;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        event.stopPropagation();
        self._attempt();
      });

      /* Children added to <crowd-form> later by page code belong in the form. */
      new MutationObserver(function (records) {
        records.forEach(function (record) {
          Array.prototype.forEach.call(record.addedNodes, function (node) {
            if (node !== form && node.parentNode === self) {
              form.insertBefore(node, self._message);
            }
          });
        });
      }).observe(this, { childList: true });
    }

    get form() {
      return this._form || null;
    }

    _say(text) {
      if (this._message) {
        this._message.textContent = text;
        this._message.hidden = !text;
      }
    }

    /* Full submission: preview check, validation, cancelable submit event, POST. */
    requestSubmit() {
      if (this._form) {
        this._attempt();
      }
    }

    _attempt() {
      if (this._submitted) {
        return;
      }
      if (isPreview()) {
        this._say(ACCEPT_MESSAGE);
        return;
      }
      if (!this._validate()) {
        return;
      }
      this._say("");
      var event = new Event("submit", { bubbles: true, cancelable: true });
      if (!this.dispatchEvent(event)) {
        return;
      }
      this._post();
    }

    _validate() {
      var problems = [];
      var first = null;
      Array.prototype.forEach.call(this._form.querySelectorAll("*"), function (node) {
        if (node instanceof CrowdElement) {
          node._clearError();
          if (node.disabled) {
            return;
          }
          var message = node._validity();
          if (message) {
            node._showError(message);
            problems.push(node._title());
            first = first || node._focusTarget();
          }
        } else if (plainControl(node)) {
          node.removeAttribute("aria-invalid");
          if (!node.checkValidity()) {
            node.setAttribute("aria-invalid", "true");
            var title = plainTitle(node);
            if (problems.indexOf(title) === -1) {
              problems.push(title);
            }
            first = first || node;
          }
        }
      });
      if (!problems.length) {
        return true;
      }
      this._say("Please complete the required fields before submitting: " + problems.join(", ") + ".");
      if (first && first.focus) {
        first.focus();
      }
      return false;
    }

    /* The answers object, in document order. */
    serialize() {
      var answers = emptyObject();
      if (!this._form) {
        return answers;
      }
      Array.prototype.forEach.call(this._form.querySelectorAll("*"), function (node) {
        if (node instanceof CrowdElement) {
          var name = node.name;
          if (name && !RESERVED[name] && !node.disabled && node._collect) {
            node._collect(answers, name);
          }
        } else if (plainControl(node)) {
          collectPlain(node, answers);
        }
      });
      return answers;
    }

    /* Post straight away, like a native form.submit(): no validation, no event. */
    submit() {
      if (!this._form || this._submitted) {
        return;
      }
      if (isPreview()) {
        this._say(ACCEPT_MESSAGE);
        return;
      }
      this._post();
    }

    _post() {
      this._submitted = true;
      var post = h("form", { method: "post", "accept-charset": "UTF-8", style: "display:none" });
      post.action = this._form.action || submitUrl();
      var id = h("input", { type: "hidden", name: "assignmentId" });
      id.value = this._idField ? this._idField.value : param("assignmentId") || "";
      var answers = h("input", { type: "hidden", name: "taskAnswers" });
      answers.value = JSON.stringify([this.serialize()]);
      post.appendChild(id);
      post.appendChild(answers);
      (document.body || document.documentElement).appendChild(post);
      Array.prototype.forEach.call(this._form.querySelectorAll("button, input[type=submit]"), function (btn) {
        if (btn.type === "submit") {
          btn.disabled = true;
        }
      });
      post.submit();
    }
  }

  /* ------------------------------------------------------------ crowd-button */

  class CrowdButton extends CrowdElement {
    _build() {
      var action = (this.getAttribute("form-action") || "").toLowerCase();
      var variant = (this.getAttribute("variant") || "normal").toLowerCase();
      var btn = h("button", {
        class: "crowd-button__native crowd-" + variant,
        type: action === "submit" ? "submit" : action === "reset" ? "reset" : "button"
      });
      btn.setAttribute(INTERNAL, "");
      moveChildren(this, btn);
      if (!btn.textContent.trim() && !btn.children.length) {
        btn.textContent = action === "submit" ? "Submit" : "Button";
      }
      btn.disabled = this.disabled;
      if (action === "submit" && isPreview()) {
        btn.disabled = true;
        btn.textContent = ACCEPT_MESSAGE;
      }
      var self = this;
      btn.addEventListener("click", function () {
        if (action === "submit" && !btn.form) {
          var crowdForm = self.closest("crowd-form") || document.querySelector("crowd-form");
          if (crowdForm && crowdForm.requestSubmit) {
            crowdForm.requestSubmit();
          }
        }
        var href = self.getAttribute("href");
        if (href && /^(https?:|\/|\.|#)/i.test(href)) {
          window.open(href, self.getAttribute("target") || "_self");
        }
      });
      this._control = btn;
      this.appendChild(btn);
    }
  }

  /* ------------------------------------------------- crowd-input / text-area */

  function applyTextAttributes(host, control) {
    var map = { "max-length": "maxLength", "min-length": "minLength" };
    Object.keys(map).forEach(function (attr) {
      var value = parseInt(host.getAttribute(attr), 10);
      if (!isNaN(value) && value >= 0) {
        control[map[attr]] = value;
      }
    });
    ["placeholder", "min", "max", "step", "pattern", "autocomplete", "inputmode"].forEach(function (attr) {
      if (host.hasAttribute(attr)) {
        control.setAttribute(attr, host.getAttribute(attr));
      }
    });
    control.required = flag(host, "required");
    control.disabled = flag(host, "disabled");
    if (host.hasAttribute("value")) {
      control.value = host.getAttribute("value");
    }
    if (!host.getAttribute("label")) {
      control.setAttribute("aria-label", host.getAttribute("placeholder") || host.getAttribute("name") || "answer");
    }
    if (flag(host, "auto-focus") || flag(host, "autofocus")) {
      setTimeout(function () { control.focus(); }, 0);
    }
  }

  class CrowdTextField extends CrowdElement {
    _makeControl() {
      return h("input", {});
    }

    _build() {
      var control = this._makeControl();
      control.setAttribute(INTERNAL, "");
      applyTextAttributes(this, control);
      this._control = control;
      var label = h("label", { class: "crowd-field" });
      if (this.getAttribute("label")) {
        label.appendChild(h("span", { class: "crowd-field__label", text: this.getAttribute("label") }));
      }
      label.appendChild(control);
      this.textContent = "";
      this.appendChild(label);
      var max = parseInt(this.getAttribute("max-length"), 10);
      if (flag(this, "char-counter")) {
        var counter = h("div", { class: "crowd-counter", "aria-live": "polite" });
        var update = function () {
          counter.textContent = control.value.length + (isNaN(max) ? "" : " / " + max);
        };
        control.addEventListener("input", update);
        update();
        this.appendChild(counter);
      }
      var allowed = this.getAttribute("allowed-pattern");
      if (allowed) {
        var re;
        try {
          re = new RegExp(allowed);
        } catch (e) {
          re = null;
        }
        if (re) {
          control.addEventListener("input", function () {
            var kept = Array.prototype.filter.call(control.value, function (ch) { return re.test(ch); }).join("");
            if (kept !== control.value) {
              control.value = kept;
            }
          });
        }
      }
      var self = this;
      control.addEventListener("input", function () { self._clearError(); });
    }

    get value() {
      return this._control ? this._control.value : this.getAttribute("value") || "";
    }

    set value(v) {
      if (this._control) {
        this._control.value = v;
      } else {
        this.setAttribute("value", v);
      }
    }

    _collect(answers, name) {
      put(answers, name, this.value);
    }

    _validity() {
      var c = this._control;
      if (!c || c.checkValidity()) {
        return null;
      }
      if (this.getAttribute("error-message")) {
        return this.getAttribute("error-message");
      }
      return c.validity.valueMissing ? "This field is required." : c.validationMessage;
    }
  }

  class CrowdInput extends CrowdTextField {
    _makeControl() {
      var type = (this.getAttribute("type") || "text").toLowerCase();
      var allowedTypes = ["text", "number", "email", "url", "password", "tel", "search", "date", "time"];
      return h("input", { type: allowedTypes.indexOf(type) === -1 ? "text" : type });
    }

    _collect(answers, name) {
      if (this._control && this._control.type === "number") {
        var text = this._control.value;
        put(answers, name, text === "" ? null : Number(text));
      } else {
        put(answers, name, this.value);
      }
    }
  }

  class CrowdTextArea extends CrowdTextField {
    _makeControl() {
      var rows = parseInt(this.getAttribute("rows"), 10);
      return h("textarea", { rows: isNaN(rows) ? 3 : rows });
    }
  }

  /* -------------------------------------------------- checkbox / radio button */

  class CrowdCheckable extends CrowdElement {
    static get observedAttributes() {
      return ["disabled", "checked"];
    }

    attributeChangedCallback(name) {
      super.attributeChangedCallback(name);
      if (this._built && name === "checked" && this._control) {
        this._control.checked = flag(this, "checked");
      }
    }

    _inputType() {
      return "checkbox";
    }

    _groupName() {
      return nextId("crowd-check");
    }

    _build() {
      var input = h("input", { type: this._inputType(), name: this._groupName() });
      input.setAttribute(INTERNAL, "");
      input.checked = flag(this, "checked");
      input.disabled = flag(this, "disabled");
      input.required = this._inputType() === "checkbox" && flag(this, "required");
      var text = h("span", { class: "crowd-check__text" });
      moveChildren(this, text);
      if (!text.textContent.trim() && !text.children.length) {
        input.setAttribute("aria-label", this.getAttribute("value") || this.getAttribute("name") || "option");
      }
      this._control = input;
      this.appendChild(h("label", { class: "crowd-check" }, [input, text]));
      var self = this;
      input.addEventListener("change", function () {
        self._clearError();
        var group = self.closest("crowd-radio-group");
        if (group && group._clearError) {
          group._clearError();
        }
      });
    }

    get checked() {
      return this._control ? this._control.checked : flag(this, "checked");
    }

    set checked(on) {
      if (this._control) {
        this._control.checked = !!on;
      } else if (on) {
        this.setAttribute("checked", "");
      } else {
        this.removeAttribute("checked");
      }
    }

    get value() {
      return this.getAttribute("value") || "on";
    }

    _title() {
      var text = this.textContent.trim();
      return text || super._title();
    }

    _collect(answers, name) {
      put(answers, name, stateObject(this.value, this.checked));
    }
  }

  class CrowdCheckbox extends CrowdCheckable {
    _validity() {
      return flag(this, "required") && !this.checked ? "This box must be checked." : null;
    }
  }

  class CrowdRadioButton extends CrowdCheckable {
    _inputType() {
      return "radio";
    }

    _groupName() {
      var group = this.closest("crowd-radio-group");
      if (!group) {
        return this._ownGroup || (this._ownGroup = nextId("crowd-radio"));
      }
      if (!group._radioName) {
        group._radioName = nextId("crowd-radio-group");
      }
      return group._radioName;
    }

    get name() {
      var group = this.closest("crowd-radio-group");
      return this.getAttribute("name") || (group && group.getAttribute("name")) || "";
    }

    _collect(answers, name) {
      put(answers, name, stateObject(this.value, this.checked));
    }
  }

  class CrowdRadioGroup extends CrowdElement {
    _build() {
      this.setAttribute("role", "radiogroup");
      if (this.getAttribute("label")) {
        this.setAttribute("aria-label", this.getAttribute("label"));
      }
    }

    _buttons() {
      return Array.prototype.slice.call(this.querySelectorAll("crowd-radio-button"));
    }

    get value() {
      var chosen = this._buttons().filter(function (b) { return b.checked; })[0];
      return chosen ? chosen.value : "";
    }

    _required() {
      return flag(this, "required") || this._buttons().some(function (b) { return flag(b, "required"); });
    }

    _validity() {
      if (!this._required()) {
        return null;
      }
      return this._buttons().some(function (b) { return b.checked && !b.disabled; }) ? null : "Please choose an option.";
    }

    _focusTarget() {
      var first = this._buttons()[0];
      return first && first._control ? first._control : this;
    }

    _title() {
      return this.getAttribute("label") || this.getAttribute("name") || "choice";
    }
  }

  /* ------------------------------------------------------------ crowd-slider */

  class CrowdSlider extends CrowdElement {
    _build() {
      var range = h("input", { type: "range" });
      range.setAttribute(INTERNAL, "");
      ["min", "max", "step"].forEach(function (attr) {
        if (this.hasAttribute(attr)) {
          range.setAttribute(attr, this.getAttribute(attr));
        }
      }, this);
      if (this.hasAttribute("value")) {
        range.value = this.getAttribute("value");
      }
      range.disabled = this.disabled;
      this._control = range;
      var row = h("span", { class: "crowd-slider__row" }, [range]);
      var label = h("label", { class: "crowd-field" });
      if (this.getAttribute("label")) {
        label.appendChild(h("span", { class: "crowd-field__label", text: this.getAttribute("label") }));
      } else {
        range.setAttribute("aria-label", this.getAttribute("name") || "value");
      }
      label.appendChild(row);
      this.textContent = "";
      this.appendChild(label);
      var pin = h("output", { class: "crowd-slider__pin", "aria-hidden": "true" });
      if (flag(this, "pin") || !flag(this, "editable")) {
        row.appendChild(pin);
      }
      var box = null;
      if (flag(this, "editable")) {
        box = h("input", { type: "number", min: range.min, max: range.max, step: range.step });
        box.setAttribute(INTERNAL, "");
        box.setAttribute("aria-label", (this.getAttribute("label") || this.getAttribute("name") || "value") + " (number)");
        box.disabled = range.disabled;
        box.addEventListener("change", function () {
          range.value = box.value;
          sync();
          range.dispatchEvent(new Event("change", { bubbles: true }));
        });
        row.appendChild(box);
      }
      var sync = function () {
        pin.textContent = range.value;
        range.setAttribute("aria-valuetext", range.value);
        if (box) {
          box.value = range.value;
        }
      };
      range.addEventListener("input", sync);
      range.addEventListener("change", sync);
      sync();
    }

    get value() {
      return this._control ? Number(this._control.value) : Number(this.getAttribute("value") || 0);
    }

    set value(v) {
      if (this._control) {
        this._control.value = v;
        this._control.dispatchEvent(new Event("input"));
      } else {
        this.setAttribute("value", v);
      }
    }

    _collect(answers, name) {
      put(answers, name, this.value);
    }
  }

  /* ------------------------------------------------------ crowd-instructions */

  function details(summaryText, parts, extraClass, open) {
    var box = h("details", { class: "crowd-details " + (extraClass || ""), open: !!open }, [
      h("summary", { text: summaryText })
    ]);
    parts.forEach(function (part) { box.appendChild(part); });
    return box;
  }

  class CrowdInstructions extends CrowdElement {
    _build() {
      var summary = takePart(this, "short-summary");
      var detailed = takePart(this, "detailed-instructions");
      var positive = takePart(this, "positive-example");
      var negative = takePart(this, "negative-example");
      var loose = Array.prototype.slice.call(this.childNodes).filter(function (n) {
        return summary.indexOf(n) === -1 && detailed.indexOf(n) === -1 &&
          positive.indexOf(n) === -1 && negative.indexOf(n) === -1;
      });
      var outer = h("details", { class: "crowd-instructions", open: true }, [
        h("summary", { text: this.getAttribute("link-text") || "Instructions" })
      ]);
      var shortBox = h("div", { class: "crowd-instructions__summary" });
      summary.concat(loose).forEach(function (n) { shortBox.appendChild(n); });
      outer.appendChild(shortBox);
      if (detailed.length) {
        outer.appendChild(details("Detailed instructions", detailed, "crowd-instructions__detailed"));
      }
      if (positive.length) {
        outer.appendChild(details("Good examples", positive, "crowd-example--positive"));
      }
      if (negative.length) {
        outer.appendChild(details("Bad examples", negative, "crowd-example--negative"));
      }
      this.appendChild(outer);
    }
  }

  /* ------------------------------------------- crowd-classifier (+ image) */

  class CrowdClassifier extends CrowdElement {
    _target(parts) {
      var box = h("div", { class: "crowd-task__target" });
      parts.forEach(function (n) { box.appendChild(n); });
      return box;
    }

    _build() {
      var target = takePart(this, "classification-target");
      var shortParts = takePart(this, "short-instructions");
      var fullParts = takePart(this, "full-instructions");
      var loose = Array.prototype.slice.call(this.childNodes).filter(function (n) {
        return target.indexOf(n) === -1 && shortParts.indexOf(n) === -1 && fullParts.indexOf(n) === -1 &&
          !(n.nodeType === 3 && !n.textContent.trim());
      });
      var headerId = nextId("crowd-header");
      var main = h("div", { class: "crowd-task__main" });
      if (this.getAttribute("header")) {
        main.appendChild(h("h2", { class: "crowd-task__header", id: headerId, text: this.getAttribute("header") }));
      }
      main.appendChild(this._target(target.concat(loose)));

      var group = h("fieldset", { class: "crowd-categories", role: "radiogroup" });
      if (this.getAttribute("header")) {
        group.setAttribute("aria-labelledby", headerId);
      } else {
        group.setAttribute("aria-label", "Categories");
      }
      var radioName = nextId("crowd-classifier");
      var self = this;
      this._radios = [];
      parseCategories(this.getAttribute("categories")).forEach(function (category, index) {
        var radio = h("input", { type: "radio", name: radioName });
        radio.setAttribute(INTERNAL, "");
        radio.value = category;
        var children = [radio, h("span", { class: "crowd-category__text", text: category })];
        if (index < 9) {
          children.push(h("span", { class: "crowd-category__key", "aria-hidden": "true", text: String(index + 1) }));
        }
        var label = h("label", { class: "crowd-category" }, children);
        radio.addEventListener("change", function () { self._refresh(); });
        group.appendChild(label);
        self._radios.push(radio);
      });
      main.appendChild(group);

      var side = h("div", { class: "crowd-task__side" });
      if (shortParts.length || fullParts.length) {
        shortParts.forEach(function (n) { side.appendChild(n); });
        if (fullParts.length) {
          var heading = fullParts[0].getAttribute && fullParts[0].getAttribute("header");
          side.appendChild(details(heading || "View full instructions", fullParts, "crowd-task__full"));
        }
      }
      var layout = h("div", { class: "crowd-task" });
      if (side.childNodes.length) {
        layout.appendChild(side);
      }
      layout.appendChild(main);
      this.appendChild(layout);

      /* Number keys 1-9 pick a category while focus is inside the element. */
      this.addEventListener("keydown", function (event) {
        var t = event.target;
        if (event.altKey || event.ctrlKey || event.metaKey || !/^[1-9]$/.test(event.key)) {
          return;
        }
        if (t && (t.localName === "textarea" || (t.localName === "input" && t.type !== "radio"))) {
          return;
        }
        var radio = self._radios[Number(event.key) - 1];
        if (radio) {
          radio.checked = true;
          radio.focus();
          radio.dispatchEvent(new Event("change", { bubbles: true }));
          event.preventDefault();
        }
      });
    }

    _refresh() {
      this._clearError();
      this._radios.forEach(function (radio) {
        radio.parentNode.classList.toggle("crowd-category--selected", radio.checked);
      });
    }

    get value() {
      var chosen = (this._radios || []).filter(function (r) { return r.checked; })[0];
      return chosen ? chosen.value : null;
    }

    _collect(answers, name) {
      if (this.value !== null) {
        put(answers, name, { label: this.value });
      }
    }

    _validity() {
      return this.value === null && this._radios && this._radios.length ? "Please choose a category." : null;
    }

    _focusTarget() {
      return (this._radios && this._radios[0]) || this;
    }

    _errorBox() {
      if (!this._error) {
        this._error = h("div", { class: "crowd-error", id: nextId("crowd-error"), hidden: true });
        var main = this.querySelector(".crowd-task__main");
        (main || this).appendChild(this._error);
      }
      return this._error;
    }
  }

  class CrowdImageClassifier extends CrowdClassifier {
    _target(parts) {
      var box = h("div", { class: "crowd-task__target" });
      var src = this.getAttribute("src");
      if (src) {
        box.appendChild(h("img", { src: src, alt: this.getAttribute("header") || "Image to classify" }));
      }
      parts.forEach(function (n) { box.appendChild(n); });
      return box;
    }
  }

  /* ------------------------------------------------------------- crowd-alert */

  class CrowdAlert extends CrowdElement {
    _build() {
      var type = (this.getAttribute("type") || "info").toLowerCase();
      if (["success", "info", "warning", "error"].indexOf(type) === -1) {
        type = "info";
      }
      var box = h("div", {
        class: "crowd-alert crowd-alert--" + type,
        role: type === "error" || type === "warning" ? "alert" : "status"
      });
      var body = h("div", { class: "crowd-alert__body" });
      moveChildren(this, body);
      box.appendChild(body);
      if (flag(this, "dismissible")) {
        var self = this;
        var close = h("button", { type: "button", class: "crowd-alert__close", "aria-label": "Dismiss", text: "\u00d7" });
        close.setAttribute(INTERNAL, "");
        close.addEventListener("click", function () {
          self.hidden = true;
          self.style.display = "none";
        });
        box.appendChild(close);
      }
      this.appendChild(box);
    }
  }

  /* -------------------------------------------------------------- register */

  var elements = {
    "crowd-form": CrowdForm,
    "crowd-button": CrowdButton,
    "crowd-input": CrowdInput,
    "crowd-text-area": CrowdTextArea,
    "crowd-checkbox": CrowdCheckbox,
    "crowd-radio-group": CrowdRadioGroup,
    "crowd-radio-button": CrowdRadioButton,
    "crowd-slider": CrowdSlider,
    "crowd-instructions": CrowdInstructions,
    "crowd-classifier": CrowdClassifier,
    "crowd-image-classifier": CrowdImageClassifier,
    "crowd-alert": CrowdAlert
  };
  Object.keys(elements).forEach(function (tag) {
    if (!window.customElements.get(tag)) {
      window.customElements.define(tag, elements[tag]);
    }
  });
})(window, document);
