"""`hitkit preview`: one input row rendered to local pages you can open in a browser, without a server.

The preview page shows the HIT's title, reward and description over a frame, as a worker's preview did, and the
frame holds the row's task page opened with MTurk's preview parameters (`assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE`),
so templates disable their submit buttons as they would on a marketplace. MTurk's script URLs
(externalHIT_v1.js, crowd-html-elements.js) point at copies written next to the page: hitkit's offline stand-ins,
read as package data (the toolkit never imports the server). A QuestionForm is shown as a plain read-only form; an
ExternalQuestion is framed from its URL.

`serve()` serves the folder on 127.0.0.1, where a "Try it as accepted work" link also opens the task with a made-up
assignment whose submission comes back as a page listing the fields the template posted.
"""

from __future__ import annotations

import html
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hitkit.mturk.xml import FormQuestion, QuestionDoc, QuestionXMLError, parse_question
from hitkit.requester.inputs import Input
from hitkit.requester.project import Project
from hitkit.templates.task_template import TemplateError

PREVIEW_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
PREVIEW_HIT_ID = "PREVIEWHIT0000000000000000000"
TRY_ASSIGNMENT_ID = "PREVIEWASSIGNMENT00000000000"
TRY_WORKER_ID = "APREVIEWWORKER"
STATIC_DIR = "hitkit-static"
SANDBOX = "allow-scripts allow-forms allow-popups allow-modals allow-popups-to-escape-sandbox"
_SCRIPTS = {
    "externalHIT_v1.js": re.compile(r"https?://s3\.amazonaws\.com/mturk-public/externalHIT_v1\.js", re.IGNORECASE),
    "crowd-html-elements.js": re.compile(r"https?://assets\.crowd\.aws/crowd-html-elements\.js", re.IGNORECASE),
}
_SUBMIT_URL = re.compile(r"https?://(?:www\.|workersandbox\.)?mturk\.com/mturk/externalSubmit", re.IGNORECASE)


class PreviewError(ValueError):
    """A preview that cannot be made (row out of range, a template failing on the row)."""


@dataclass
class Preview:
    page: Path  # open this one
    kind: str  # HTMLQuestion | ExternalQuestion | QuestionForm
    row: int
    rows: int
    task: Path | None = None  # the task's own page (not for ExternalQuestion)
    unused_columns: set[str] = field(default_factory=set)


def static_script(name: str) -> bytes:
    """hitkit's offline copy of one of MTurk's task-page scripts (package data of the server's static folder)."""
    return resources.files("hitkit").joinpath("server", "web", "static", name).read_bytes()


def local_scripts(content: str) -> str:
    """MTurk's script URLs pointed at the copies in STATIC_DIR, and its externalSubmit URL at this server's."""
    for name, pattern in _SCRIPTS.items():
        content = pattern.sub(f"{STATIC_DIR}/{name}", content)
    return _SUBMIT_URL.sub("/mturk/externalSubmit", content)


