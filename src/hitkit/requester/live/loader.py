"""Loading a live task file (`hitkit live run my_task.py`): a Python file that defines `task = LiveTask(...)`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from hitkit.requester.live.task import LiveTask


class TaskFileError(ValueError):
    pass


def load_task(path: str | Path) -> LiveTask:
    path = Path(path)
    if not path.is_file():
        raise TaskFileError(f"{path}: no such file")
    name = f"hitkit_live_task_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TaskFileError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # the task's own helper modules
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as e:
        raise TaskFileError(f"{path}: {type(e).__name__}: {e}") from e
    finally:
        sys.path.pop(0)
    task = getattr(module, "task", None)
    if not isinstance(task, LiveTask):
        raise TaskFileError(f"{path} must define `task = LiveTask(...)` (hitkit.requester.live.LiveTask)")
    return task
