"""Fixtures of the viewer tests: Debian's Chromium driven by Playwright (never a downloaded browser), a page per test
that fails the test on any script error, a real `tau serve`, and screenshots.

Chromium comes from `scripts/install-browser.sh` (`.ci/run` calls it); without /usr/bin/chromium the browser tests
fail saying so. Screenshots go to the test's tmp dir, and to docs/screenshots/ (the README shows them) when
TAU_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from viewer_kit import Server, running_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Per test: Playwright's sync API keeps an asyncio loop running in this thread while it is started, and later
    tests (anyio.run, asyncio.run) could not run their own."""
    if not CHROMIUM.is_file():
        pytest.fail("no /usr/bin/chromium: run scripts/install-browser.sh (Debian's chromium, fonts, tmux)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own context: no sessionStorage carried over); script errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(20_000)
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], errors


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path) as running:
        yield running


@pytest.fixture
def shoot(tmp_path: Path) -> Any:
    """`shoot(page, name)`: a full-page screenshot in tmp_path (and docs/screenshots with TAU_UPDATE_SCREENSHOTS=1)."""

    def take(page: Any, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        if os.environ.get("TAU_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
        return path

    return take
