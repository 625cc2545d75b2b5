"""hitkit: a self-hosted marketplace that speaks the MTurk Requester API, and a toolkit for human data collection.

`hitkit.Project("my-task")` is the notebook API (hitkit.requester.api); it is imported on first use, so
`import hitkit` stays light."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Project", "__version__"]

if TYPE_CHECKING:
    from hitkit.requester.api import Project


def __getattr__(name: str) -> Any:
    if name == "Project":
        from hitkit.requester.api import Project

        return Project
    raise AttributeError(f"module 'hitkit' has no attribute {name!r}")
