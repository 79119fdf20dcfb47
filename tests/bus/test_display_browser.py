"""The hall display page (综合屏) in headless Chromium, against a real engine process.

A call made through the API appears large and is queued for the voice; a recall
is announced again; the page reads on 1920x1080 and 1366x768 (screenshots are
kept in tests/artifacts/); when the engine goes away the page says it is
offline, and when it is back the page resumes and shows what it missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.api import API, issue, token
from tests.helpers.app import app_for, serving
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.halls import seeded
from tests.helpers.processes import EngineProcess, call, start, window

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium("--autoplay-policy=no-user-gesture-required") as launched:
        yield launched


async def text_of(page: Any, selector: str) -> str:
    value: str = await page.locator(selector).inner_text()
    return value.strip()


async def voice_log(page: Any) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = await page.evaluate(
        "window.jiaohao.voice.log.map(a => ({text: a.text, reason: a.reason, state: a.state,"
        " clips: a.clips, seq: a.seq}))"
    )
    return log


async def fits(page: Any, label: str) -> None:
    """Nothing spills off the screen or out of its panel at this size."""
    box = await page.evaluate(
        """() => {
        const r = (id) => document.getElementById(id).getBoundingClientRect();
        const panel = document.querySelector('.calls').getBoundingClientRect();
        return {scroll: document.documentElement.scrollWidth, width: innerWidth,
                scrollH: document.documentElement.scrollHeight, height: innerHeight,
                call: r('latest-call'), panel: panel, windows: r('windows'),
                number: parseFloat(getComputedStyle(
                    document.getElementById('latest-number')).fontSize)};
    }"""
    )
    assert box["scroll"] <= box["width"] and box["scrollH"] <= box["height"], (label, box)
    assert box["panel"]["left"] <= box["call"]["left"], (label, box)
    assert box["call"]["right"] <= box["panel"]["right"], (label, box)
    # Readable from across the hall: the called number is at least 1/8 of the screen high.
    assert box["number"] >= box["height"] / 8, (label, box)


async def test_display_shows_and_speaks_calls(
    database_url: str, tmp_path: Path, browser: Any
) -> None:
    hall = await seeded(database_url)
    engine = EngineProcess(database_url, tmp_path, "engine")
    await start(engine)
    db = "postgres" if database_url.startswith("postgresql") else "sqlite"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page = await browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        url = f"{engine.base_url}/display/{hall.code}?token={token(hall)}"
        await page.goto(url)
        await page.wait_for_function(
            "() => document.getElementById('status').dataset.state === 'live'"
        )
        assert await page.locator(".window-row").count() == 4
        assert await text_of(page, "#hall-name") == "测试大厅"
        assert await page.locator("#latest").get_attribute("data-empty") == "true"

        async with httpx.AsyncClient(timeout=10) as http:
            await issue(http, hall, base=engine.base_url)
            await issue(http, hall, base=engine.base_url)
            await window(http, engine, hall, 3, "open")
            assert await call(http, engine, hall, 3) == "A001"
            await page.wait_for_function(
                "() => document.getElementById('latest-number').textContent === 'A001'"
            )
            assert await text_of(page, "#latest-window") == "3"
            assert await text_of(page, ".window-row[data-window='3'] .ticket") == "A001"
            assert await text_of(page, ".queue-list li[data-service='business'] .count") == "1"
            [announcement] = await voice_log(page)
            assert announcement["text"] == "请A001号到3号窗口办理"
            assert announcement["reason"] == "call" and announcement["state"] in (
                "queued",
                "playing",
            )
            assert announcement["clips"] == [
                "qing",
                "A",
                "0",
                "0",
                "1",
                "hao",
                "dao",
                "3",
                "hao",
                "chuangkou",
                "banli",
            ]
            # The clips are served and decode as audio.
            seconds = await page.evaluate(
                "Promise.all(['chime', 'qing', 'A', '3', 'chuangkou'].map("
                "n => window.jiaohao.voice.clip(n))).then(bs => bs.map(b => b.duration))"
            )
            assert all(0.1 < s < 3 for s in seconds), seconds

            # 重呼: announced again, after the first (never over it).
            await window(http, engine, hall, 3, "recall")
            await page.wait_for_function("() => window.jiaohao.voice.log.length === 2")
            log = await voice_log(page)
            assert [(a["text"], a["reason"]) for a in log] == [
                ("请A001号到3号窗口办理", "call"),
                ("请A001号到3号窗口办理", "recall"),
            ]
            playing = await page.evaluate(
                "window.jiaohao.voice.log.filter(a => a.state === 'playing').length"
            )
            assert playing <= 1
            # Sound is allowed (kiosk flag): no click-to-enable button, nothing failed or silent.
            assert await page.evaluate("window.jiaohao.voice.ctx.state") == "running"
            assert await page.locator("#sound").is_hidden()
            assert all(a["state"] != "failed" for a in await voice_log(page))
            assert not await page.evaluate("window.jiaohao.voice.log.some(a => a.silent)")

        await page.screenshot(path=ARTIFACTS / f"display-{db}-1920x1080.png")
        await fits(page, "1920x1080")
        await page.set_viewport_size({"width": 1366, "height": 768})
        await fits(page, "1366x768")
        await page.screenshot(path=ARTIFACTS / f"display-{db}-1366x768.png")

        # The engine goes away: the page says so, and keeps what it had.
        await asyncio.to_thread(engine.stop)
        await page.wait_for_function(
            "() => document.getElementById('status').dataset.state === 'offline'"
        )
        await page.wait_for_selector("#offline", state="visible")
        assert await text_of(page, "#latest-number") == "A001"
        await page.screenshot(path=ARTIFACTS / f"display-{db}-offline.png")
        # Meanwhile the hall goes on (another engine on the same database calls A002).
        async with serving(app_for(database_url)) as http:
            response = await http.post(
                f"{API}/{hall.code}/windows/3/call-next", headers=hall.h("manager")
            )
            assert response.json()["ticket"]["number"] == "A002"
        # The engine is back: the page resumes by itself and catches up.
        await asyncio.to_thread(engine.start)
        await page.wait_for_function(
            "() => document.getElementById('latest-number').textContent === 'A002'", timeout=30000
        )
        await page.wait_for_function(
            "() => document.getElementById('status').dataset.state === 'live'"
        )
        await page.wait_for_selector("#offline", state="hidden")
        resumed = await page.evaluate("window.jiaohao.state.snapshots")
        assert resumed == 1  # resumed with since, no new snapshot needed
        assert [a["text"] for a in await voice_log(page)][-1] == "请A002号到3号窗口办理"
    finally:
        engine.stop()
