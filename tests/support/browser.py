"""Headless Chromium for page tests: Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser).
Screenshots go to tests/artifacts/ (gitignored)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def chromium_page():  # type: ignore[no-untyped-def]
    """A context manager yielding (browser, page); skips the test where Chromium is absent outside CI."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")

    class _Session:
        def __enter__(self):  # type: ignore[no-untyped-def]
            self._pw = playwright.sync_playwright().start()
            self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            self.page = self.browser.new_page()
            return self.page

        def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
            self.browser.close()
            self._pw.stop()

    return _Session()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
