"""The worker site in a real browser (Debian's Chromium through Playwright): join by invitation, find a HIT,
preview, accept, fill the task in its sandboxed frame, submit; the requester's boto3 then sees the values. The
same for an ExternalQuestion served by the test on 127.0.0.1 (with auto-accept of the next HIT), a crowd-form
template, and a QuestionForm HIT. Also: the task frame cannot read hitkit's cookies or pages, and the pages fit
a 360 px screen. Every page is screenshotted to tests/artifacts/."""

from __future__ import annotations

import json
import pytest
import xmltodict

from tests.conftest import hit_params
from tests.support.browser import chromium_page, screenshot
from tests.support.pages import serve_page

HTML_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"


def html_question(body: str, head: str = "", height: int = 500) -> str:
    return (f'<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent><![CDATA[<!DOCTYPE html><html><head><meta charset="utf-8"/>'
            f"{head}</head><body>{body}</body></html>]]></HTMLContent><FrameHeight>{height}</FrameHeight></HTMLQuestion>")


# An old MTurk template, unchanged: MTurk's script URL and the production externalSubmit URL.
CLASSIC_TEMPLATE = html_question(
    """<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" value="" name="assignmentId" id="assignmentId"/>
<p>Describe the picture <input name="description" id="description"></p>
<label><input type="radio" name="animal" value="cat" id="cat"> cat</label>
<label><input type="radio" name="animal" value="dog" id="dog"> dog</label>
<label><input type="checkbox" name="tags" value="cute" id="cute"> cute</label>
<label><input type="checkbox" name="tags" value="outdoor" id="outdoor"> outdoor</label>
<p><input type="submit" id="submitButton" value="Submit"></p></form>
<script language="Javascript">turkSetAssignmentID();</script>""",
    head='<script type="text/javascript" src="https://s3.amazonaws.com/mturk-public/externalHIT_v1.js"></script>',
)


def answers_of(mturk, assignment_id: str) -> dict:  # type: ignore[no-untyped-def]
    answer = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["Answer"]
    items = xmltodict.parse(answer)["QuestionFormAnswers"]["Answer"]
    items = items if isinstance(items, list) else [items]
    return {a["QuestionIdentifier"]: a.get("FreeText") or a.get("SelectionIdentifier") for a in items}


def assignment_of(page) -> str:  # type: ignore[no-untyped-def]
    return page.url.split("/work/")[1].split("/")[0].split("?")[0]


def accept_in_browser(page, server, hit_id: str) -> str:  # type: ignore[no-untyped-def]
    """Preview the HIT, press Accept, and return the new assignment's id from the work page's URL."""
    page.goto(f"{server.url}/hits/{hit_id}")
    page.click("#accept")
    page.wait_for_url("**/work/*")
    return assignment_of(page)


