"""The statistics page's staffing section in headless Chromium against a real engine: a
manager asks for the advice of the period, the chart of windows needed per hour against
today's is drawn and the simulator's check fills the table; the replay form answers a
what-if and says a bad one in Chinese. Screenshots at 1366x768 and 1920x1080."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.assets import served_files
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.hallday import a_small_day
from tests.helpers.halls import seeded
from tests.helpers.pages import bars, db_label, engine_process, new_page, stats_of_today

pytestmark = pytest.mark.browser


async def test_a_manager_checks_the_advice_and_replays_the_day(
    database_url: str, tmp_path: Path
) -> None:
    assert "echarts.min.js" in served_files(), "run `jiaohao assets` (make does)"
    hall = await seeded(database_url)
    db = db_label(database_url)
    weekday = datetime.now(ZoneInfo("Asia/Shanghai")).weekday()
    async with engine_process(database_url, tmp_path) as engine:
        async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as http:
            await a_small_day(http, hall)
        async with chromium() as browser:
            page, errors = await new_page(browser)
            await stats_of_today(page, engine.base_url, hall)
            assert await page.locator("#advice-panel").is_visible()

            # The advice for today's weekday, checked by the simulator.
            await page.select_option("#advice-weekday", str(weekday))
            await page.click("#advice-run")
            await page.wait_for_function("() => window.jiaohao.advice.runs === 1")
            hours = await page.evaluate("window.jiaohao.advice.advice.hours.length")
            assert hours >= 1
            # Two bars an hour: the windows the advice asks for and today's (4 open all day).
            assert await bars(page, "advice-chart") == [hours, hours]
            today = await page.evaluate(
                "echarts.getInstanceByDom(document.getElementById('advice-chart'))"
                ".getOption().series[1].data"
            )
            assert set(today) == {4}
            rows = await page.locator("#advice-table tbody tr").all_inner_texts()
            assert [r.split("\t")[0] for r in rows] == ["企业开办", "不动产登记", "全部业务"]
            assert rows[0].split("\t")[1:3] == ["3", "3"]  # 3 tickets, 3 own windows today
            basis = await page.locator("#advice-basis").inner_text()
            assert "共 4 张票" in basis and "各 5 次" in basis
            assert "模拟校验" in await page.locator("#advice-verdict").inner_text()

            # Replay today: what if window 4 had been closed and window 3 had taken 不动产?
            lines = page.locator(".replay-change")
            await lines.nth(0).locator(".rc-window").fill("4")
            await lines.nth(0).locator(".rc-action").select_option("close")
            await lines.nth(1).locator(".rc-window").fill("3")
            await lines.nth(1).locator(".rc-action").select_option("own")
            await lines.nth(1).locator(".rc-service").select_option("estate")
            await lines.nth(1).locator(".rc-hours").fill("00:00-24:00")
            await page.click("#replay-run")
            await page.wait_for_function("() => window.jiaohao.advice.replays === 1")
            replayed = await page.locator("#replay-table tbody tr").all_inner_texts()
            assert [r.split("\t")[0] for r in replayed] == ["企业开办", "不动产登记", "全部业务"]
            assert replayed[-1].split("\t")[1] == "3"  # three citizens were called
            summary = await page.locator("#replay-summary").inner_text()
            assert "复盘 3 位群众" in summary and "4号：" in summary and "关闭" in summary
            assert "3号：本职 企业开办、不动产登记" in summary
            await page.locator("#advice-panel").scroll_into_view_if_needed()
            await page.screenshot(
                path=ARTIFACTS / f"stats-advice-{db}-1366x768.png", full_page=True
            )
            await page.set_viewport_size({"width": 1920, "height": 1080})
            await page.screenshot(
                path=ARTIFACTS / f"stats-advice-{db}-1920x1080.png", full_page=True
            )
            assert errors == [], errors

            # A window the hall does not have cannot be closed: said in Chinese.
            await lines.nth(0).locator(".rc-window").fill("9")
            await page.click("#replay-run")
            await page.wait_for_function(
                "() => document.getElementById('advice-error').textContent.includes('没有这个窗口')"
            )
            assert await page.evaluate("window.jiaohao.advice.replays") == 1