def with_params(url: str, params: dict[str, str]) -> str:
    """`url` with MTurk's parameters merged into its query string."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))


def pick_row(data: Input, number: int) -> dict[str, Any]:
    """Row `number` (1-based) of the input, or PreviewError saying how many there are."""
    if not 1 <= number <= len(data.rows):
        raise PreviewError(f"row {number} is out of range: {data.name} has {len(data.rows)} "
                           f"row{'s' if len(data.rows) != 1 else ''} (rows are numbered from 1)")
    return data.rows[number - 1]


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def question_form_page(doc: QuestionDoc, title: str) -> str:
    """A read-only rendering of a QuestionForm: overview, then each question with its answer controls."""
    parts = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
              f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
              "<style>body{font:16px/1.45 system-ui,sans-serif;margin:0;padding:12px;max-width:760px}"
              ".q{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .75rem;margin:.75rem 0}"
              ".q h2{font-size:1rem;margin:0 0 .25rem}.text{white-space:pre-wrap}img{max-width:100%}"
              "textarea,input[type=text]{width:100%;font:inherit}.meta{color:#57606a;font-size:.85rem}</style></head><body>")]

    def images(items: Any) -> str:
        return "".join(f"<p><img src='{_e(i.url)}' alt='{_e(i.alt)}'></p>" for i in items
                       if i.url.startswith(("https://", "http://", "data:image/")))

    if doc.overview_text or doc.overview_images:
        parts.append(f"<div class='text'>{_e(doc.overview_text)}</div>{images(doc.overview_images)}")
    parts.append("<form onsubmit='return false'>")
    for q in doc.questions:
        parts.append(_form_question(q, images))
    parts.append("<p><button type='submit' disabled>You must ACCEPT the HIT before you can submit the results."
                 "</button></p></form></body></html>")
    return "".join(parts)


def _form_question(q: FormQuestion, images: Any) -> str:
    name = _e(q.identifier)
    head = _e(q.display_name or q.identifier) + (" <span class='meta'>(required)</span>" if q.is_required else "")
    body = f"<div class='q'><h2>{head}</h2><div class='text'>{_e(q.content_text)}</div>{images(q.images)}"
    if q.answer_type == "FreeText":
        if q.lines and q.lines > 1:
            body += f"<textarea name='{name}' rows='{q.lines}'>{_e(q.default_text or '')}</textarea>"
        else:
            body += f"<input type='text' name='{name}' value='{_e(q.default_text or '')}'>"
        rules = []
        if q.is_numeric:
            rules.append(f"a number{f' from {q.min_value}' if q.min_value is not None else ''}"
                         f"{f' to {q.max_value}' if q.max_value is not None else ''}")
        if q.min_length is not None or q.max_length is not None:
            rules.append(f"length {q.min_length or 0} to {q.max_length if q.max_length is not None else 'any'}")
        if q.regex:
            rules.append(f"must match {q.regex}")
        if rules:
            body += f"<p class='meta'>Answer: {_e('; '.join(rules))}</p>"
    elif q.answer_type == "Selection":
        kind = "checkbox" if q.max_selections > 1 else "radio"
        for s in q.selections:
            label = _e(s.text or s.identifier)
            image = f"<img src='{_e(s.image.url)}' alt='{_e(s.image.alt)}'>" if s.image else ""
            body += f"<label><input type='{kind}' name='{name}' value='{_e(s.identifier)}'> {label}{image}</label><br>"
        if q.allow_other:
            body += f"<label>Other: <input type='text' name='{name}.other'></label>"
    else:
        body += "<input type='file' disabled> <span class='meta'>(a file upload)</span>"
    return body + "</div>"


def _wrapper(project: Project, preview_src: str, *, kind: str, row: int, rows: int, input_name: str,
             task_src: str | None, external_url: str | None) -> str:
    """The preview page: the HIT's title, reward and description over the task frame."""
    p = project.properties
    height = f"{p.frame_height}px" if p.frame_height else "80vh"
    minutes = max(1, round(p.duration / 60))
    external = (f"<p class='meta'>ExternalQuestion: <a href='{_e(external_url)}' target='_blank' rel='noopener'>"
                f"{_e(external_url)}</a></p>" if external_url else "")
    # The "try it" link makes sense only when served: the submission needs a server to come back to.
    try_it = ("<p class='try' hidden id='try'><a href='#work'>Try it as accepted work</a> (the submission is shown, "
              "not sent anywhere) &middot; <a href='#preview'>Back to the preview</a></p>") if task_src else ""
    script = ""
    if task_src:
        script = (
            "<script>(function(){var frame=document.querySelector('iframe.task');"
            f"var preview={json.dumps(preview_src)};var task={json.dumps(task_src)};"
            "if(location.protocol==='http:'||location.protocol==='https:'){document.getElementById('try').hidden=false;}"
            "function show(){if(location.hash==='#work'&&location.protocol.indexOf('http')===0){"
            f"frame.src=task+'?assignmentId={TRY_ASSIGNMENT_ID}&hitId={PREVIEW_HIT_ID}&workerId={TRY_WORKER_ID}"
            "&turkSubmitTo='+encodeURIComponent(location.origin);}else{frame.src=preview;}}"
            "window.addEventListener('hashchange',show);show();})();</script>"
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Preview: {_e(p.title)}</title><style>"
        "body{font:16px/1.45 system-ui,sans-serif;margin:0;padding:12px;color:#1b1f24}"
        "header{max-width:960px;margin:0 auto .75rem;overflow-wrap:anywhere}h1{font-size:1.3rem;margin:0}"
        ".meta{color:#57606a;font-size:.9rem;margin:.25rem 0}"
        ".note{background:#fff4d6;border:1px solid #e0b94f;padding:.4rem .6rem;font-size:.9rem}"
        f"iframe.task{{display:block;width:100%;max-width:960px;margin:0 auto;height:{height};"
        "border:1px solid #d0d7de;border-radius:4px}</style></head><body><header>"
        f"<h1>{_e(p.title)}</h1><p>{_e(p.description)}</p>"
        f"<p class='meta'>Reward ${_e(p.reward)} &middot; {p.assignments} assignment{'s' if p.assignments != 1 else ''}"
        f" &middot; {minutes} min allotted &middot; row {row} of {rows} of {_e(input_name)} &middot; {_e(kind)}</p>"
        f"{external}<p class='note'>Preview: the task is opened with assignmentId={PREVIEW_ID}, as MTurk's preview "
        f"was, so a template disables its submit button.</p>{try_it}</header>"
        f"<iframe class='task' title='The task' sandbox='{SANDBOX}' src='{_e(preview_src)}'></iframe>"
        f"{script}</body></html>"
    )


