"""The engine's staff pages in headless Chromium against a real engine process: the
engine, a page that keeps its script errors, the login, the width check; for the
statistics page, its charts as ECharts models them and its 月报 PDF."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.helpers.halls import PASSWORD, Hall
from tests.helpers.processes import EngineProcess, start


@asynccontextmanager
async def engine_process(
    database_url: str, tmp_path: Path, name: str = "engine", **settings: object
) -> AsyncIterator[EngineProcess]:
    """One engine process on the test database, stopped afterwards."""
    engine = EngineProcess(database_url, tmp_path, name, **settings)
    await start(engine)
    try:
        yield engine
    finally:
        engine.stop()


def db_label(database_url: str) -> str:
    """The database's word in screenshot names."""
    return "postgres" if database_url.startswith("postgresql") else "sqlite"


async def new_page(
    browser: Any, width: int = 1366, height: int = 768, **options: Any
) -> tuple[Any, list[str]]:
    """A zh-CN page and the list its script errors and console errors go to (a refusal
    by the page's Content-Security-Policy is one)."""
    page = await browser.new_page(
        viewport={"width": width, "height": height}, locale="zh-CN", **options
    )
    return page, watch_errors(page)


def watch_errors(page: Any) -> list[str]:
    """The list the page's script errors and console errors go to from now on."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


async def log_in(page: Any, hall: Hall, role: str) -> None:
    """Fill the page's login form (every staff page has the same) as the hall's account
    of this role (tests/helpers/halls) and send it."""
    await page.fill("#username", f"{hall.code}-{role}")
    await page.fill("#password", PASSWORD)
    await page.click("#login-button")


async def fits_width(page: Any, label: str) -> None:
    """No sideways scrolling at the page's viewport."""
    box = await page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, width: innerWidth})"
    )
    assert box["scroll"] <= box["width"], (label, box)


async def stats_of_today(page: Any, base_url: str, hall: Hall) -> None:
    """The statistics page, logged in as the manager, showing today (its second read)."""
    await page.goto(f"{base_url}/stats/{hall.code}")
    await log_in(page, hall, "manager")
    await page.wait_for_function("() => window.jiaohao.state.loads === 1")
    await page.click("[data-quick='today']")
    await page.wait_for_function("() => window.jiaohao.state.loads === 2")


async def bars(page: Any, chart: str) -> list[int]:
    """How many bars each series of a chart draws (ECharts' own model of it)."""
    counts: list[int] = await page.evaluate(
        "(id) => echarts.getInstanceByDom(document.getElementById(id))"
        ".getOption().series.map(s => s.data.length)",
        chart,
    )
    return counts


def pdf_pages(pdf: bytes) -> int:
    """Pages in a PDF: its page objects (/Type /Page, not /Pages)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
