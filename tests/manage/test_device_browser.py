"""设备管理 in headless Chromium against a real engine process: a manager opens the
devices page from the dashboard, adds a kiosk (its token shown once), the token works;
the manager revokes it after a confirmation and the engine refuses that token at once;
a gateway's keypad is moved to another window from the page; a name in use is refused
in Chinese. Screenshots at 1920x1080 and 1366x768 in tests/artifacts/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.api import API
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.halls import seeded
from tests.helpers.pages import db_label, engine_process, fits_width, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GATEWAY_REPORT = {
    "devices": [
        {"key": "bus:hall", "kind": "bus", "window": None, "status": "online"},
        {"key": "keypad:1", "kind": "keypad", "window": 1, "status": "online"},
        {"key": "evaluator:1", "kind": "evaluator", "window": 1, "status": "online"},
        {"key": "led:1", "kind": "led", "window": 1, "status": "offline", "reason": "no answer"},
        {"key": "keypad:2", "kind": "keypad", "window": 2, "status": "online"},
    ]
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=ARTIFACTS / f"devices-{name}.png")


async def test_a_manager_adds_and_revokes_a_kiosk(database_url: str, tmp_path: Path) -> None:
    hall = await seeded(database_url)
    db = db_label(database_url)
    async with (
        engine_process(database_url, tmp_path) as engine,
        chromium() as browser,
        httpx.AsyncClient(timeout=10, base_url=engine.base_url) as http,
    ):
        reported = await http.put(
            f"{API}/{hall.code}/devices/health", json=GATEWAY_REPORT, headers=hall.h("gateway")
        )
        assert reported.status_code == 200, reported.text
        page, _ = await new_page(browser, 1920, 1080)
        # From the dashboard, whose login the devices page shares.
        await page.goto(f"{engine.base_url}/manage/{hall.code}")
        await log_in(page, hall, "manager")
        await page.wait_for_selector(".tile[data-window='1']")
        began = time.perf_counter()
        await page.click("#devices-link")
        await page.wait_for_selector("tr[data-name='testhall-gateway']")
        took = {"dashboard link to the devices drawn": (time.perf_counter() - began) * 1000}
        await page.wait_for_function("() => window.jiaohao.state.connection === 'live'")
        rows = await page.locator("#device-rows tr").count()

        # Add a kiosk: the token is shown once, with the warning and a copy button.
        await page.select_option("#add-kind", "kiosk")
        await page.fill("#add-name", "一楼2号取号机")
        began = time.perf_counter()
        await page.click("#add-button")
        await page.wait_for_selector("#token-box:not([hidden])")
        took["add to the token shown"] = (time.perf_counter() - began) * 1000
        token = await page.input_value("#token-value")
        assert token.startswith("jhd_")
        assert "只显示这一次" in await page.inner_text("#token-box")
        await page.click("#token-copy")
        await page.wait_for_function(
            "() => document.getElementById('token-hint').textContent.includes('复制')"
            " && !document.getElementById('token-hint').textContent.startsWith('提示')"
        )
        await page.wait_for_selector("tr[data-name='一楼2号取号机'][data-active='true']")
        assert await page.locator("#device-rows tr").count() == rows + 1
        await shot(page, f"{db}-token-1920x1080")
        await fits_width(page, "token 1920x1080")
        issued = await http.post(
            f"{API}/{hall.code}/tickets", json={"service": "business"}, headers=bearer(token)
        )
        assert issued.status_code == 201, issued.text
        await page.click("#token-done")
        assert await page.is_hidden("#token-box")
        assert token not in await page.content()

        # A name in use is refused, in Chinese.
        await page.fill("#add-name", "一楼2号取号机")
        await page.click("#add-button")
        await page.wait_for_function(
            "() => document.getElementById('add-error').textContent.includes('已被使用')"
        )

        # Revoke it: a confirmation first; then the engine refuses the token at once.
        row = page.locator("tr[data-name='一楼2号取号机']")
        await row.get_by_role("button", name="吊销").click()
        await page.wait_for_selector("#revoke[open]")
        assert "一楼2号取号机" in await page.inner_text("#revoke-text")
        await shot(page, f"{db}-revoke-1920x1080")
        await page.click("#revoke-cancel")
        assert (
            await http.get("/api/v1/auth/me", headers=bearer(token))
        ).status_code == 200  # cancelled: nothing happened
        await row.get_by_role("button", name="吊销").click()
        began = time.perf_counter()
        await page.click("#revoke-confirm")
        await page.wait_for_selector("tr[data-name='一楼2号取号机'][data-active='false']")
        took["confirm to the row shown revoked"] = (time.perf_counter() - began) * 1000
        refused = await http.post(
            f"{API}/{hall.code}/tickets", json={"service": "business"}, headers=bearer(token)
        )
        assert refused.status_code == 401
        assert refused.json()["code"] == "unauthorized"

        # The gateway's keypad of window 1 now serves window 3.
        select = page.locator("tr[data-name='testhall-gateway'] li[data-key='keypad:1'] select")
        await select.select_option("3")
        await page.wait_for_selector(
            "tr[data-name='testhall-gateway'] li[data-key='keypad:1'] .moved"
        )
        own = await http.get(f"{API}/{hall.code}/devices/assignments", headers=hall.h("gateway"))
        assert [(a["key"], a["window"]) for a in own.json()] == [("keypad:1", 3)]

        await shot(page, f"{db}-1920x1080")
        await fits_width(page, "1920x1080")
        await page.set_viewport_size({"width": 1366, "height": 768})
        await shot(page, f"{db}-1366x768")
        await fits_width(page, "1366x768")
        # The audit log names every change.
        audit = await http.get(
            f"{API}/{hall.code}/audit",
            params={"since": "2000-01-01T00:00:00+00:00"},
            headers=hall.h("manager"),
        )
        actions = [e["action"] for e in audit.json() if e["action"].startswith("device.")]
        assert actions == ["device.assign", "device.revoke", "device.add"]
        (ARTIFACTS / f"devices-{db}-timings.txt").write_text(
            "\n".join(f"{k}: {v:.0f} ms" for k, v in took.items()) + "\n", encoding="utf-8"
        )