def write_preview(project: Project, data: Input, *, row: int = 1, output: str | Path | None = None) -> Preview:
    """Render row `row` (1-based) of `data` to a preview page; `output` is its path (default:
    .hitkit/preview/row-N.html in the project). The task page and the script copies go next to it."""
    values = pick_row(data, row)
    try:
        question = project.render(values, row)
    except TemplateError as e:
        raise PreviewError(f"{data.name}: {e}") from None
    try:
        doc = parse_question(question)
    except QuestionXMLError as e:  # render() checked it already; kept for questions changed under our feet
        raise PreviewError(f"{data.name}: row {row}: {e.message}") from None
    page = Path(output) if output else project.root / ".hitkit" / "preview" / f"row-{row}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    static = page.parent / STATIC_DIR
    static.mkdir(exist_ok=True)
    for name in _SCRIPTS:
        (static / name).write_bytes(static_script(name))
    params = {"assignmentId": PREVIEW_ID, "hitId": PREVIEW_HIT_ID}
    task: Path | None = None
    external_url = None
    if doc.kind == "ExternalQuestion":
        external_url = doc.external_url or ""
        preview_src, task_src = with_params(external_url, params), None
    else:
        task = page.with_name(page.stem + ".task.html")
        content = local_scripts(doc.html_content or "") if doc.kind == "HTMLQuestion" \
            else question_form_page(doc, project.properties.title)
        task.write_text(content, encoding="utf-8")
        task_src = task.name
        preview_src = f"{task.name}?{urlencode(params)}"
    page.write_text(_wrapper(project, preview_src, kind=doc.kind, row=row, rows=len(data.rows), input_name=Path(data.name).name,
                             task_src=task_src, external_url=external_url), encoding="utf-8")
    return Preview(page, doc.kind, row, len(data.rows), task, project.template.unused_columns(data.rows))


def _submission_page(fields: list[tuple[str, str]]) -> bytes:
    rows = "".join(f"<tr><th>{_e(k)}</th><td><pre>{_e(v)}</pre></td></tr>" for k, v in fields)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Submitted (preview)</title><style>"
        "body{font:16px/1.45 system-ui,sans-serif;padding:12px}th{text-align:left;vertical-align:top;padding-right:1em}"
        "pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere}</style></head><body>"
        "<h1>The HIT would post these fields</h1><p>Nothing was sent anywhere: this is the preview server.</p>"
        f"<table id='fields'>{rows}</table></body></html>"
    ).encode()


def serve(directory: Path, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve `directory` on 127.0.0.1 (a free port when 0) in a background thread; (server, base URL).
    POSTs to /mturk/externalSubmit answer a page listing the posted fields."""
    root = str(directory.resolve())

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, directory=root, **kw)

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/mturk/externalSubmit":
                self.send_error(404)
                return
            length = min(int(self.headers.get("Content-Length") or 0), 2 * 1024 * 1024)
            body = self.rfile.read(length).decode("utf-8", "replace")
            page = _submission_page(parse_qsl(body, keep_blank_values=True))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def end_headers(self) -> None:
            self.send_header("Cache-Control", "no-store")  # re-rendered pages must show at once
            super().end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
