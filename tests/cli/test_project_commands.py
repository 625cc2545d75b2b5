"""`hitkit new`, `hitkit import simple-amt` and `hitkit preview` as a user runs them (subprocesses): what they
write and print, one-line errors with exit 1 and no traceback, and a served preview in Chromium."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from importlib import resources
from pathlib import Path

import httpx

from hitkit.templates import BUILTINS
from tests.support.processes import hitkit

QUESTION_FORM = """<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd">
<Overview><Text>Read the claim.</Text></Overview>
<Question><QuestionIdentifier>verdict</QuestionIdentifier><DisplayName>Verdict</DisplayName><IsRequired>true</IsRequired>
<QuestionContent><Text>Is "{{ row.claim }}" true?</Text></QuestionContent>
<AnswerSpecification><SelectionAnswer><Selections>
<Selection><SelectionIdentifier>yes</SelectionIdentifier><Text>Yes</Text></Selection>
<Selection><SelectionIdentifier>no</SelectionIdentifier><Text>No</Text></Selection>
</Selections></SelectionAnswer></AnswerSpecification></Question>
<Question><QuestionIdentifier>why</QuestionIdentifier><IsRequired>false</IsRequired>
<QuestionContent><Text>Why?</Text></QuestionContent><AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question>
</QuestionForm>"""
EXTERNAL = """<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">
<ExternalURL>https://study.example.org/run?item={{ row.item }}</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"""
HIT_TOML = """[hit]
title = "Check a claim"
description = "Say whether a claim is true."
reward = "0.10"
duration = "5m"

[template]
file = "{file}"
kind = "{kind}"
"""


def one_line_error(proc: subprocess.CompletedProcess, *parts: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for part in parts:
        assert part in proc.stderr, (part, proc.stderr)


def test_new_list_and_new(tmp_path: Path):
    listed = hitkit("new", "--list").stdout.splitlines()
    assert [line.split()[0] for line in listed] == list(BUILTINS)
    assert all(len(line.split(None, 1)) == 2 for line in listed)  # each with a description
    proc = hitkit("new", str(tmp_path / "cats"), "--template", "image-classification")
    assert "from the image-classification template" in proc.stdout and "hitkit preview" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "cats").iterdir()) == ["example.csv", "hitkit.toml", "template.html"]


def test_new_errors_and_force(tmp_path: Path):
    dest = tmp_path / "p"
    hitkit("new", str(dest), "-t", "survey")
    one_line_error(hitkit("new", str(dest), "-t", "sentiment", check=False), "not empty", "--force")
    hitkit("new", str(dest), "-t", "sentiment", "--force")
    assert "crowd-form" in (dest / "template.html").read_text()
    one_line_error(hitkit("new", str(tmp_path / "q"), "-t", "ocr", check=False), "'ocr'", *BUILTINS)
    one_line_error(hitkit("new", str(tmp_path / "q"), check=False), "--template", "image-classification")
    one_line_error(hitkit("new", check=False), "hitkit new NAME")
    assert not (tmp_path / "q").exists()


def test_import_simple_amt(tmp_path: Path):
    props = tmp_path / "image_sentence.json"
    props.write_text(json.dumps({"Title": "Describe images", "Description": "Write a sentence.", "Reward": 0.05,
                                 "AssignmentDurationInSeconds": 900, "FrameHeight": 20000, "MaxAssignments": 3,
                                 "Country": "US", "PercentApproved": 95, "Bogus": 1}))
    template = tmp_path / "image_sentence.html"
    template.write_text('<html><body>{% include "hit_templates/simpleamt.html" %}</body></html>')
    data = tmp_path / "example_input.txt"
    data.write_text('{"url": "https://e.org/1.jpg"}\n{"url": "https://e.org/2.jpg"}\n')
    proc = hitkit("import", "simple-amt", str(props), str(template), str(tmp_path / "proj"), "--input", str(data))
    out = proc.stdout
    assert "PercentApproved 95 -> qualifications.min_approval_rate = 96" in out
    assert 'Country "US" -> qualifications.countries = ["US"]' in out
    assert "example_input.txt -> example_input.jsonl (2 rows, one HIT each)" in out
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert any("LifetimeInSeconds is missing" in w for w in warnings)
    assert any("letter by letter" in w for w in warnings)
    assert any("Bogus" in w for w in warnings)
    assert (tmp_path / "proj" / "example_input.jsonl").exists()
    preview = hitkit("preview", str(tmp_path / "proj"), "--input", str(tmp_path / "proj" / "example_input.jsonl"))
    assert Path(preview.stdout.strip()).exists()
    props.write_text(json.dumps({"Title": "x", "Description": "y", "Reward": 0.05, "AssignmentDurationInSeconds": 900,
                                 "QualificationId": "3X", "QualificationComparator": "~", "QualificationInteger": 1}))
    one_line_error(hitkit("import", "simple-amt", str(props), str(template), str(tmp_path / "other"), check=False),
                   "QualificationComparator")
    assert not (tmp_path / "other").exists()


