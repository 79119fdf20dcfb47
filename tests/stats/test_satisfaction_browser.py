"""The statistics page's satisfaction section (满意度) in headless Chromium against a real
engine process: a manager reads the day's 好差评 indicators, the chart of 好评率 draws one
bar per window, the report downloads as CSV and as Excel and is read back, and the 月报
still prints on one A4 page. Screenshots at 1366x768 and 1920x1080 in tests/artifacts/."""

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
from tests.helpers.halls import seeded
from tests.helpers.pages import (
    bars,
    db_label,
    engine_process,
    new_page,
    pdf_pages,
    stats_of_today,
)
from tests.stats.test_satisfaction_api import a_rated_day

pytestmark = pytest.mark.browser


async def test_a_manager_reads_the_satisfaction_of_the_day(
    database_url: str, tmp_path: Path
) -> None:
    assert "echarts.min.js" in served_files(), "run `jiaohao assets` (make does)"
    hall = await seeded(database_url)
    db = db_label(database_url)
    async with engine_process(database_url, tmp_path) as engine:
        async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as http:
            await a_rated_day(http, hall)
        async with chromium() as browser:
            page, errors = await new_page(browser, accept_downloads=True)
            await stats_of_today(page, engine.base_url, hall)
            cards = await page.locator("#sat-cards").inner_text()
            # Worked out in test_satisfaction_api: 5 of 6 rated, 3 good of 4 counted.
            assert "参评率\n83.33%" in cards and "好评率\n75.00%" in cards
            assert "回访整改满意率\n100.00%" in cards
            levels = await page.locator("#sat-levels").inner_text()
            assert "评价 5 条（非常满意 1，满意 1，基本满意 1，不满意 0，非常不满意 1）" in levels
            assert "认定无效的差评 1 条" in levels
            # One bar per window of the hall; window 3 (no rating) draws none.
            assert await bars(page, "satisfaction-chart") == [4]
            values = await page.evaluate(
                "() => echarts.getInstanceByDom(document.getElementById('satisfaction-chart'))"
                ".getOption().series[0].data"
            )
            assert values == [66.67, None, None, 100]
            rows = await page.locator("#sat-window-table tbody tr").all_inner_texts()
            assert rows[0].split("\t")[:6] == ["1号窗口", "4", "3", "1", "75.00%", "66.67%"]
            assert rows[1].split("\t")[5] == "—"  # window 2: its only rating was invalid
            staff = await page.locator("#sat-staff-table tbody tr").all_inner_texts()
            assert [s.split("\t")[0] for s in staff] == [f"{hall.code}-staff", "未签到"]
            services = await page.locator("#sat-service-table tbody tr").all_inner_texts()
            assert services[0].split("\t")[:2] == ["企业开办", "5"]
            await page.locator("#satisfaction").scroll_into_view_if_needed()
            await page.screenshot(path=ARTIFACTS / f"stats-satisfaction-{db}-1366x768.png")
            await page.screenshot(
                path=ARTIFACTS / f"stats-satisfaction-{db}-1366x768-full.png", full_page=True
            )

            async with page.expect_download() as got:
                await page.click("[data-sat-download='csv']")
            download = await got.value
            assert download.suggested_filename.endswith(".csv")
            text = (await asyncio.to_thread(Path(await download.path()).read_bytes)).decode(
                "utf-8-sig"
            )
            table = list(csv.reader(io.StringIO(text)))
            assert table[0][:3] == ["维度", "名称", "办件量"]
            assert table[1][:4] == ["全部", "全部", "6", "5"]
            async with page.expect_download() as got:
                await page.click("[data-sat-download='xlsx']")
            download = await got.value
            assert download.suggested_filename.endswith(".xlsx")
            data = await asyncio.to_thread(Path(await download.path()).read_bytes)
            book = load_workbook(io.BytesIO(data))
            sheet = list(book["按窗口"].iter_rows(values_only=True))
            good = list(sheet[1]).index("好评率(%)")
            assert sheet[2][0] == "1号窗口" and sheet[2][good] == 66.67

            await page.set_viewport_size({"width": 1920, "height": 1080})
            await page.locator("#satisfaction").scroll_into_view_if_needed()
            await page.screenshot(path=ARTIFACTS / f"stats-satisfaction-{db}-1920x1080.png")
            # The 月报 keeps to one A4 page with the satisfaction figures on it.
            await page.evaluate("window.jiaohao.prepareMonthly()")
            await page.emulate_media(media="print")
            assert await page.locator("#sat-window-table").is_visible()
            pdf = await page.pdf(format="A4", print_background=True)
            assert pdf_pages(pdf) == 1
            await asyncio.to_thread(
                (ARTIFACTS / f"stats-satisfaction-{db}-monthly.pdf").write_bytes, pdf
            )
            await page.emulate_media(media="screen")
            assert errors == [], errors
