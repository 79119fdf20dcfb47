"""The regions page and the district's monthly report (区域月报) in headless Chromium
against a real engine process: the district's admin logs in, sees its streets and their
halls, opens this month's report: a summary page and one A4 page per hall when printed,
the busiest windows and those under the threshold, and the XLSX read back. Screenshots
at 1366x768 and 1920x1080 in tests/artifacts/."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook

from tests.helpers.app import app_for, serving
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.hallday import a_small_day
from tests.helpers.halls import PASSWORD, password_hash
from tests.helpers.processes import EngineProcess, start
from tests.helpers.regions import DISTRICT, District, a_district
from tests.regions.test_regions_api import appealed_case


def month_so_far() -> float:
    """Days of this month so far, on the hall's clock (the report's period ends now)."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (now - start).total_seconds() / 86400


pytestmark = pytest.mark.browser


def _pages(pdf: bytes) -> int:
    """Pages in a PDF: its page objects (/Type /Page, not /Pages)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


async def _district(url: str) -> District:
    """The district, and an administrator of no hall (``city-admin``) who edits the tree."""
    from services.engine.auth.models import User

    app = app_for(url)
    async with serving(app) as client:
        district = await a_district(app, client)
        async with app.state.sessionmaker() as session:
            session.add(
                User(
                    hall_id=None,
                    username="city-admin",
                    password_hash=password_hash(),
                    role="admin",
                    active=True,
                )
            )
            await session.commit()
        return district


async def test_the_district_admin_prints_the_monthly_report(
    database_url: str, tmp_path: Path
) -> None:
    district = await _district(database_url)
    engine = EngineProcess(database_url, tmp_path, "engine")
    await start(engine)
    db = "postgres" if database_url.startswith("postgresql") else "sqlite"
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    try:
        async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as http:
            await a_small_day(http, district.a)
            await a_small_day(http, district.b)
        async with chromium() as browser:
            page = await browser.new_page(
                viewport={"width": 1366, "height": 768}, locale="zh-CN", accept_downloads=True
            )
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            # The regions page: a hall's manager is turned away, the district's admin
            # sees its two streets and their halls.
            await page.goto(f"{engine.base_url}/regions")
            await page.fill("#username", f"{district.a.code}-manager")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await page.wait_for_function(
                "() => document.getElementById('login-error').textContent.includes('区域管理员')"
            )
            await page.fill("#username", "xihu-admin")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await page.wait_for_function("() => window.jiaohao.state.loads === 1")
            lines = await page.locator("#tree > li .line b").all_inner_texts()
            assert lines == ["西湖区", "北山街道", "西溪街道"]
            halls = await page.locator("#tree .hall").all_inner_texts()
            assert len(halls) == 2
            assert await page.locator("#admin-panel").is_hidden()
            await page.screenshot(path=ARTIFACTS / f"regions-{db}-1366x768.png", full_page=True)

            # The district's report for this month.
            await page.goto(f"{engine.base_url}/regions/{DISTRICT}/report?month={month}")
            await page.wait_for_function("() => window.jiaohao.state.loads === 1")
            assert await page.locator("#status").is_hidden(), await page.locator(
                "#status"
            ).inner_text()
            sheets = page.locator(".sheet")
            assert await sheets.count() == 3  # the summary and one page per hall
            summary = await page.locator(".sheet.summary").inner_text()
            assert "西湖区" in summary and "政务服务月报" in summary
            busiest = await page.locator("#busiest-title").inner_text()
            assert busiest == "办件量前三的窗口：共 4 件，占全区办件量 100.0%"
            total = await page.locator(".sheet.summary tr.total").inner_text()
            assert total.split("\t")[:3] == ["西湖区合计", "8", "4"]
            # Under the monthly threshold (10 cases a month, scaled to the days of the
            # month so far): window 4 of each hall (no case), and window 1 of each (2
            # cases) once the month is old enough for 2 to be under it.
            low = await page.locator(".sheet.summary table.low tbody tr").all_inner_texts()
            assert sum("4号窗口" in row for row in low) == 2
            if abs(month_so_far() * 10 / 30 - 2) > 0.05:  # not at the edge itself
                expected = 4 if month_so_far() * 10 / 30 > 2 else 2
                assert len(low) == expected, low
            await page.screenshot(path=ARTIFACTS / f"regions-report-{db}-1366x768.png")
            await page.set_viewport_size({"width": 1920, "height": 1080})
            await page.screenshot(
                path=ARTIFACTS / f"regions-report-{db}-1920x1080.png", full_page=True
            )

            # Printed: A4, the summary page and one page per hall.
            await page.emulate_media(media="print")
            pdf = await page.pdf(format="A4", print_background=True)
            assert _pages(pdf) == 3
            await asyncio.to_thread((ARTIFACTS / f"regions-report-{db}.pdf").write_bytes, pdf)
            await page.emulate_media(media="screen")

            # The XLSX download, read back.
            async with page.expect_download() as got:
                await page.click("#download")
            download = await got.value
            assert download.suggested_filename == f"monthly-{DISTRICT}-{month}.xlsx"
            data = await asyncio.to_thread(Path(await download.path()).read_bytes)
            book = load_workbook(io.BytesIO(data))
            rows = list(book["汇总"].iter_rows(values_only=True))
            assert rows[-1][:3] == ("西湖区合计", 8, 4)
            assert errors == [], errors

            # A month the engine refuses is said in Chinese.
            await page.evaluate("document.getElementById('month').value = '1999-01'")
            await page.click("#filters button[type='submit']")
            await page.wait_for_function("() => window.jiaohao.state.loads === 2")
            assert await page.locator("#status").inner_text() == "输入内容不正确，请检查后重试"

            # An administrator edits the tree on the regions page: a new street, then one
            # its code does not allow (said in Chinese).
            errors.clear()  # the browser logged the refused month (422)

            # 申诉复核: a clerk of street A appeals a bad review; the district's admin
            # decides it on the regions page.
            async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as http:
                case = await appealed_case(http, district.a)
            await page.goto(f"{engine.base_url}/regions")
            await page.wait_for_function("() => window.jiaohao.state.loads === 1")
            assert await page.locator("#appeals-panel").is_visible()
            row = page.locator(f"#appeals tr[data-case='{case['id']}']")
            assert (await row.inner_text()).startswith("北山街道便民服务中心")
            await page.screenshot(path=ARTIFACTS / f"regions-appeals-{db}-1366x768.png")
            await row.locator("button.primary").click()
            await page.wait_for_function(
                "() => document.getElementById('appeals-count').textContent === '暂无待复核的申诉'"
            )
            assert (
                await page.locator("#appeals-done").inner_text() == "已维持申诉（该差评不计入指标）"
            )
            async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as http:
                got = await http.get(
                    f"/api/v1/halls/{district.a.code}/reviews/cases/{case['id']}",
                    headers=district.a.h("manager"),
                )
            assert got.json()["state"] == "closed" and got.json()["appeal"] == "upheld"

            # The district admin watches a street's hall live, read-only: no button acts.
            await page.click(f"#tree .hall a.live[href='/manage/{district.a.code}']")
            await page.fill("#username", "xihu-admin")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await page.wait_for_selector(".tile[data-window='1']")
            assert await page.get_attribute("body", "data-readonly") == "1"
            visible = [b for b in await page.locator(".board button").all() if await b.is_visible()]
            assert visible == [] and await page.locator("#accounts-button").is_hidden()
            assert await page.locator("#settings-link").is_hidden()
            await page.screenshot(path=ARTIFACTS / f"regions-watch-{db}-1366x768.png")
            await page.goto(f"{engine.base_url}/regions")
            await page.evaluate("sessionStorage.clear()")  # the district admin's login
            await page.goto(f"{engine.base_url}/regions")
            await page.fill("#username", "city-admin")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await page.wait_for_function("() => window.jiaohao.state.loads === 1")
            assert await page.locator("#admin-panel").is_visible()
            await page.fill("#region-code", "330106003")
            await page.fill("#region-name", "文新街道")
            await page.click("#region-form button[type='submit']")
            await page.wait_for_function("() => window.jiaohao.state.loads === 2")
            lines = await page.locator("#tree > li .line b").all_inner_texts()
            assert lines == ["杭州市", "西湖区", "北山街道", "西溪街道", "文新街道"]
            await page.fill("#region-code", "330106004")
            await page.fill("#region-name", "错位街道")
            await page.fill("#region-parent", "330106001")
            await page.click("#region-form button[type='submit']")
            await page.wait_for_selector("#status", state="visible")
            assert (await page.locator("#status").inner_text()).startswith("区划代码与上级不符")
            await page.screenshot(path=ARTIFACTS / f"regions-admin-{db}-1920x1080.png")
            assert [e for e in errors if "409 (Conflict)" not in e] == [], errors
    finally:
        engine.stop()
