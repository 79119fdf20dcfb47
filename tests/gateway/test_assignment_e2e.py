"""A keypad moved to another window on the devices page acts at the new window.

The engine and the gateway run as processes of their own, the keypads, pads and boards
are simulators on a pty (as in test_gateway_e2e.py), and the hall's manager uses the
devices page in headless Chromium: window 1's keypad is given to window 3; the gateway
follows at once (the ``device.assigned`` event), reports it there, and a press on that
keypad calls at window 3, shown on window 3's board and on the keypad itself. The
gateway restarted keeps it (it reads its assignments at start); set back on the page,
the keypad acts at window 1 again.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from drivers.config import BusConfig
from drivers.protocols.keypad import KeypadAction
from drivers.simulators.bus import SimulatedBus
from tests.gateway.processes import DEVICES, Process, device_tokens, gateway_config, jiaohao
from tests.helpers import ROOT
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.cli import Cli, engine_env
from tests.helpers.processes import EngineProcess
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HALL = "testhall"
API = f"/api/v1/halls/{HALL}"
MANAGER_PASSWORD = "a manager's long password"


async def test_a_keypad_moved_on_the_page_calls_at_its_new_window(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'hall.db'}"
    env = engine_env(database_url)
    jiaohao(env, "migrate")
    jiaohao(env, "hall", "apply", str(ROOT / "tests/data/test-hall.toml"))
    tokens = device_tokens(env, HALL, ("gateway", "kiosk", "display"))
    Cli(database_url, tmp_path, None).ok(
        "user", "add", "--hall", HALL, "--role", "manager", "--username", "boss",
        "--password-stdin", stdin=MANAGER_PASSWORD + "\n",
    )  # fmt: skip

    engine = EngineProcess(database_url, tmp_path, "engine")
    engine.start()
    http = httpx.Client(base_url=engine.base_url, timeout=10)

    def as_(kind: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[kind]}"}

    def reported() -> dict[str, dict[str, Any]]:
        body = http.get(f"{API}/devices", headers=as_("display")).json()
        gateway = next(r for r in body["reporters"] if r["name"] == "e2e-gateway")
        return {d["key"]: d for d in gateway["devices"]} if gateway["status"] == "online" else {}

    def keypad1_reported_at(window: int) -> bool:
        device = reported().get("keypad:1")
        return bool(device and device["window"] == window and device["status"] == "online")

    def issue(service: str) -> None:
        response = http.post(f"{API}/tickets", json={"service": service}, headers=as_("kiosk"))
        assert response.status_code == 201, response.text

    def windows() -> dict[int, dict[str, Any]]:
        listed = http.get(f"{API}/windows", headers=as_("display")).json()
        return {w["number"]: w for w in listed}

    bus_config = BusConfig.from_dict(
        {
            "name": "hall",
            "port": str(tmp_path / "ttyBUS0"),
            "devices": [
                {"kind": k, "address": a, "window": w, "protocol": p} for k, a, w, p in DEVICES
            ],
        }
    )
    sim = SimulatedBus.from_config(bus_config, link=str(tmp_path / "ttyBUS0"))
    sim.start()
    gateway_config(tmp_path / "gateway.toml", tmp_path / "ttyBUS0")
    gateway_env = {**env, "JIAOHAO_GATEWAY_TOKEN": tokens["gateway"]}
    argv = [
        sys.executable, "-m", "services.cli", "gateway", "--engine", engine.base_url,
        "--config", str(tmp_path / "gateway.toml"), "--log-level", "DEBUG",
    ]  # fmt: skip
    gateway = Process("gateway", argv, gateway_env, tmp_path)
    codes: list[int | None] = []
    try:
        gateway.start()
        await asyncio.to_thread(
            wait_until,
            lambda: (
                len(reported()) == len(DEVICES) + 1
                and all(d["status"] == "online" for d in reported().values())
            ),
            what="the gateway to report every device online",
        )
        issue("business")
        issue("business")

        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            await page.goto(f"{engine.base_url}/manage/{HALL}/devices")
            await page.fill("#username", "boss")
            await page.fill("#password", MANAGER_PASSWORD)
            await page.click("#login-button")
            keypad1 = "tr[data-name='e2e-gateway'] li[data-key='keypad:1']"
            await page.wait_for_selector(f"{keypad1} select")
            await page.wait_for_function("() => window.jiaohao.state.connection === 'live'")
            # Window 1's keypad now serves window 3.
            await page.locator(f"{keypad1} select").select_option("3")
            await asyncio.to_thread(
                wait_until, lambda: keypad1_reported_at(3), what="keypad:1 reported at window 3"
            )
            # The page hears the gateway's report (device.health) and stops waiting for it.
            await page.wait_for_function(
                "(sel) => { const li = document.querySelector(sel);"
                " return li && li.textContent.includes('已改派')"
                " && !li.textContent.includes('等待网关'); }",
                arg=keypad1,
                timeout=10_000,
            )
            await page.screenshot(path=ARTIFACTS / "devices-e2e-moved-1366x768.png")

            # A press on that keypad calls at window 3: its board and the keypad show it.
            sim.keypad(1).press_action(KeypadAction.CALL_NEXT)
            board3, keypad = sim.led_board(3), sim.keypad(1)
            assert await asyncio.to_thread(
                board3.wait_for, lambda: board3.content.number == "A001"
            ), board3.content
            assert board3.content.text == "请A001号到3号窗口"
            assert await asyncio.to_thread(
                keypad.wait_for, lambda: (keypad.left, keypad.right) == ("1", "001")
            ), keypad.shows
            now = windows()
            assert now[3]["current_ticket"] == "A001" and now[1]["state"] == "closed"
            # Window 3's own keypad (jh: the whole number) shows the same: two serve window 3.
            keypad3 = sim.keypad(3)
            assert await asyncio.to_thread(
                keypad3.wait_for, lambda: (keypad3.left, keypad3.right) == ("1", "A001")
            ), keypad3.shows

            # The gateway restarted reads its assignments at start: still window 3.
            codes.append(gateway.stop())
            gateway.start()
            await asyncio.to_thread(
                wait_until,
                # Logged once when the page moved it, once more at the new start.
                lambda: gateway.log().count("device assignments: keypad:1 -> 3") >= 2,
                what="the restarted gateway to read its assignments",
                log=gateway.log,
            )
            sim.keypad(1).press_action(KeypadAction.FINISH)
            assert await asyncio.to_thread(
                board3.wait_for, lambda: board3.content.text == "热情为您服务"
            ), board3.content
            assert windows()[1]["state"] == "closed"

            # Set back on the page: the keypad acts at window 1 again.
            await page.locator(f"{keypad1} select").select_option("1")
            await asyncio.to_thread(
                wait_until, lambda: keypad1_reported_at(1), what="keypad:1 back at window 1"
            )
            sim.keypad(1).press_action(KeypadAction.CALL_NEXT)
            board1 = sim.led_board(1)
            assert await asyncio.to_thread(
                board1.wait_for, lambda: board1.content.number == "A002"
            ), board1.content
            assert windows()[1]["current_ticket"] == "A002"
            await page.screenshot(path=ARTIFACTS / "devices-e2e-back-1366x768.png")
    finally:
        codes.append(gateway.stop())
        log = gateway.log()
        engine.stop()
        sim.stop()
        await asyncio.to_thread(http.close)
    assert codes == [0, 0], log[-3000:]
    assert "Traceback" not in log, log[-3000:]
