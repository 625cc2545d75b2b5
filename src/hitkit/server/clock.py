"""The one clock every time-dependent rule reads, so tests can move time forward.

`now()` is wall-clock time plus an offset. The offset only grows (`advance`), and is persisted in the
settings table by the admin clock route so that several server processes agree on it.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time plus a forward offset (seconds)."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward; returns the new offset."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self._offset

    def set_offset(self, offset: float) -> None:
        """Adopt an offset seen elsewhere (another process) if it is ahead of ours."""
        with self._lock:
            if offset > self._offset:
                self._offset = offset
