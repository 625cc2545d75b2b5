"""A real browser posts an MTurk task form to hitkit's /mturk/externalSubmit: an ExternalQuestion page served by
the test on 127.0.0.1 with text, radio and checkbox inputs, opened with MTurk's query parameters; the requester's
boto3 then sees the values in the Answer XML."""

from __future__ import annotations

import xmltodict

from tests.conftest import hit_params
from tests.support.browser import chromium_page, screenshot
from tests.support.pages import serve_page

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


def test_browser_submits_an_external_question(server, mturk):
    with serve_page(TASK_PAGE) as base:
        url = f"{base}/task?item=17"
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

