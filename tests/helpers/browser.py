"""Headless Chromium for the browser tests, or why it cannot run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.async_api
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    return None


def require_browser() -> None:
    """Skip the test when Chromium or Playwright is missing; fail instead in CI
    (JIAOHAO_REQUIRE_BROWSER=1), where nothing may be skipped silently."""
    reason = browser_missing()
    if reason:
        if os.environ.get("JIAOHAO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} (JIAOHAO_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
