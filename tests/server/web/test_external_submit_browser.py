"""A real browser posts an MTurk task form to hitkit's /mturk/externalSubmit: an ExternalQuestion page served by
the test on 127.0.0.1 with text, radio and checkbox inputs, opened with MTurk's query parameters; the requester's
boto3 then sees the values in the Answer XML."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import xmltodict

from tests.conftest import hit_params
from tests.support.browser import chromium_page, screenshot

TASK_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Task</title></head><body>
<form id="mturk_form" method="post">
  <input type="hidden" name="assignmentId" id="assignmentId">
  <p>Describe the picture <input name="description" id="description"></p>
  <label><input type="radio" name="animal" value="cat" id="cat"> cat</label>
  <label><input type="radio" name="animal" value="dog" id="dog"> dog</label>
  <label><input type="checkbox" name="tags" value="cute" id="cute"> cute</label>
  <label><input type="checkbox" name="tags" value="outdoor" id="outdoor"> outdoor</label>
  <input type="submit" id="submit" value="Submit">
</form>
<script>
  // What MTurk's externalHIT_v1.js did: take assignmentId and turkSubmitTo from the query string.
  const q = new URLSearchParams(location.search);
  document.getElementById("assignmentId").value = q.get("assignmentId");
  document.getElementById("mturk_form").action = q.get("turkSubmitTo") + "/mturk/externalSubmit";
</script></body></html>"""


class _TaskHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = TASK_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


def test_browser_submits_an_external_question(server, mturk):
    task_server = ThreadingHTTPServer(("127.0.0.1", 0), _TaskHandler)
    threading.Thread(target=task_server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{task_server.server_address[1]}/task?item=17"
        question = ('<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
                    f'ExternalQuestion.xsd"><ExternalURL>{url}</ExternalURL><FrameHeight>600</FrameHeight></ExternalQuestion>')
        hit_id = mturk.create_hit(**hit_params(Question=question))["HIT"]["HITId"]
        worker = server.new_worker()
        aid = server.accept(worker, hit_id)
        with chromium_page() as page:
            page.goto(f"{url}&assignmentId={aid}&hitId={hit_id}&workerId={worker.worker_id}&turkSubmitTo={server.url}")
            page.fill("#description", "A cat on a wall <b>")
            page.check("#cat")
            page.check("#cute")
            page.check("#outdoor")
            screenshot(page, "external-question-filled")
            page.click("#submit")
            page.wait_for_load_state()
            assert "submitted" in page.content()
            screenshot(page, "external-question-submitted")
        answer = mturk.get_assignment(AssignmentId=aid)["Assignment"]["Answer"]
        got = {a["QuestionIdentifier"]: a["FreeText"] for a in xmltodict.parse(answer)["QuestionFormAnswers"]["Answer"]}
        assert got == {"description": "A cat on a wall <b>", "animal": "cat", "tags": "cute|outdoor"}
    finally:
        task_server.shutdown()
