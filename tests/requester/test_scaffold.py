"""`new_project` from the built-in templates, and simple-amt imports: the shapes of simple-amt's own example files
(boto3 CamelCase keys, the older boto 2 lower-case ones, `Country: "US"`, no LifetimeInSeconds)."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from hitkit.requester.inputs import read_input
from hitkit.requester.project import Project
from hitkit.mturk.hit_properties import parse_properties
from hitkit.requester.scaffold import (
    PROJECT_FILES,
    ScaffoldError,
    import_simple_amt,
    new_project,
    readable_duration,
    simple_amt_config,
)
from hitkit.templates import BUILTINS
from hitkit.templates.task_template import TaskTemplate

ALLOWED_REMOTE = {"https://s3.amazonaws.com/mturk-public/externalHIT_v1.js", "https://assets.crowd.aws/crowd-html-elements.js",
                  "https://www.mturk.com/mturk/externalSubmit"}


def test_builtin_folders_match_the_list():
    root = resources.files("hitkit").joinpath("templates")
    folders = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders == set(BUILTINS)


@pytest.mark.parametrize("template_id", list(BUILTINS))
def test_every_builtin_makes_a_working_project(template_id: str, tmp_path: Path):
    written = new_project(tmp_path / "p", template_id)
    assert [p.name for p in written] == list(PROJECT_FILES)
    project = Project.load(tmp_path / "p")
    assert project.template.kind == "jinja"
    data = read_input(tmp_path / "p" / "example.csv")
    assert 3 <= len(data.rows) <= 5
    questions = project.render_rows(data)
    assert len(questions) == len(data.rows)
    assert project.template.unused_columns(data.rows) == set()
    source = (tmp_path / "p" / "template.html").read_text()
    head = source.split("#}", 1)[0]
    assert source.startswith("{#") and "Columns:" in head and "Posts:" in head  # says what it needs and posts
    for column in project.template.columns:
        assert column in head
    remote = set(re.findall(r"""(?:src|href|action)\s*=\s*["'](https?://[^"']+)""", source))
    assert remote <= ALLOWED_REMOTE, remote  # no CDN but MTurk's own script URLs (served offline by hitkit)
    if template_id == "sentiment":
        assert "<crowd-form>" in source and "crowd-html-elements.js" in source
    else:
        assert 'name="assignmentId"' in source and "turkSetAssignmentID()" in source
        assert 'name="viewport"' in source
    config = tomllib.loads((tmp_path / "p" / "hitkit.toml").read_text())
    assert config["template"] == {"file": "template.html", "kind": "jinja"}


def test_external_study_keeps_the_completion_code_out_of_the_page(tmp_path: Path):
    new_project(tmp_path / "s", "external-study")
    code = tomllib.loads((tmp_path / "s" / "hitkit.toml").read_text())["study"]["completion_code"]
    assert code and code not in (tmp_path / "s" / "template.html").read_text()
    project = Project.load(tmp_path / "s")
    for question in project.render_rows(read_input(tmp_path / "s" / "example.csv")):
        assert code not in question
    # A study_url that is not http(s) gives no link (no javascript: URLs in a worker's page).
    bad = project.render({"study_url": "javascript:alert(1)"}, 1)
    assert "javascript:" not in bad and "not a web address" in bad


def test_transcription_takes_audio_or_image(tmp_path: Path):
    new_project(tmp_path / "t", "transcription")
    project = Project.load(tmp_path / "t")
    assert project.template.columns == set() and project.template.optional_columns == {"audio_url", "image_url"}
    audio = project.render({"audio_url": "https://e.org/a.mp3"}, 1)
    assert "<audio" in audio and "<img" not in audio
    neither = project.render({"note": "x"}, 2)
    assert "neither audio_url nor image_url" in neither


def test_new_refuses_a_non_empty_folder_unless_forced(tmp_path: Path):
    dest = tmp_path / "p"
    dest.mkdir()
    new_project(dest, "survey")  # an empty folder is fine
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not empty; use --force"):
        new_project(dest, "sentiment")
    new_project(dest, "sentiment", force=True)
    assert "crowd-classifier" in (dest / "template.html").read_text() and (dest / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ScaffoldError, match="not a folder"):
        new_project(tmp_path / "file", "survey")


def test_unknown_template_lists_the_ids(tmp_path: Path):
    with pytest.raises(ScaffoldError) as e:
        new_project(tmp_path / "p", "image-classifcation")
    assert "'image-classifcation'" in str(e.value) and all(i in str(e.value) for i in BUILTINS)
    assert not (tmp_path / "p").exists()


# -- simple-amt ----------------------------------------------------------------------------------------------

# simple-amt's README example after the boto3 port: CreateHIT keys, Country as the README wrote it, no lifetime.
BOTO3_PROPERTIES = {
    "Title": "Write sentences to describe images",
    "Description": "Write sentences to describe what you see in images.",
    "Keywords": "image,images,write,writing,sentence",
    "Reward": 0.05,
    "AssignmentDurationInSeconds": 900,
    "FrameHeight": 1200,
    "MaxAssignments": 3,
    "Country": "US",
    "HitsApproved": 100,
    "PercentApproved": 95,
}
# hit_properties/simple.json of the boto 2 days.
BOTO2_PROPERTIES = {
    "title": "Name an example of a category",
    "description": "You must name an example of a type of category, such as a type of dog or an ice cream flavor.",
    "keywords": "write,writing,category,example,examples",
    "reward": 0.05,
    "duration": 900,
    "frame_height": 20000,
    "max_assignments": 1,
}
SIMPLE_TEMPLATE = """<html>
  <head>
    <script src='//cdnjs.cloudflare.com/ajax/libs/jquery/2.1.1/jquery.min.js'></script>
  </head>
  <body>
    <span class='category'></span><input type='text' id='text-answer'/>
    {% include "simpleamt.html" %}
    <script>
      var input = simpleamt.getInput({ category: 'dog' });
    </script>
  </body>
</html>
"""


def test_boto3_properties_with_country_string_and_no_lifetime():
    result = simple_amt_config(BOTO3_PROPERTIES)
    hit, quals = result.config["hit"], result.config["qualifications"]
    assert hit == {"title": BOTO3_PROPERTIES["Title"], "description": BOTO3_PROPERTIES["Description"],
                   "keywords": ["image", "images", "write", "writing", "sentence"], "reward": "0.05",
                   "assignments": 3, "lifetime": "1d", "duration": "15m", "auto_approval_delay": "30d",
                   "frame_height": 1200}
    assert quals == {"countries": ["US"], "min_approved_hits": 101, "min_approval_rate": 96}
    assert result.config["template"] == {"file": "template.html", "kind": "simple-amt"}
    warnings = "\n".join(result.warnings)
    assert "LifetimeInSeconds is missing" in warnings and "1 day" in warnings
    assert "Country is the string 'US'" in warnings and "letter by letter" in warnings
    mapped = "\n".join(result.mapped)
    assert 'PercentApproved 95 -> qualifications.min_approval_rate = 96' in mapped
    assert 'LifetimeInSeconds (missing) -> hit.lifetime = "1d" (default)' in mapped
    props = parse_properties(result.config)
    reqs = {r["QualificationTypeId"]: r for r in props.requirements()}
    assert reqs["000000000000000000L0"]["Comparator"] == "GreaterThanOrEqualTo"
    assert reqs["000000000000000000L0"]["IntegerValues"] == [96]  # > 95 == >= 96, as simple-amt meant
    assert reqs["00000000000000000071"]["LocaleValues"] == [{"Country": "US"}]  # not U and S


def test_boto2_key_names_and_tall_frames():
    result = simple_amt_config(BOTO2_PROPERTIES)
    assert result.config["hit"]["title"] == "Name an example of a category"
    assert result.config["hit"]["frame_height"] == 0
    assert result.config["hit"]["assignments"] == 1
    warnings = "\n".join(result.warnings)
    assert "old (boto 2) key names" in warnings and "frame_height" in warnings and "FrameHeight 20000" in warnings


def test_country_list_custom_qualification_and_unknown_keys():
    result = simple_amt_config({
        **BOTO3_PROPERTIES, "Country": ["US", "DE"], "LifetimeInSeconds": 604800, "AutoApprovalDelayInSeconds": 3600,
        "QualificationId": "3XYZ0000000000000000000000000", "QualificationComparator": ">", "QualificationInteger": 64,
        "RequesterAnnotation": "batch 7", "UniqueRequestToken": "x", "Foo": 1,
    })
    assert result.config["qualifications"]["countries"] == ["US", "DE"]
    assert result.config["qualifications"]["custom"] == [{"id": "3XYZ0000000000000000000000000", "comparator": ">", "value": 64}]
    assert result.config["hit"]["lifetime"] == "1w" and result.config["hit"]["auto_approval_delay"] == "1h"
    assert result.config["hit"]["annotation"] == "batch 7"
    assert any("Foo, UniqueRequestToken" in w for w in result.warnings)
    assert not any("Country" in w for w in result.warnings)
    props = parse_properties(result.config)
    custom = props.requirements()[-1]
    assert custom == {"QualificationTypeId": "3XYZ0000000000000000000000000", "Comparator": "GreaterThan",
                      "ActionsGuarded": "Accept", "IntegerValues": [64]}


@pytest.mark.parametrize("change, message", [
    ({"Title": None}, "Title: required"),
    ({"Reward": None}, "Reward: required"),
    ({"Reward": 0.001}, "Reward (hitkit.toml hit.reward): '0.001' has more than two decimals"),
    ({"AssignmentDurationInSeconds": None}, "AssignmentDurationInSeconds: required"),
    ({"AssignmentDurationInSeconds": 10}, "AssignmentDurationInSeconds (hitkit.toml hit.duration): must be from 30 s"),
    ({"MaxAssignments": "three"}, "MaxAssignments: expected a whole number, not 'three'"),
    ({"PercentApproved": 100}, "PercentApproved: 100 means more than 100"),
    ({"Country": ["USA"]}, "Country (hitkit.toml qualifications.countries): expected ISO 3166 codes"),
    ({"QualificationId": "3X", "QualificationComparator": ">="}, "needs QualificationInteger too"),
    ({"QualificationId": "3X", "QualificationComparator": ">=", "QualificationInteger": 1},
     "QualificationComparator: '>=' is not one of <, =, >"),
])
def test_properties_problems_name_the_simple_amt_key(change, message):
    props = {k: v for k, v in {**BOTO3_PROPERTIES, **change}.items() if v is not None}
    with pytest.raises(ScaffoldError) as e:
        simple_amt_config(props, source="hit_properties/x.json")
    assert str(e.value).startswith("hit_properties/x.json cannot be imported:") and message in str(e.value)


def test_readable_durations():
    assert [readable_duration(s) for s in (900, 3600, 86400, 604800, 90, 45)] == ["15m", "1h", "1d", "1w", 90, 45]


def write_pair(tmp_path: Path, props: dict, template: str = SIMPLE_TEMPLATE) -> tuple[Path, Path]:
    (tmp_path / "hit_properties").mkdir(exist_ok=True)
    (tmp_path / "hit_templates").mkdir(exist_ok=True)
    p = tmp_path / "hit_properties" / "image_sentence.json"
    p.write_text(json.dumps(props))
    t = tmp_path / "hit_templates" / "image_sentence.html"
    t.write_text(template)
    return p, t


def test_import_makes_a_project_that_renders_its_jsonl(tmp_path: Path):
    p, t = write_pair(tmp_path, BOTO3_PROPERTIES)
    data = tmp_path / "example_input.txt"  # simple-amt's examples used .txt for JSONL
    data.write_text('{"image_url": "https://e.org/1.jpg"}\n["a", "</script>"]\n"just a string"\n')
    result = import_simple_amt(p, t, tmp_path / "proj", input_path=data)
    assert [f.name for f in result.files] == ["hitkit.toml", "template.html", "example_input.jsonl"]
    text = (tmp_path / "proj" / "hitkit.toml").read_text()
    assert text.startswith("# hitkit.toml: imported from simple-amt's image_sentence.json and image_sentence.html.")
    project = Project.load(tmp_path / "proj")
    assert project.template.kind == "simple-amt" and project.properties.min_approval_rate == 96
    rows = read_input(tmp_path / "proj" / "example_input.jsonl")
    questions = project.render_rows(rows)
    assert len(questions) == 3
    assert '["a", "\\u003c/script\\u003e"]' in questions[1] and '"just a string"' in questions[2]
    assert "example_input.jsonl (3 rows, one HIT each)" in result.mapped[-1]


def test_import_checks_everything_before_writing(tmp_path: Path):
    p, t = write_pair(tmp_path, BOTO3_PROPERTIES)
    bad_input = tmp_path / "in.jsonl"
    bad_input.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(ScaffoldError) as e:
        import_simple_amt(p, t, tmp_path / "proj", input_path=bad_input)
    assert "row 2" in str(e.value) and not (tmp_path / "proj").exists()
    p2, t2 = write_pair(tmp_path, BOTO3_PROPERTIES, template="{% include 'hit_templates/other.html' %}")
    with pytest.raises(ScaffoldError, match="other.html"):
        import_simple_amt(p2, t2, tmp_path / "proj")
    p.write_text("{not json")
    with pytest.raises(ScaffoldError, match="not valid JSON"):
        import_simple_amt(p, t, tmp_path / "proj")
    with pytest.raises(ScaffoldError, match="does not exist"):
        import_simple_amt(tmp_path / "nope.json", t, tmp_path / "proj")
    assert not (tmp_path / "proj").exists()
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "x").write_text("x")
    p.write_text(json.dumps(BOTO3_PROPERTIES))
    t.write_text(SIMPLE_TEMPLATE)
    with pytest.raises(ScaffoldError, match="not empty"):
        import_simple_amt(p, t, tmp_path / "proj")


def test_imported_template_renders_like_simple_amt(tmp_path: Path):
    p, t = write_pair(tmp_path, BOTO3_PROPERTIES)
    import_simple_amt(p, t, tmp_path / "proj")
    template = TaskTemplate("simple-amt", (tmp_path / "proj" / "template.html").read_text(), "template.html")
    out = template.render_html({"category": "ice cream"})
    assert "cdnjs.cloudflare.com/ajax/libs/jquery" in out  # the template's own scripts stay
    assert "id='results-form'" in out and '{"category": "ice cream"}' in out
