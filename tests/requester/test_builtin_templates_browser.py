"""Every built-in template, launched for real: `new_project` writes the folder, the first example row is rendered
and posted with boto3's create_hit, and a signed-in worker previews it (the submit button is refused, the task fits
a 360 px screen), accepts it and does it in Chromium through the worker site; boto3 then reads the Answer and finds
the fields the template's comment promises. Screenshots go to tests/artifacts/builtin-<id>-*.png."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xmltodict

from hitkit.requester.inputs import read_input
from hitkit.requester.project import Project
from hitkit.requester.scaffold import new_project
from hitkit.templates import BUILTINS
from tests.support.browser import chromium_page, screenshot

ACCEPT_MESSAGE = "You must ACCEPT the HIT before you can submit the results."


def answers_of(mturk, assignment_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["Answer"]
    items = xmltodict.parse(answer)["QuestionFormAnswers"]["Answer"]
    items = items if isinstance(items, list) else [items]
    return {a["QuestionIdentifier"]: a.get("FreeText") for a in items}


@pytest.fixture(scope="module")
def worker_page(server):  # type: ignore[no-untyped-def]
    """One signed-in worker in one Chromium page for the whole module."""
    _, username, password = server.web_worker()
    with chromium_page() as page:
        page.goto(server.url + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/")
        yield page


def launch_first_row(tmp_path: Path, mturk, template_id: str) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    project = Project.load(new_project(tmp_path / template_id, template_id)[0].parent)
    data = read_input(project.root / "example.csv")
    assert project.template.unused_columns(data.rows) == set()
    question = project.render_rows(data)[0]
    params = project.properties.create_hit_type_params()
    hit = mturk.create_hit(**params, MaxAssignments=1, LifetimeInSeconds=3600, Question=question)["HIT"]
    return hit["HITId"], data.rows[0]


def task_frame(page, path: str = "/task/"):  # type: ignore[no-untyped-def]
    """The task iframe as a Frame (for evaluate), once its document has loaded."""
    page.frame_locator("iframe.task").locator("body").wait_for()
    frame = next(f for f in page.frames if path in f.url)
    frame.wait_for_load_state()
    return frame


def select_with_mouse(page, frame, word: str) -> None:  # type: ignore[no-untyped-def]
    """Drag the mouse across `word` in the ner-spans text, as a worker selects it."""
    rect = frame.evaluate(
        """(word) => {
            const box = document.getElementById("text");
            const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walker.nextNode())) {
              const i = node.data.indexOf(word);
              if (i >= 0) {
                const r = document.createRange();
                r.setStart(node, i); r.setEnd(node, i + word.length);
                const rects = r.getClientRects(), a = rects[0], b = rects[rects.length - 1];
                return [a.left + 1, a.top + a.height / 2, b.right - 1, b.top + b.height / 2];
              }
            }
            return null;
        }""", word)
    assert rect, word
    origin = page.locator("iframe.task").bounding_box()
    page.mouse.move(origin["x"] + rect[0], origin["y"] + rect[1])
    page.mouse.down()
    page.mouse.move(origin["x"] + rect[2], origin["y"] + rect[3], steps=8)
    page.mouse.up()


def do_image_classification(page, frame, row):  # type: ignore[no-untyped-def]
    frame.locator("#image").click()  # the worker's focus is in the task
    page.keyboard.press("2")  # number keys pick a category
    assert frame.locator("input[name=label][value=Dog]").is_checked()
    return {"label": "Dog"}


def do_text_classification(page, frame, row):  # type: ignore[no-untyped-def]
    frame.get_by_text("Question", exact=True).click()
    return {"label": "Question"}


def do_sentiment(page, frame, row):  # type: ignore[no-untyped-def]
    frame.locator("label.crowd-category", has_text="Negative").click()
    return {"taskAnswers": [{"sentiment": {"label": "Negative"}}]}


def do_ner_spans(page, frame, row):  # type: ignore[no-untyped-def]
    text = row["text"]
    live = task_frame(page)
    select_with_mouse(page, live, "Maria Lopez")
    frame.locator(".labels button", has_text="Person").click()
    select_with_mouse(page, live, "Lisbon")
    page.keyboard.press("3")  # the key of the third label, Location
    select_with_mouse(page, live, "Acme")
    frame.locator(".labels button", has_text="Other").click()
    frame.get_by_role("button", name="Remove Other Acme").click()  # a wrong one, removed again
    select_with_mouse(page, live, "Acme Robotics")
    frame.locator(".labels button", has_text="Organization").click()
    assert frame.locator("#text mark").count() == 3
    spans = [{"start": text.index(w), "end": text.index(w) + len(w), "label": label, "text": w}
             for w, label in (("Maria Lopez", "Person"), ("Acme Robotics", "Organization"), ("Lisbon", "Location"))]
    return {"spans": spans}


def do_bounding_boxes(page, frame, row):  # type: ignore[no-untyped-def]
    canvas = frame.locator("canvas")
    frame.locator("canvas").wait_for()
    box = canvas.bounding_box()
    box = {"x": box["x"] + 1, "y": box["y"] + 1}  # inside the canvas's 1 px border
    live = task_frame(page)
    scale = live.evaluate("document.getElementById('canvas').width / document.getElementById('image').naturalWidth")

    def drag(x0: float, y0: float, x1: float, y1: float) -> None:
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        page.mouse.move(box["x"] + x1, box["y"] + y1, steps=6)
        page.mouse.up()

    drag(40, 30, 200, 150)
    frame.locator("#box-label").select_option("Person")
    drag(250, 60, 300, 140)
    frame.locator("#box-label").select_option("Vehicle")
    drag(10, 10, 30, 30)
    assert frame.locator("#box-list li").count() == 3
    frame.locator("#box-list li").nth(2).focus()
    frame.locator("#box-list li").nth(2).press("Delete")  # keyboard delete of the selected box
    assert frame.locator("#box-list li").count() == 2
    expected = [
        {"left": 40 / scale, "top": 30 / scale, "width": 160 / scale, "height": 120 / scale, "label": "Animal"},
        {"left": 250 / scale, "top": 60 / scale, "width": 50 / scale, "height": 80 / scale, "label": "Person"},
    ]
    return {"boxes": expected}


def do_transcription(page, frame, row):  # type: ignore[no-untyped-def]
    frame.locator("#transcript").fill("Meet me by the old mill at six.")
    return {"transcript": "Meet me by the old mill at six."}


def do_survey(page, frame, row):  # type: ignore[no-untyped-def]
    frame.locator("input[name=clarity][value='4']").check()
    frame.locator("input[name=workload][value='2']").check()
    frame.locator("input[name=again][value='5']").check()
    frame.locator("#improve").fill("Pay a little more & add examples <please>")
    return {"clarity": "4", "workload": "2", "again": "5", "liked": None,
            "improve": "Pay a little more & add examples <please>"}


def do_external_study(page, frame, row):  # type: ignore[no-untyped-def]
    href = frame.locator("#study-link").get_attribute("href")
    assert href.startswith(row["study_url"]) and "workerId=A" in href and "assignmentId=" in href
    frame.locator("#completion_code").fill("HK-7Q2M-94XD")
    return {"completion_code": "HK-7Q2M-94XD"}


CASES: dict[str, Callable[..., dict]] = {
    "image-classification": do_image_classification,
    "text-classification": do_text_classification,
    "sentiment": do_sentiment,
    "ner-spans": do_ner_spans,
    "bounding-boxes": do_bounding_boxes,
    "transcription": do_transcription,
    "survey": do_survey,
    "external-study": do_external_study,
}


def test_every_builtin_has_a_case():
    assert set(CASES) == set(BUILTINS)


@pytest.mark.parametrize("template_id", list(CASES))
def test_builtin_template_done_by_a_worker_in_the_browser(template_id, server, mturk, worker_page, tmp_path):
    page = worker_page
    hit_id, row = launch_first_row(tmp_path, mturk, template_id)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{server.url}/hits/{hit_id}")
    frame = page.frame_locator("iframe.task")
    if template_id == "sentiment":
        submit = frame.locator("crowd-button, button[type=submit]").last
    else:
        submit = frame.locator("#submitButton")
    submit.wait_for()
    assert submit.is_disabled() and ACCEPT_MESSAGE in submit.inner_text()  # refused in preview
    overflow = task_frame(page).evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{template_id} is {overflow}px wider than a 360 px screen's frame"
    screenshot(page, f"builtin-{template_id}-preview-360px")
    if template_id == "external-study":
        assert frame.locator("#study-link").get_attribute("href") is None  # no starting the study before accepting
    page.set_viewport_size({"width": 1000, "height": 900})
    page.click("#accept")
    page.wait_for_url("**/work/*")
    assignment_id = page.url.split("/work/")[1].split("/")[0].split("?")[0]
    task_frame(page, f"/task/a/{assignment_id}")
    expected = CASES[template_id](page, frame, row)
    screenshot(page, f"builtin-{template_id}-work")
    submit.click()
    page.wait_for_url(f"**/work/{assignment_id}/done")
    answers = answers_of(mturk, assignment_id)
    assert set(answers) == set(expected), answers
    for field, want in expected.items():
        got = answers[field]
        if field == "boxes":
            boxes = json.loads(got)
            assert [b["label"] for b in boxes] == [b["label"] for b in want]
            for b, w in zip(boxes, want):
                assert all(isinstance(b[k], int) and abs(b[k] - w[k]) <= 1 for k in ("left", "top", "width", "height")), (b, w)
        elif field in ("spans", "taskAnswers"):
            assert json.loads(got) == want
        else:
            assert got == want, (field, got)
