"""hitkit's offline stand-ins for MTurk's task-page scripts (static/externalHIT_v1.js and static/crowd-html-elements.js)
in a real headless Chromium. The test serves the two scripts and its task pages from a small HTTP server on 127.0.0.1,
opens each task page inside an iframe sandboxed as hitkit's worker pages sandbox it (scripts and forms, no same
origin), fills the form, submits, and reads the form-encoded POST that reaches /mturk/externalSubmit."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import pytest

from tests.support.browser import chromium_page, screenshot

STATIC = Path(__file__).resolve().parents[3] / "src" / "hitkit" / "server" / "web" / "static"
IFRAME_HEIGHT = 1500
SANDBOX = "allow-scripts allow-forms allow-popups allow-modals"
ACCEPT = "You must ACCEPT the HIT before you can submit the results."
HEAD = '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
CROWD = '<script src="/static/crowd-html-elements.js"></script>'

FULL_FORM = HEAD + CROWD + """<title>Crowd form</title></head><body>
<crowd-form>
  <crowd-alert type="info">Thanks for helping.</crowd-alert>
  <crowd-instructions link-text="Instructions">
    <short-summary><p>Label the animal and tell us what you think.</p></short-summary>
    <detailed-instructions><p>Look at the description carefully.</p></detailed-instructions>
    <positive-example><p>"Meows" means cat.</p></positive-example>
    <negative-example><p>"Barks" is not a cat.</p></negative-example>
  </crowd-instructions>
  <crowd-classifier name="label" categories='["cat", "dog", "bird"]' header="Which animal is this?">
    <classification-target><p>A small furry animal that meows.</p></classification-target>
    <short-instructions>Pick the animal described.</short-instructions>
    <full-instructions header="Full instructions">Pick exactly one animal.</full-instructions>
  </crowd-classifier>
  <crowd-text-area name="comment" label="Comment" rows="2"></crowd-text-area>
  <crowd-input name="title" label="Title" required></crowd-input>
  <crowd-input name="count" type="number" label="How many legs?"></crowd-input>
  <crowd-checkbox name="agree">I agree</crowd-checkbox>
  <crowd-radio-group>
    <crowd-radio-button name="sentiment" value="positive">Positive</crowd-radio-button>
    <crowd-radio-button name="sentiment" value="negative">Negative</crowd-radio-button>
  </crowd-radio-group>
  <crowd-slider name="score" label="Score" min="0" max="10" value="3" pin></crowd-slider>
  <p><input type="text" name="plain" aria-label="Plain field"></p>
  <select name="colour" aria-label="Colour"><option>red</option><option selected>blue</option></select>
</crowd-form></body></html>"""

CANCELLABLE = HEAD + """<title>Cancellable</title></head><body>
<crowd-form>
  <crowd-input name="note" label="Note"></crowd-input>
  <label><input type="checkbox" id="allow"> allow submitting</label>
  <crowd-button form-action="submit" variant="primary">Send it</crowd-button>
</crowd-form>
<p id="status">idle</p><p id="seen">0</p>
<script>
  var crowdForm = document.querySelector('crowd-form');
  crowdForm.onsubmit = function (e) {
    if (!document.getElementById('allow').checked) {
      e.preventDefault();
      document.getElementById('status').textContent = 'cancelled';
    }
  };
  crowdForm.addEventListener('submit', function () {
    var seen = document.getElementById('seen');
    seen.textContent = String(Number(seen.textContent) + 1);
  });
</script>
<!-- loaded last: the handlers above were set before the elements were upgraded -->
""" + CROWD + "</body></html>"

XSS_CATEGORY = "<img src=x onerror=alert(1)>"
XSS = HEAD + CROWD + f"""<title>Untrusted categories</title></head><body>
<crowd-form>
  <crowd-classifier name="evil" header="{html.escape('<b>bold?</b>')}"
      categories="{html.escape(json.dumps([XSS_CATEGORY, "<script>alert(2)</script>", "fine"]))}">
    <classification-target>Pick the first one.</classification-target>
  </crowd-classifier>
  <crowd-classifier name="mood" header="Mood" categories="['Positive', 'Negative', 'Neutral']">
    <classification-target>MTurk samples quote categories with single quotes.</classification-target>
  </crowd-classifier>
  <crowd-input name="free" label="{html.escape('<img src=y onerror=alert(3)>')}"></crowd-input>
