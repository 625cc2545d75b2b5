"""Task templates, shared by the requester toolkit (`hitkit new`, launch, preview) and the server's console.

Each built-in template is a folder here (`template.html`, `hitkit.toml`, `example.csv`); `task_template.py` is what
any template is and how it renders one input row.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

BUILTINS: dict[str, str] = {
    "image-classification": "pick one category for an image (image_url -> label)",
    "text-classification": "pick one label for a text (text -> label)",
    "sentiment": "sentiment of a text with MTurk's crowd-classifier (text -> taskAnswers sentiment.label)",
    "ner-spans": "mark names in a text with the mouse (text -> spans JSON: start, end, label, text)",
    "bounding-boxes": "draw labelled boxes on an image (image_url -> boxes JSON: left, top, width, height, label)",
    "transcription": "type what a recording says or a picture shows (audio_url or image_url -> transcript)",
    "survey": "Likert and free-text questions, the same for everyone (no columns -> clarity, workload, again, "
              "liked, improve)",
    "external-study": "a study on another site with a completion code (study_url -> completion_code)",
}


def builtin_folder(template_id: str) -> Traversable:
    """The folder of built-in template `template_id`; KeyError naming the ids when there is none."""
    if template_id not in BUILTINS:
        raise KeyError(f"there is no built-in template {template_id!r}; the templates are: {', '.join(BUILTINS)}")
    return resources.files("hitkit").joinpath("templates", template_id)
