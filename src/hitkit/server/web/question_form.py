"""QuestionForm questions rendered to an HTML page, as MTurk's worker site rendered them: overview text, free-text
answers (with their length and numeric constraints) and selection answers in the suggested style (radio buttons,
check boxes, lists, drop-downs, an "other" box). Everything from the requester is escaped (Jinja2 autoescape);
the server checks every constraint again on submission (mturk/xml.py), since a browser's checks are advisory.

The inputs themselves are the `question_fields` macro of templates/question_form_fields.html, which the worker
site's qualification test page (worker_home_pages.py) uses too, inside its own form.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape

from hitkit.mturk.xml import QuestionDoc


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=PackageLoader("hitkit.server.web", "templates"), autoescape=select_autoescape(default=True))


def overview_paragraphs(doc: QuestionDoc) -> list[str]:
    """The form's Overview text as paragraphs (one per non-blank line)."""
    return [p.strip() for p in doc.overview_text.split("\n") if p.strip()]


def render_question_form(doc: QuestionDoc, *, assignment_id: str, submit_to: str, title: str = "HIT") -> str:
    """A complete page for a QuestionForm HIT that posts to `submit_to`/mturk/externalSubmit. With the preview
    assignment id (ASSIGNMENT_ID_NOT_AVAILABLE) the inputs are disabled and there is no submit button."""
    preview = assignment_id == "ASSIGNMENT_ID_NOT_AVAILABLE"
    overview = overview_paragraphs(doc)
    return _environment().get_template("question_form.html").render(
        title=title, questions=doc.questions, overview=overview, overview_images=doc.overview_images, preview=preview, assignment_id=assignment_id,
        action=submit_to.rstrip("/") + "/mturk/externalSubmit",
    )
