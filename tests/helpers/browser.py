"""Headless Chromium for the browser tests, or why it cannot run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT

CHROMIUM = "/usr/bin/chromium"
# Screenshots of the pages, kept after the run to be looked at.
ARTIFACTS = ROOT / "tests" / "artifacts"
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


@asynccontextmanager
async def chromium(*extra_args: str) -> AsyncIterator[Any]:
    """Headless Chromium (Playwright), closed afterwards; skipped or failed as above."""
    require_browser()
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()