def sign_in(page, server) -> None:  # type: ignore[no-untyped-def]
    _, username, password = server.web_worker()
    page.goto(server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")


def test_join_by_invitation_find_preview_accept_and_submit(server, mturk):
    hit = mturk.create_hit(**hit_params(Title="Describe a picture", Reward="0.42", Question=CLASSIC_TEMPLATE))["HIT"]
    invitation = server.invite()
    with chromium_page() as page:
        page.goto(invitation)
        screenshot(page, "site-join")
        page.fill("input[name=username]", "browser-joiner")
        page.fill("input[name=password]", "a long password")
        page.fill("input[name=password_again]", "a long password")
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/?msg=*")
        assert "Your account is ready" in page.content()
        page.fill("input[name=q]", "describe a picture")
        page.click("form.search button")
        group = page.locator(f"li.group[data-hit-type='{hit['HITTypeId']}']")
        assert "$0.42" in group.inner_text()
        screenshot(page, "site-hit-groups")
        group.locator("text=Preview").click()
        frame = page.frame_locator("iframe.task")
        assert frame.locator("#submitButton").is_disabled()  # preview: the template's script disables submit
        screenshot(page, "site-preview")
        page.click("#accept")
        page.wait_for_url("**/work/*")
        frame.locator("#description").fill("A cat on a <b>wall</b>")
        frame.locator("#cat").check()
        frame.locator("#cute").check()
        frame.locator("#outdoor").check()
        assert page.locator("#timer").inner_text().strip() != ""
        screenshot(page, "site-work-html-question")
        aid = assignment_of(page)
        frame.locator("#submitButton").click()
        page.wait_for_url(f"**/work/{aid}/done")
        assert "Submitted" in page.content()
        screenshot(page, "site-done")
    assert answers_of(mturk, aid) == {"description": "A cat on a <b>wall</b>", "animal": "cat", "tags": "cute|outdoor"}


EXTERNAL_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>External task</title></head><body>
<form id="mturk_form" method="post">
  <input type="hidden" name="assignmentId" id="assignmentId">
  <p>Rate the sentence: <select name="rating" id="rating"><option>1</option><option>2</option><option>3</option></select></p>
  <p>Why? <textarea name="why" id="why"></textarea></p>
  <input type="submit" id="submit" value="Submit">
</form>
<p id="params"></p>
<script>
  const q = new URLSearchParams(location.search);
  document.getElementById("assignmentId").value = q.get("assignmentId");
  document.getElementById("mturk_form").action = q.get("turkSubmitTo") + "/mturk/externalSubmit";
  document.getElementById("params").textContent = JSON.stringify(Object.fromEntries(q));
</script></body></html>"""


@pytest.fixture()
def external_site():  # type: ignore[no-untyped-def]
    with serve_page(EXTERNAL_PAGE) as base:
        yield f"{base}/rate?batch=7"


def test_external_question_with_auto_accept_of_the_next_hit(server, mturk, external_site):
    question = ('<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
                f'ExternalQuestion.xsd"><ExternalURL>{external_site.replace("&", "&amp;")}</ExternalURL>'
                "<FrameHeight>0</FrameHeight></ExternalQuestion>")
    first = mturk.create_hit(**hit_params(Title="Rate sentences", Question=question))["HIT"]
    second = mturk.create_hit(**hit_params(Title="Rate sentences", Question=question))["HIT"]
    with chromium_page() as page:
        sign_in(page, server)
        page.goto(f"{server.url}/groups/{first['HITTypeId']}")
        frame = page.frame_locator("iframe.task")
        params = json.loads(frame.locator("#params").inner_text())
        assert params["assignmentId"] == "ASSIGNMENT_ID_NOT_AVAILABLE" and "workerId" not in params
        page.click("#accept")
        page.wait_for_url("**/work/*")
        params = json.loads(frame.locator("#params").inner_text())
        first_aid = assignment_of(page)
        assert params["assignmentId"] == first_aid and params["batch"] == "7"
        assert params["hitId"] in (first["HITId"], second["HITId"]) and params["workerId"].startswith("A")
        assert params["turkSubmitTo"] == server.url
        page.check("#auto-accept")
        page.wait_for_timeout(300)  # the toggle is saved in the background
        frame.locator("#rating").select_option("3")
        frame.locator("#why").fill("Clear & fluent")
        screenshot(page, "site-work-external-question")
        frame.locator("#submit").click()
        page.wait_for_url(lambda url: "/work/" in url and first_aid not in url)  # auto-accepted the next HIT
        second_aid = assignment_of(page)
        assert page.locator("#auto-accept").is_checked()
        frame.locator("#rating").select_option("1")
        frame.locator("#submit").click()
        page.wait_for_url(lambda url: "/work/" not in url or url.endswith("/done") or "msg=" in url)
        screenshot(page, "site-after-last-hit")
    assert answers_of(mturk, first_aid) == {"rating": "3", "why": "Clear & fluent"}
    assert answers_of(mturk, second_aid) == {"rating": "1", "why": None}


CROWD_TEMPLATE = html_question(
    """<crowd-form answer-format="flatten-objects">
  <crowd-instructions link-text="View instructions" link-type="button">
    <short-summary><p>Pick the sentiment.</p></short-summary>
    <detailed-instructions><p>Read the review and choose.</p></detailed-instructions>
  </crowd-instructions>
  <p id="review">The soup was cold.</p>
  <crowd-classifier name="sentiment" categories="['Positive', 'Negative', 'Neutral']" header="What is the sentiment?">
    <classification-target>The soup was cold.</classification-target>
  </crowd-classifier>
  <crowd-input name="comment" label="Comment"></crowd-input>
</crowd-form>""",
    head='<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>',
    height=700,
)


def test_crowd_form_template_posts_task_answers(server, mturk):
    hit = mturk.create_hit(**hit_params(Title="Sentiment with crowd elements", Question=CROWD_TEMPLATE))["HIT"]
    with chromium_page() as page:
        sign_in(page, server)
        aid = accept_in_browser(page, server, hit["HITId"])
        frame = page.frame_locator("iframe.task")
        frame.get_by_text("Negative", exact=True).first.click()
        frame.locator("crowd-input input").fill("too cold")
        screenshot(page, "site-work-crowd-form")
        frame.locator("crowd-button, button[type=submit]").last.click()
        page.wait_for_url(f"**/work/{aid}/done")
    answers = answers_of(mturk, aid)
    assert list(answers) == ["taskAnswers"]
    task_answers = json.loads(answers["taskAnswers"])
    assert isinstance(task_answers, list) and len(task_answers) == 1
    assert task_answers[0]["sentiment"] == {"label": "Negative"}
    assert task_answers[0]["comment"] == "too cold"


QUESTION_FORM = """<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd">
<Overview><Text>Look at the picture and answer.</Text></Overview>
<Question><QuestionIdentifier>colour</QuestionIdentifier><DisplayName>Colour</DisplayName><IsRequired>true</IsRequired>
<QuestionContent><Text>Which colour is the sky?</Text></QuestionContent>
<AnswerSpecification><SelectionAnswer><StyleSuggestion>radiobutton</StyleSuggestion><Selections>
<Selection><SelectionIdentifier>blue</SelectionIdentifier><Text>Blue</Text></Selection>
<Selection><SelectionIdentifier>green</SelectionIdentifier><Text>Green</Text></Selection>
</Selections></SelectionAnswer></AnswerSpecification></Question>
<Question><QuestionIdentifier>count</QuestionIdentifier><IsRequired>true</IsRequired>
<QuestionContent><Text>How many birds?</Text></QuestionContent>
<AnswerSpecification><FreeTextAnswer><Constraints><IsNumeric minValue="0" maxValue="100"/></Constraints></FreeTextAnswer></AnswerSpecification></Question>
</QuestionForm>"""


def test_question_form_hit_through_the_site(server, mturk):
    hit = mturk.create_hit(**hit_params(Title="Sky colour", Question=QUESTION_FORM))["HIT"]
    with chromium_page() as page:
        sign_in(page, server)
        aid = accept_in_browser(page, server, hit["HITId"])
        frame = page.frame_locator("iframe.task")
        frame.locator("input[value=blue]").check()
        frame.locator("input[name=count]").fill("7")
        screenshot(page, "site-work-question-form")
        frame.locator("[type=submit]").click()
        page.wait_for_url(f"**/work/{aid}/done")
    assert answers_of(mturk, aid) == {"colour": "blue", "count": "7"}


PROBE_TEMPLATE = html_question(
    """<p id="probe">running</p>
<script>
  var out = [];
  try { out.push("cookie:" + document.cookie); } catch (e) { out.push("cookie-blocked"); }
  try { out.push("parent:" + window.parent.document.title); } catch (e) { out.push("parent-blocked"); }
  try { localStorage.setItem("x", "1"); out.push("storage-open"); } catch (e) { out.push("storage-blocked"); }
  fetch("/me/assignments", {credentials: "include"}).then(function (r) { return r.text(); })
    .then(function (t) { out.push("fetch-read:" + t.length); }, function () { out.push("fetch-blocked"); })
    .then(function () { document.getElementById("probe").textContent = out.join(" "); });
</script>""")


def test_task_frame_cannot_reach_hitkit_cookies_or_pages(server, mturk):
    hit = mturk.create_hit(**hit_params(Title="Probe", Question=PROBE_TEMPLATE))["HIT"]
    with chromium_page() as page:
        sign_in(page, server)
        accept_in_browser(page, server, hit["HITId"])
        probe = page.frame_locator("iframe.task").locator("#probe")
        probe.filter(has_not_text="running").wait_for()
        result = probe.inner_text()
        # Opening the task URL directly (not framed) is sandboxed by its CSP header just the same.
        page.goto(server.url + f"/task/p/{hit['HITId']}")
        page.locator("#probe").filter(has_not_text="running").wait_for()
        direct = page.locator("#probe").inner_text()
    for seen in (result, direct):
        assert "cookie-blocked" in seen and "storage-blocked" in seen and "fetch-blocked" in seen, seen
        assert "hitkit_session" not in seen
    assert "parent-blocked" in result


def test_pages_fit_a_small_screen(server, mturk):
    mturk.create_hit(**hit_params(Title="A task with a rather long title that must wrap on a phone screen"))
    with chromium_page() as page:
        page.set_viewport_size({"width": 360, "height": 740})
        sign_in(page, server)
        for path, name in (("/", "site-mobile-groups"), ("/login", "site-mobile-login")):
            page.goto(server.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
            screenshot(page, name)