def test_preview_writes_a_page_with_offline_scripts(tmp_path: Path):
    project = tmp_path / "cats"
    hitkit("new", str(project), "-t", "image-classification")
    proc = hitkit("preview", str(project), "--input", str(project / "example.csv"), "--row", "2")
    page = Path(proc.stdout.strip())
    assert page == project / ".hitkit" / "preview" / "row-2.html" and proc.stderr == ""
    wrapper = page.read_text()
    assert "Classify an image" in wrapper and "row 2 of 4" in wrapper
    assert "row-2.task.html?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE" in wrapper
    task = (page.parent / "row-2.task.html").read_text()
    assert 'src="hitkit-static/externalHIT_v1.js"' in task and "s3.amazonaws.com" not in task
    assert "example image 2" in task  # the second row's image
    static = resources.files("hitkit").joinpath("server", "web", "static")
    for name in ("externalHIT_v1.js", "crowd-html-elements.js"):
        assert (page.parent / "hitkit-static" / name).read_bytes() == static.joinpath(name).read_bytes()
    out = tmp_path / "elsewhere" / "look.html"
    proc = hitkit("preview", str(project), "--input", str(project / "example.csv"), "--output", str(out))
    assert proc.stdout.strip() == str(out) and (tmp_path / "elsewhere" / "look.task.html").exists()


def test_preview_errors_and_warnings(tmp_path: Path):
    project = tmp_path / "t"
    hitkit("new", str(project), "-t", "text-classification")
    csv = project / "example.csv"
    one_line_error(hitkit("preview", str(project), "--input", str(csv), "--row", "9", check=False),
                   "row 9 is out of range", "has 5 rows")
    one_line_error(hitkit("preview", str(project), "--input", str(csv), "--row", "0", check=False), "row 0")
    one_line_error(hitkit("preview", str(project), "--input", str(tmp_path / "none.csv"), check=False), "does not exist")
    one_line_error(hitkit("preview", str(tmp_path / "nothing"), "--input", str(csv), check=False), "not a hitkit project")
    other = tmp_path / "other.csv"
    other.write_text("body,id\nhello,1\n")
    one_line_error(hitkit("preview", str(project), "--input", str(other), check=False), "row 1, column `text`")
    extra = tmp_path / "extra.csv"
    extra.write_text("text,id,source\nhello,1,web\n")
    proc = hitkit("preview", str(project), "--input", str(extra))
    assert proc.stderr.strip() == "warning: the template never uses the columns id, source of " + str(extra)
    (project / "template.html").write_text("<p>\n{% if row.text %}\n")
    one_line_error(hitkit("preview", str(project), "--input", str(csv), check=False), "template.html, line 2")


def test_preview_of_question_form_and_external_question(tmp_path: Path):
    data = tmp_path / "rows.csv"
    data.write_text('claim,item\n"2 < 3 & <b>bold</b>",a7\n')
    form = tmp_path / "form"
    form.mkdir()
    (form / "hitkit.toml").write_text(HIT_TOML.format(file="question.xml", kind="question-form"))
    (form / "question.xml").write_text(QUESTION_FORM)
    page = Path(hitkit("preview", str(form), "--input", str(data)).stdout.strip())
    task = page.with_name("row-1.task.html").read_text()
    assert "Is &quot;2 &lt; 3 &amp; &lt;b&gt;bold&lt;/b&gt;&quot; true?" in task and "<b>bold" not in task
    assert "type='radio' name='verdict' value='yes'" in task and "<input type='text' name='why'" in task
    ext = tmp_path / "ext"
    ext.mkdir()
    (ext / "hitkit.toml").write_text(HIT_TOML.format(file="question.xml", kind="external-question"))
    (ext / "question.xml").write_text(EXTERNAL)
    page = Path(hitkit("preview", str(ext), "--input", str(data)).stdout.strip())
    wrapper = page.read_text()
    assert "src='https://study.example.org/run?item=a7&amp;assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE" in wrapper
    assert not page.with_name("row-1.task.html").exists()


def test_preview_serve_in_chromium(tmp_path: Path):
    from tests.support.browser import chromium_page, screenshot

    project = tmp_path / "ner"
    hitkit("new", str(project), "-t", "transcription")
    proc = subprocess.Popen([sys.executable, "-m", "hitkit.cli.main", "preview", str(project), "--input",
                             str(project / "example.csv"), "--serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/row-1.html"), (url, proc.stderr.read())
        base = url.rsplit("/", 1)[0]
        assert httpx.get(base + "/hitkit-static/externalHIT_v1.js").status_code == 200
        with chromium_page() as page:
            page.set_viewport_size({"width": 360, "height": 740})
            page.goto(url)
            frame = page.frame_locator("iframe.task")
            assert frame.locator("#submitButton").is_disabled()  # preview semantics
            screenshot(page, "preview-served-360px")
            page.click("text=Try it as accepted work")
            frame.locator("#transcript:not([disabled])").fill("Meet me <at> six & then")
            frame.locator("#submitButton").click()
            fields = frame.locator("#fields")
            fields.wait_for()
            text = fields.inner_text()
            assert "assignmentId" in text and "PREVIEWASSIGNMENT" in text and "Meet me <at> six & then" in text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert "Traceback" not in proc.stderr.read()
