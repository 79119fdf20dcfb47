"""The statistics page (统计报表) in headless Chromium against a real engine process: a
manager logs in, reads the day's figures, the charts are drawn with one bar per period
and per window, and the windows report downloads as CSV and as Excel, read back.
Screenshots at 1366x768 and 1920x1080 in tests/artifacts/."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from services.assets import served_files
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.hallday import a_small_day
from tests.helpers.halls import seeded
from tests.helpers.pages import bars, db_label, engine_process, log_in, new_page, pdf_pages

pytestmark = pytest.mark.browser


async def test_a_manager_reads_the_days_figures(database_url: str, tmp_path: Path) -> None:
    # The charts' library is installed by the project's own install step (make: jiaohao
    # assets); without it this test fails rather than pass on tables alone.
    assert "echarts.min.js" in served_files(), "run `jiaohao assets` (make does)"
    hall = await seeded(database_url)
    db = db_label(database_url)
    async with engine_process(database_url, tmp_path) as engine:
        async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as http:
            await a_small_day(http, hall)
        async with chromium() as browser:
            page, errors = await new_page(browser, accept_downloads=True)
            await page.goto(f"{engine.base_url}/stats/{hall.code}")
            # A clerk may not read the statistics.
            await log_in(page, hall, "staff")
            await page.wait_for_function(
                "() => document.getElementById('login-error').textContent.includes('管理人员')"
            )
            await log_in(page, hall, "manager")
            await page.wait_for_function("() => window.jiaohao.state.loads === 1")
            # Today, by hour: one hour of activity, so one bar per series.
            await page.click("[data-quick='today']")
            await page.select_option("#group", "hour")
            await page.click("#filters button[type='submit']")
            await page.wait_for_function("() => window.jiaohao.state.loads === 3")
            cards = await page.locator("#volume-cards").inner_text()
            assert "取号\n4" in cards and "办结\n2" in cards and "过号\n1" in cards
            outcomes = await page.locator("#outcomes").inner_text()
            assert outcomes == "办理结果：办结 1，一次性告知 1"
            assert await bars(page, "volume-chart") == [1, 1, 1]
            # One bar per window of the hall, for each share.
            assert await bars(page, "share-chart") == [4, 4]
            rows = await page.locator("#window-table tbody tr").all_inner_texts()
            assert rows[0].split("\t")[:3] == ["1号窗口", "2", "100.0%"]
            waits = await page.locator("#wait-table tbody tr").all_inner_texts()
            assert [w.split("\t")[0:2] for w in waits] == [["企业开办", "2"], ["不动产登记", "1"]]
            assert "4号" in await page.locator("#balance").inner_text()
            await page.screenshot(path=ARTIFACTS / f"stats-{db}-1366x768.png", full_page=True)

            async with page.expect_download() as got:
                await page.click("[data-download='csv']")
            saved = await (await got.value).path()
            text = (await asyncio.to_thread(Path(saved).read_bytes)).decode("utf-8-sig")
            table = list(csv.reader(io.StringIO(text)))
            assert table[0][0] == "窗口" and table[1][:2] == ["1号窗口", "2"]
            async with page.expect_download() as got:
                await page.click("[data-download='xlsx']")
            download = await got.value
            assert download.suggested_filename.endswith(".xlsx")
            data = await asyncio.to_thread(Path(await download.path()).read_bytes)
            book = load_workbook(io.BytesIO(data))
            assert list(book["窗口"].iter_rows(values_only=True))[1][:2] == ("1号窗口", 2)

            # Handling per service, window and clerk; the volumes as Excel, by the grouping.
            handling = await page.locator("#handling-table tbody tr").all_inner_texts()
            assert handling[0].split("\t")[:2] == ["企业开办", "2"]
            assert any(h.startswith("1号窗口\t2") for h in handling)
            assert await bars(page, "handling-chart") == [1, 1]  # 企业开办 alone was handled
            async with page.expect_download() as got:
                await page.click("[data-report='volumes'][data-format='xlsx']")
            data = await asyncio.to_thread(Path(await (await got.value).path()).read_bytes)
            volumes = list(load_workbook(io.BytesIO(data))["办件量"].iter_rows(values_only=True))
            assert volumes[0][:3] == ("期间", "取号", "办结") and volumes[-1][:2] == ("合计", 4)

            await page.set_viewport_size({"width": 1920, "height": 1080})
            await page.screenshot(path=ARTIFACTS / f"stats-{db}-1920x1080.png", full_page=True)
            # The 月报: this month, by day, on one A4 page.
            await page.evaluate("window.jiaohao.prepareMonthly()")
            assert (await page.locator("#print-title").inner_text()).endswith("政务服务月报")
            await page.emulate_media(media="print")
            pdf = await page.pdf(format="A4", print_background=True)
            assert pdf_pages(pdf) == 1
            await asyncio.to_thread((ARTIFACTS / f"stats-{db}-monthly.pdf").write_bytes, pdf)
            await page.emulate_media(media="screen")
            # No script error, nothing refused by the page's CSP, so far.
            assert errors == [], errors
            # A refused period is said in Chinese.
            await page.fill("#from", "2026-12-31")
            await page.fill("#to", "2026-01-01")
            await page.click("#filters button[type='submit']")
            await page.wait_for_selector("#status", state="visible")
            assert await page.locator("#status").inner_text() == "输入内容不正确，请检查后重试"
