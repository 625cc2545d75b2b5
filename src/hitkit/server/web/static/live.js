// hitkit live page: the worker's side of a live task. One websocket to /live/v1/worker/RUN (the page's signed
// token proves who the worker is); the server sends the state (waiting, in a conversation, done...), the history
// on every (re)connect, messages, and whether the requester's program is connected. Pings keep the connection
// alive; a dropped connection is retried with backoff, and the server replays the history when it comes back.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;
  var $ = function (id) { return document.getElementById(id); };
  var statusEl = $("status"), banner = $("banner"), list = $("messages"), text = $("text"), send = $("send");
  var errorEl = $("error"), context = $("context"), submitForm = $("submit-form"), fields = $("submit-fields");
  var heartbeat = 1000 * parseFloat(root.getAttribute("data-heartbeat") || "10");
  var params = new URLSearchParams({
    assignmentId: root.getAttribute("data-assignment"), workerId: root.getAttribute("data-worker"),
    hitId: root.getAttribute("data-hit"), token: root.getAttribute("data-token")
  });
  var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live/v1/worker/" +
    encodeURIComponent(root.getAttribute("data-run")) + "?" + params.toString();
  var ws = null, pinger = null, retry = 0, stopped = false, status = "joined";

  function add(message, own, system) {
    var li = document.createElement("li");
    if (own) li.className = "own";
    if (system) li.className = "system";
    if (!own && !system && message.id) {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = message.id;
      li.appendChild(who);
    }
    li.appendChild(document.createTextNode(message.text || ""));
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }
  function showContext(data) {
    context.textContent = "";
    if (!data || typeof data !== "object" || !Object.keys(data).length) { context.hidden = true; return; }
    Object.keys(data).forEach(function (key) {
      var value = data[key];
      if (typeof value === "string" && /^(image|img|image_url)$/i.test(key)) {
        var img = document.createElement("img");
        img.src = value; img.alt = key;
        context.appendChild(img);
      } else {
        var h = document.createElement("h2"); h.textContent = key.replace(/_/g, " ");
        var p = document.createElement("p");
        p.textContent = typeof value === "string" ? value : JSON.stringify(value);
        context.appendChild(h); context.appendChild(p);
      }
    });
    context.hidden = false;
  }
  function setState(s) {
    status = s.status || status;
    statusEl.textContent = s.text || ({ waiting: "Waiting for a partner...", in_world: "You are in the conversation.",
      done: "This conversation has ended.", left: "You were away too long; this conversation went on without you." }[status] || "");
    var canTalk = status === "in_world" || status === "onboarding";
    text.disabled = send.disabled = !canTalk;
    if ("task_data" in s) showContext(s.task_data);
    fields.textContent = "";
    var extra = s.submit_fields || {};
    Object.keys(extra).forEach(function (k) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = k; input.value = extra[k];
      fields.appendChild(input);
    });
    submitForm.hidden = !s.can_submit;
  }
  function error(message) {
    errorEl.textContent = message; errorEl.hidden = !message;
  }
  function connect() {
    ws = new WebSocket(url);
    ws.onopen = function () {
      retry = 0; error("");
      pinger = setInterval(function () { if (ws.readyState === 1) ws.send(JSON.stringify({ type: "ping" })); }, heartbeat);
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "state") {
        setState(frame);
        if (frame.requester_connected) banner.hidden = true;
      } else if (frame.type === "history") {
        list.textContent = "";
        (frame.messages || []).forEach(function (m) { add(m, m.own, false); });
      } else if (frame.type === "message") {
        add(frame.message || {}, false, false);
      } else if (frame.type === "requester_gone") {
        banner.textContent = frame.message; banner.hidden = false;
      } else if (frame.type === "requester_back") {
        banner.hidden = true;
      } else if (frame.type === "error") {
        error(frame.message || frame.code);
        if (frame.code === "not_allowed" || frame.code === "replaced") stopped = true;
      }
    };
    ws.onclose = function (event) {
      clearInterval(pinger);
      if (stopped || event.code === 4401 || event.code === 4403 || event.code === 4404) {
        statusEl.textContent = "Disconnected.";
        text.disabled = send.disabled = true;
        return;
      }
      retry = Math.min(retry + 1, 6);
      statusEl.textContent = "Connection lost; reconnecting...";
      text.disabled = send.disabled = true;
      setTimeout(connect, 250 * Math.pow(2, retry - 1));
    };
  }
  $("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = text.value.trim();
    if (!value || !ws || ws.readyState !== 1) return;
    ws.send(JSON.stringify({ type: "message", text: value }));
    add({ text: value }, true, false);
    text.value = "";
  });
  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
  });
  connect();
})();
