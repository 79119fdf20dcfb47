"""The hall settings page (大厅设置) in headless Chromium against a real engine process:
the manager goes from the dashboard to the settings, lowers a service's daily quota and
the kiosk is refused at the new quota; a prefix clash and a closing time before the
opening time are refused in Chinese, the form keeps what was typed and nothing is saved.
Screenshots at 1920x1080 and 1366x768 in tests/artifacts/."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.api import API, assert_problem, issue
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.halls import Hall, seeded
from tests.helpers.pages import db_label, engine_process, fits_width, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ESTATE = "#service-rows tr[data-code='estate']"


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=ARTIFACTS / f"settings-{name}.png", full_page=True)


async def to_the_settings(page: Any, base_url: str, hall: Hall) -> None:
    """From the dashboard, through its header's 大厅设置 link (the same tab keeps the login)."""
    await page.goto(f"{base_url}/manage/{hall.code}")
    await log_in(page, hall, "manager")
    await page.wait_for_selector(".tile[data-window='4']")
    await page.click("#settings-link")
    await page.wait_for_selector(ESTATE)


async def saved(http: httpx.AsyncClient, hall: Hall) -> dict[str, Any]:
    response = await http.get(f"{API}/{hall.code}/settings", headers=hall.h("manager"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body.pop("calendar")
    return body


async def saved_calendar(http: httpx.AsyncClient, hall: Hall) -> dict[str, Any]:
    response = await http.get(f"{API}/{hall.code}/settings", headers=hall.h("manager"))
    calendar: dict[str, Any] = response.json()["calendar"]
    return calendar


async def test_a_new_quota_stops_the_kiosk(database_url: str, tmp_path: Path) -> None:
    hall = await seeded(database_url)
    db = db_label(database_url)
    async with (
        engine_process(database_url, tmp_path) as engine,
        chromium() as browser,
        httpx.AsyncClient(timeout=10, base_url=engine.base_url) as http,
    ):
        await issue(http, hall, "estate")  # 1 of 3
        page, _ = await new_page(browser, 1920, 1080)
        await to_the_settings(page, engine.base_url, hall)
        assert await page.input_value(f"{ESTATE} input[name='daily_quota']") == "3"
        await page.fill(f"{ESTATE} input[name='daily_quota']", "2")
        began = time.perf_counter()
        await page.click(f"{ESTATE} button")
        await page.wait_for_function(
            "() => document.getElementById('services-msg').dataset.kind === 'ok'"
        )
        took = (time.perf_counter() - began) * 1000
        assert "每日限号" in await page.text_content("#services-msg")
        await shot(page, f"{db}-1920x1080")
        await fits_width(page, "1920x1080")
        # The kiosk's next issue sees the new quota: one more, then the refusal.
        await issue(http, hall, "estate")
        refused = await http.post(
            f"{API}/{hall.code}/tickets", json={"service": "estate"}, headers=hall.h("kiosk")
        )
        assert_problem(refused, 409, "quota_exhausted")
        # The audit log has who, before and after.
        audit = await http.get(
            f"{API}/{hall.code}/audit",
            params={"since": "2000-01-01T00:00:00+00:00"},
            headers=hall.h("manager"),
        )
        entry = next(e for e in audit.json() if e["action"] == "settings.service")
        assert entry["before"] == {"daily_quota": 3} and entry["after"] == {"daily_quota": 2}
        assert entry["actor"].endswith(f"{hall.code}-manager")
        # The hall now follows the national calendar: National Day closed, the 调休
        # Saturday open; a year the installed calendar lacks is said, not guessed.
        await page.check("#national")
        await page.click("#hours-save")
        await page.wait_for_function(
            "() => document.getElementById('hours-msg').dataset.kind === 'ok'"
        )
        calendar = await page.text_content("#calendar")
        if "2026 年" in calendar and "2026-10-01" in calendar:
            assert "2026-10-01国庆节 放假本厅闭厅" in calendar, calendar
            assert "2026-10-10国庆节 调休上班本厅开放" in calendar, calendar
        unknown = (await saved_calendar(http, hall))["unknown_years"]
        assert await page.is_visible("#calendar-warning") == bool(unknown)
        if unknown:
            assert "尚无" in await page.text_content("#calendar-warning")
        await page.set_viewport_size({"width": 1366, "height": 768})
        await shot(page, f"{db}-1366x768")
        await fits_width(page, "1366x768")
        (ARTIFACTS / f"settings-{db}-timings.txt").write_text(
            f"save a quota (click to answer shown): {took:.0f} ms\n", encoding="utf-8"
        )


async def test_bad_input_is_said_in_chinese_and_nothing_is_saved(
    database_url: str, tmp_path: Path
) -> None:
    hall = await seeded(database_url)
    db = db_label(database_url)
    async with (
        engine_process(database_url, tmp_path) as engine,
        chromium() as browser,
        httpx.AsyncClient(timeout=10, base_url=engine.base_url) as http,
    ):
        before = await saved(http, hall)
        page, _ = await new_page(browser, accept_downloads=True)
        await to_the_settings(page, engine.base_url, hall)
        # A prefix another service uses.
        await page.fill(f"{ESTATE} input[name='prefix']", "A")
        await page.fill(f"{ESTATE} input[name='daily_quota']", "9")
        await page.click(f"{ESTATE} button")
        await page.wait_for_function(
            "() => document.getElementById('services-msg').dataset.kind === 'error'"
        )
        said = await page.text_content("#services-msg")
        assert "取号前缀 A 已被其他业务使用" in said and "设置未保存" in said, said
        assert await page.get_attribute(ESTATE, "data-bad") == "1"
        assert await page.input_value(f"{ESTATE} input[name='prefix']") == "A"  # kept
        # Closing before opening.
        await page.fill("#weekly", "daily 17:30-08:30")
        await page.click("#hours-save")
        await page.wait_for_function(
            "() => document.getElementById('hours-msg').dataset.kind === 'error'"
        )
        said = await page.text_content("#hours-msg")
        assert "时段 17:30-08:30 不正确：结束时间须晚于开始时间" in said, said
        assert await page.input_value("#weekly") == "daily 17:30-08:30"
        await shot(page, f"{db}-refused-1366x768")
        await fits_width(page, "1366x768")
        assert await saved(http, hall) == before  # nothing of it was saved
        # A reload shows the saved settings, as they were.
        await page.reload()
        await page.wait_for_selector(ESTATE)
        assert await page.input_value(f"{ESTATE} input[name='prefix']") == "B"
        assert await page.input_value("#weekly") == "daily 00:00-24:00"
        # The hall file as saved, under the hall's name.
        async with page.expect_download() as got:
            await page.click("#export")
        download = await got.value
        assert download.suggested_filename == f"{hall.code}.toml"
        text = (await asyncio.to_thread(Path(await download.path()).read_bytes)).decode()
        assert 'prefix = "B"' in text, text