</crowd-form></body></html>"""

CLASSIC = HEAD + """<script src="/static/externalHIT_v1.js"></script><title>Classic</title></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
  <input type="hidden" name="assignmentId" id="assignmentId" value="">
  <p><label>Answer <input name="answer" id="answer"></label></p>
  <p><label><input type="checkbox" name="sure" value="yes"> sure</label></p>
  <p><input type="submit" id="submitButton" value="Submit"></p>
</form>
<p id="params"></p>
<script>
  turkSetAssignmentID();
  document.getElementById('params').textContent = [turkGetParam('workerId', 'none'), turkGetParam('hitId'),
    turkGetParam('missing', 'dflt'), turkGetSubmitToHost()].join('|');
</script></body></html>"""

PAGES = {"full": FULL_FORM, "cancel": CANCELLABLE, "xss": XSS, "classic": CLASSIC}


class _TaskServer:
    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                if url.path.startswith("/static/"):
                    name = url.path[len("/static/"):]
                    if name in {p.name for p in STATIC.iterdir()}:
                        return self._send(200, (STATIC / name).read_bytes(), "text/javascript; charset=utf-8")
                elif url.path == "/outer":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    return self._send(200, server.outer(query).encode())
                elif url.path.startswith("/task/") and url.path[len("/task/"):] in PAGES:
                    return self._send(200, PAGES[url.path[len("/task/"):]].encode())
                self._send(404, b"not found")

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("ascii")
                if urlsplit(self.path).path != "/mturk/externalSubmit":
                    return self._send(404, b"not found")
                server.posts.append((self.path, body))
                self._send(200, b'<!DOCTYPE html><p id="done">submitted</p>')

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def outer(self, query: dict[str, str]) -> str:
        page = query.get("page", "full")
        if query.get("preview"):
            params = "assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1"
        else:
            params = "assignmentId=A1&hitId=H1&workerId=W1"
        if not query.get("no_submit_to"):
            params += "&turkSubmitTo=" + quote(self.base, safe="")
        src = html.escape(f"/task/{page}?{params}")
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
                f'</head><body style="margin:0"><iframe sandbox="{SANDBOX}" src="{src}" title="task" '
                f'style="width:100%;height:{IFRAME_HEIGHT}px;border:0;display:block"></iframe></body></html>')

    def wait_for_post(self, timeout: float = 5.0) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        while not self.posts and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.posts, "no POST reached /mturk/externalSubmit"
        time.sleep(0.1)  # a second POST would have arrived by now
        return list(self.posts)

    def assert_no_post(self, wait: float = 0.6) -> None:
        time.sleep(wait)
        assert self.posts == []


def _only_post(server: _TaskServer) -> list[tuple[str, str]]:
    posts = server.wait_for_post()
    assert len(posts) == 1
    path, body = posts[0]
    assert path == "/mturk/externalSubmit"
    return parse_qsl(body, keep_blank_values=True, strict_parsing=True)


def _task_answers(server: _TaskServer) -> dict:
    fields = _only_post(server)
    assert [name for name, _ in fields] == ["assignmentId", "taskAnswers"]
    assert fields[0] == ("assignmentId", "A1")
    answers = json.loads(fields[1][1])
    assert isinstance(answers, list) and len(answers) == 1
    return answers[0]


@pytest.fixture(scope="module")
def task_server():
    server = _TaskServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


errors: list[str] = []  # uncaught script errors in any frame


@pytest.fixture(scope="module")
def _browser():
    with chromium_page() as page:
        dialogs: list[str] = []

        def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, dialogs


@pytest.fixture
def page(_browser, task_server):
    page, dialogs = _browser
    task_server.posts.clear()
    dialogs.clear()
    errors.clear()
    page.set_viewport_size({"width": 1000, "height": 900})
    yield page
    assert errors == [], "uncaught script errors in the page"


@pytest.fixture
def dialogs(_browser) -> list[str]:
    """Messages of alert/confirm/prompt dialogs any frame opened during the test."""
    return _browser[1]


def _open(page, server: _TaskServer, name: str, **query: str):  # type: ignore[no-untyped-def]
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    page.goto(f"{server.base}/outer?page={name}{extra}")
    frame = page.frame_locator("iframe")
    frame.locator("body").wait_for()
    return frame


def _task_frame(page):  # type: ignore[no-untyped-def]
    return page.main_frame.child_frames[0]


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """screenshot() after making the viewport as tall as the outer page, so the full-page capture does not resize it
    (Chromium then sometimes captures the sandboxed, out-of-process iframe before it repaints, as a blank frame)."""
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": IFRAME_HEIGHT})
    for frame in (page.main_frame, _task_frame(page)):
        frame.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    screenshot(page, name)


def test_crowd_form_posts_one_task_answers_field(page, task_server, dialogs):
    frame = _open(page, task_server, "full")
    frame.locator("crowd-form form").wait_for(state="attached")
    # MTurk's shapes: every named element in document order, inside one JSON object inside one array.
    frame.locator(".crowd-category", has_text="cat").click()
    frame.get_by_label("Comment").fill("nice ✓ ünïcode & <b>")
    frame.get_by_label("Title").fill("Hello")
    frame.get_by_label("How many legs?").fill("4")
    frame.get_by_label("I agree").check()
    frame.get_by_label("Positive").check()
    slider = frame.get_by_role("slider")
    slider.focus()
    for _ in range(4):
        slider.press("ArrowRight")  # the slider is keyboard usable: 3 -> 7
    assert frame.locator(".crowd-slider__pin").inner_text() == "7"
    frame.get_by_label("Plain field").fill("p")
    # Collapsible instructions: the detailed section opens on a click.
    frame.get_by_text("Detailed instructions").click()
    assert frame.get_by_text("Look at the description carefully.").is_visible()
    assert frame.get_by_text("A small furry animal that meows.").is_visible()
    submit = frame.get_by_role("button", name="Submit")
    assert submit.is_enabled()
    _shot(page, "crowd-form-filled")
    submit.click()

    answers = _task_answers(task_server)
    assert answers == {
        "label": {"label": "cat"},
        "comment": "nice ✓ ünïcode & <b>",
        "title": "Hello",
        "count": 4,
        "agree": {"on": True},
        "sentiment": {"positive": True, "negative": False},
        "score": 7,
        "plain": "p",
        "colour": "blue",
    }
    assert list(answers) == ["label", "comment", "title", "count", "agree", "sentiment", "score", "plain", "colour"]
    frame.locator("#done").wait_for()
    assert dialogs == []


def test_crowd_form_fits_a_360_px_screen(page, task_server):
    page.set_viewport_size({"width": 360, "height": 800})
    frame = _open(page, task_server, "full")
    frame.locator("crowd-form form").wait_for(state="attached")
    task = _task_frame(page)
    assert task.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert task.evaluate("document.querySelector('.crowd-categories').getBoundingClientRect().right <= innerWidth")
    _shot(page, "crowd-form-360px")


def test_required_field_left_empty_blocks_the_post(page, task_server):
    frame = _open(page, task_server, "full")
    frame.locator(".crowd-category", has_text="dog").click()
    frame.get_by_role("button", name="Submit").click()
    message = frame.locator(".crowd-form__message")
    message.wait_for()
    assert "Title" in message.inner_text()
    assert frame.get_by_text("This field is required.").is_visible()
    assert frame.get_by_label("Title").evaluate("el => el === document.activeElement")
    _shot(page, "crowd-form-required")
    task_server.assert_no_post()
    # Filling it in lets the same form go through.
    frame.get_by_label("Title").fill("now filled")
    assert not frame.get_by_text("This field is required.").is_visible()
    frame.get_by_role("button", name="Submit").click()
    answers = _task_answers(task_server)
    assert answers["title"] == "now filled" and answers["label"] == {"label": "dog"}
    assert answers["agree"] == {"on": False} and answers["count"] is None and answers["score"] == 3


def test_classifier_needs_a_category(page, task_server):
    frame = _open(page, task_server, "full")
    frame.get_by_label("Title").fill("x")
    frame.get_by_role("button", name="Submit").click()
    frame.get_by_text("Please choose a category.").wait_for()
    task_server.assert_no_post(0.3)


def test_submit_cancelled_by_page_code_then_allowed(page, task_server):
    # No turkSubmitTo in the URL: crowd-form falls back to /mturk/externalSubmit on the page's own origin.
    frame = _open(page, task_server, "cancel", no_submit_to="1")
    frame.get_by_label("Note").fill("first try")
    assert frame.get_by_role("button").count() == 1  # the page's own submit button: no second one added
    frame.get_by_role("button", name="Send it").click()
    assert frame.locator("#status").inner_text() == "cancelled"
    assert frame.locator("#seen").inner_text() == "1"  # addEventListener saw the same event
    _shot(page, "crowd-form-cancelled")
    task_server.assert_no_post()
    frame.get_by_label("allow submitting").check()
    frame.get_by_label("Note").press("Enter")  # implicit submission runs through the same checks
    assert _task_answers(task_server) == {"note": "first try"}


def test_preview_disables_submit_and_posts_nothing(page, task_server):
    frame = _open(page, task_server, "full", preview="1")
    button = frame.locator("crowd-button button")
    button.wait_for()
    assert button.is_disabled()
    assert button.inner_text() == ACCEPT
    assert frame.locator('input[name="assignmentId"]').input_value() == "ASSIGNMENT_ID_NOT_AVAILABLE"
    frame.locator(".crowd-category", has_text="bird").click()
    frame.get_by_label("Title").fill("t")
    frame.get_by_label("Title").press("Enter")
    button.click(force=True)
    _task_frame(page).evaluate("document.querySelector('crowd-form').requestSubmit()")
    assert ACCEPT in frame.locator(".crowd-form__message").inner_text()
    _shot(page, "crowd-form-preview")
    task_server.assert_no_post()


def test_untrusted_categories_render_as_text(page, task_server, dialogs):
    frame = _open(page, task_server, "xss")
    frame.locator("crowd-form form").wait_for(state="attached")
    evil = frame.locator(".crowd-category", has_text=XSS_CATEGORY)
    assert evil.is_visible()
    assert frame.get_by_text("<script>alert(2)</script>").is_visible()
    assert frame.get_by_role("heading", name="<b>bold?</b>").is_visible()
    assert frame.get_by_text("<img src=y onerror=alert(3)>").is_visible()
    assert frame.locator("img, crowd-form script, b").count() == 0
    assert frame.locator(".crowd-category", has_text="Neutral").is_visible()  # ['...'] categories parse
    evil.click()
    frame.locator(".crowd-category", has_text="Negative").locator("input").focus()
    frame.locator(".crowd-category", has_text="Negative").locator("input").press("3")  # number keys pick
    _shot(page, "crowd-classifier-untrusted")
    frame.get_by_role("button", name="Submit").click()
    assert _task_answers(task_server) == {"evil": {"label": XSS_CATEGORY}, "mood": {"label": "Neutral"}, "free": ""}
    assert dialogs == []


def test_external_hit_script_sets_assignment_and_action(page, task_server):
    frame = _open(page, task_server, "classic")
    assert frame.locator("#assignmentId").input_value() == "A1"
    form = frame.locator("#mturk_form")
    assert form.get_attribute("action") == f"{task_server.base}/mturk/externalSubmit"
    assert frame.locator("#params").inner_text() == f"W1|H1|dflt|{task_server.base}"
    frame.get_by_label("Answer").fill("forty two")
    frame.get_by_label("sure").check()
    assert frame.locator("#submitButton").is_enabled()
    _shot(page, "external-hit-classic")
    frame.locator("#submitButton").click()
    assert _only_post(task_server) == [("assignmentId", "A1"), ("answer", "forty two"), ("sure", "yes")]


def test_external_hit_script_preview(page, task_server):
    frame = _open(page, task_server, "classic", preview="1")
    button = frame.locator("#submitButton")
    assert button.is_disabled()
    assert button.evaluate("b => b.value") == ACCEPT
    assert frame.locator("#assignmentId").input_value() == "ASSIGNMENT_ID_NOT_AVAILABLE"
    assert frame.locator("#params").inner_text() == f"none|H1|dflt|{task_server.base}"
    frame.get_by_label("Answer").fill("x")
    frame.get_by_label("Answer").press("Enter")
    _task_frame(page).evaluate("document.getElementById('mturk_form').requestSubmit()")
    _shot(page, "external-hit-preview")
    task_server.assert_no_post()


def test_scripts_stay_offline_and_away_from_storage():
    """The task page runs sandboxed without allow-same-origin: no storage, cookies, network calls or eval."""
    forbidden = [r"document\.cookie", r"localStorage", r"sessionStorage", r"indexedDB", r"\beval\s*\(",
                 r"new\s+Function", r"\bfetch\s*\(", r"XMLHttpRequest", r"WebSocket", r"sendBeacon",
                 r"\.innerHTML", r"\.outerHTML", r"insertAdjacentHTML", r"document\.write"]
    for name in ("externalHIT_v1.js", "crowd-html-elements.js"):
        text = (STATIC / name).read_text()
        for pattern in forbidden:
            assert not re.search(pattern, text), f"{name} uses {pattern}"
