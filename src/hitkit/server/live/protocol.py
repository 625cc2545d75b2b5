"""The live websocket protocol: JSON frames with a `type`, size limits, and the error frames bad input gets.

Worker browser -> server:  ping | message {text, task_data?}
Server -> worker browser:  pong | state {...} | history {messages} | message {message} | requester_gone |
                           requester_back | error {code, message}
Requester process -> server: hello {name, config} | ping | state {assignment_id, ...} |
                           send {assignment_id, world_id?, message} | record {world_id?, assignment_id?, event}
Server -> requester process: welcome {run_id, agents} | pong | worker_joined | worker_message |
                           worker_disconnected | worker_reconnected | worker_left | error {code, message}

Bad frames never close the connection or raise: they are answered with an `error` frame.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

MAX_FRAME_BYTES = 256 * 1024
MAX_TEXT_CHARS = 10_000
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
WORKER_STATUSES = frozenset({"joined", "waiting", "onboarding", "in_world", "done", "released", "left"})


class FrameError(ValueError):
    """A frame that cannot be used; `code` and the message go back to the sender as an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_frame(code: str, message: str, **extra: Any) -> dict:
    return {"type": "error", "code": code, "message": message, **extra}


def parse(raw: str | bytes | None) -> dict:
    """A frame as a dict with a string `type`, else FrameError."""
    if raw is None:
        raise FrameError("bad_frame", "Empty frame.")
    if len(raw) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"Frames are limited to {MAX_FRAME_BYTES // 1024} KiB.")
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FrameError("bad_json", "The frame is not valid JSON.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_frame", "A frame must be a JSON object with a string 'type'.")
    return frame


def text_of(frame: dict, key: str = "text", *, required: bool = False, limit: int = MAX_TEXT_CHARS) -> str | None:
    value = frame.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise FrameError("bad_field", f"'{key}' must be a string.")
    if len(value) > limit:
        raise FrameError("too_long", f"'{key}' is limited to {limit:,} characters.")
    return value


def object_of(frame: dict, key: str) -> dict | None:
    value = frame.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FrameError("bad_field", f"'{key}' must be a JSON object.")
    return value


def worker_message(frame: dict) -> dict:
    """The message a worker's `message` frame carries: text (required), task_data (optional object)."""
    text = text_of(frame, required=True)
    message: dict[str, Any] = {"text": text}
    task_data = object_of(frame, "task_data")
    if task_data is not None:
        message["task_data"] = task_data
    return message


def world_message(frame: dict) -> dict:
    """A message from the world to a worker: an object with optional text, episode_done, task_data, id."""
    message = object_of(frame, "message")
    if message is None:
        raise FrameError("bad_field", "'message' must be a JSON object.")
    text_of(message)
    object_of(message, "task_data")
    if "id" in message and not isinstance(message["id"], str):
        raise FrameError("bad_field", "'message.id' must be a string.")
    return message


ID = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


def optional_id(frame: dict, key: str) -> str | None:
    value = frame.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not ID.match(value):
        raise FrameError("bad_field", f"'{key}' must be a string of 1 to 64 characters (no control characters).")
    return value


def required_id(frame: dict, key: str) -> str:
    value = optional_id(frame, key)
    if value is None:
        raise FrameError("bad_field", f"'{key}' is required.")
    return value


def dumps(frame: dict) -> str:
    return orjson.dumps(frame).decode()
