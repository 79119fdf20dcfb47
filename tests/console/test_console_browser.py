"""The window console (软件呼叫器) in headless Chromium, against a real engine process, a
real gateway on simulated devices (ptys) and the hall display in a second page.

A clerk logs in, signs in at window 1, opens it, calls, recalls, holds, calls the next
citizen, calls back the held one, finishes with an outcome, pauses with a reason and
resumes, all from the keyboard; the hall display follows each call; a keypad press
through the gateway shows on the console; a refusal is said in Chinese. Screenshots
at 1366x768 and 1280x800 (and a pad upright) are kept in tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from drivers.config import BusConfig
from drivers.protocols.keypad import KeypadAction
from drivers.simulators.bus import SimulatedBus
from services.engine.halls.models import Hall as HallRow
from tests.gateway.processes import DEVICES, Process, gateway_config
from tests.helpers.api import API, issue, token
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.cli import engine_env
from tests.helpers.halls import PASSWORD, Hall, seeded
from tests.helpers.processes import EngineProcess, start

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def text_of(page: Any, selector: str) -> str:
    value: str = await page.locator(selector).inner_text()
    return value.strip()


async def until_text(page: Any, selector: str, wanted: str) -> None:
    await page.wait_for_function(
        "([s, w]) => { const e = document.querySelector(s);"
        " return !!e && e.textContent.trim() === w; }",
        arg=[selector, wanted],
    )


async def until_state(page: Any, state: str) -> None:
    await page.wait_for_function(
        "(s) => document.body.dataset.windowState === s && !window.jiaohao.state.busy", arg=state
    )


async def message(page: Any) -> tuple[str, str]:
    await page.wait_for_selector("#message", state="visible")
    kind: str = await page.locator("#message").get_attribute("data-kind")
    return kind, await text_of(page, "#message")


async def last_message(page: Any, count: int) -> dict[str, Any]:
    """The message shown after ``count`` earlier ones."""
    await page.wait_for_function("(n) => window.jiaohao.state.messages.length > n", arg=count)
    found: dict[str, Any] = await page.evaluate("window.jiaohao.state.messages.at(-1)")
    return found


async def messages_so_far(page: Any) -> int:
    n: int = await page.evaluate("window.jiaohao.state.messages.length")
    return n


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=ARTIFACTS / f"console-{name}.png")


async def fits(page: Any, label: str) -> None:
    """A PC screen shows the whole desk: nothing scrolls, no button is cut off."""
    box = await page.evaluate(
        """() => {
        const buttons = [...document.querySelectorAll('#actions button')]
            .map(b => b.getBoundingClientRect());
        return {scroll: document.documentElement.scrollWidth, width: innerWidth,
                scrollH: document.documentElement.scrollHeight, height: innerHeight,
                lowest: Math.max(...buttons.map(b => b.bottom)),
                smallest: Math.min(...buttons.map(b => b.height)),
                number: parseFloat(
                    getComputedStyle(document.getElementById('hand-number')).fontSize)};
    }"""
    )
    assert box["scroll"] <= box["width"] and box["scrollH"] <= box["height"], (label, box)
    assert box["lowest"] <= box["height"], (label, box)
    # Buttons a finger can hit; a number readable at arm's length.
    assert box["smallest"] >= 44 and box["number"] >= 60, (label, box)


async def require_outcomes(database_url: str, hall: Hall) -> None:
    """This hall records the outcome of every case (办理结果)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(HallRow)
                .where(HallRow.code == hall.code)
                .values(
                    rules={"max_recalls": 3, "no_show": "void", "interleave": "2:1",
                           "outcome_required": True}
                )
            )  # fmt: skip
    finally:
        await engine.dispose()


async def test_a_clerk_runs_a_window_from_the_console(database_url: str, tmp_path: Path) -> None:
    hall = await seeded(database_url)
    await require_outcomes(database_url, hall)
    engine = EngineProcess(database_url, tmp_path, "engine")
    await start(engine)
    db = "postgres" if database_url.startswith("postgresql") else "sqlite"
    port = tmp_path / "ttyBUS0"
    sim = SimulatedBus.from_config(
        BusConfig.from_dict(
            {
                "name": "hall",
                "port": str(port),
                "devices": [
                    {"kind": k, "address": a, "window": w, "protocol": p} for k, a, w, p in DEVICES
                ],
            }
        ),
        link=str(port),
    )
    sim.start()
    gateway_config(tmp_path / "gateway.toml", port, hall.code)
    gateway = Process(
        "gateway",
        [sys.executable, "-m", "services.cli", "gateway", "--engine", engine.base_url,
         "--config", str(tmp_path / "gateway.toml")],
        {**engine_env(database_url), "JIAOHAO_GATEWAY_TOKEN": token(hall, "gateway")},
        tmp_path,
    )  # fmt: skip
    gateway.start()
    try:
        async with (
            chromium("--autoplay-policy=no-user-gesture-required") as browser,
            httpx.AsyncClient(timeout=10, base_url=engine.base_url) as http,
        ):
            for _ in range(3):
                await issue(http, hall)  # A001, A002, A003
            display = await browser.new_page(
                viewport={"width": 1920, "height": 1080}, locale="zh-CN"
            )
            await display.goto(f"{engine.base_url}/display/{hall.code}?token={token(hall)}")
            await display.wait_for_function(
                "() => document.getElementById('status').dataset.state === 'live'"
            )

            page = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            await page.goto(f"{engine.base_url}/console/{hall.code}")
            assert await page.evaluate("document.documentElement.lang") == "zh-CN"

            # A wrong password is said plainly; the right one logs in.
            await page.fill("#username", f"{hall.code}-staff")
            await page.fill("#password", "wrong password")
            await page.press("#password", "Enter")
            await until_text(page, "#login-error", "用户名或密码不正确")
            await shot(page, f"{db}-login-1366x768")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await page.wait_for_selector(".window-pick[data-window='1']")
            assert await page.locator(".window-pick").count() == 4
            await shot(page, f"{db}-pick-1366x768")
            await page.click(".window-pick[data-window='1']")
            await page.wait_for_function("() => window.jiaohao.state.connection === 'live'")

            # Not signed in: only opening (which signs in) or 签到 is offered.
            assert await page.locator("[data-action='call-next']").is_disabled()
            await page.keyboard.press("Alt+S")  # 签到
            await page.wait_for_function("() => document.body.dataset.signedIn === 'true'")
            assert "签到：testhall-staff（本人）" in await text_of(page, "#desk-staff")
            await page.keyboard.press("Alt+O")  # 开窗
            await until_state(page, "idle")
            await shot(page, f"{db}-idle-1366x768")
            await fits(page, "1366x768 idle")

            # 呼叫下一位 (F1): A001 on the console and on the hall display.
            await page.keyboard.press("F1")
            await until_text(page, "#hand-number", "A001")
            await until_state(page, "calling")
            await display.wait_for_function(
                "() => document.getElementById('latest-number').textContent === 'A001'"
            )
            assert await text_of(display, "#latest-window") == "1"
            # 重呼 (F2): the history says so, the display announces it again.
            await page.keyboard.press("F2")
            await page.wait_for_selector("#hand-history li[data-action='recall']")
            await display.wait_for_function("() => window.jiaohao.voice.log.length === 2")
            assert "1 / 3 次" in await text_of(page, "#hand-facts")
            await shot(page, f"{db}-calling-1366x768")

            # 挂起 (F7): documents left at the window, with a note; the window is free.
            await page.keyboard.press("F7")
            await page.wait_for_selector("#dlg-hold[open]")
            await page.keyboard.press("2")  # 材料留窗口
            await page.fill("#hold-reason", "缺营业执照复印件")
            await shot(page, f"{db}-hold-dialog-1366x768")
            await page.click("#dlg-hold button[value='ok']")
            await until_state(page, "idle")
            await until_text(page, "#held li[data-ticket] b", "A001")
            assert "材料留窗口" in await text_of(page, "#held")
            assert "缺营业执照复印件" in await text_of(page, "#held")
            assert await text_of(page, "#hand-number") == "—"

            # The next citizen (F1), then 办结 (F4) with its outcome: the hall requires one.
            await page.keyboard.press("F1")
            await until_text(page, "#hand-number", "A002")
            await display.wait_for_function(
                "() => document.getElementById('latest-number').textContent === 'A002'"
            )
            # 回呼 is refused while a citizen is at the window: the button says so by being off.
            assert await page.locator("#held button").is_disabled()
            await page.keyboard.press("F4")
            await page.wait_for_selector("#dlg-finish[open]")
            await page.keyboard.press("3")  # 一次性告知
            await shot(page, f"{db}-outcome-dialog-1366x768")
            await page.click("#finish-ok")
            await until_state(page, "idle")
            await until_text(page, "#rated", "上一位 A002：未评价 · 一次性告知")

            # 回呼 from the held list: A001 again, announced like a call.
            await page.click("#held li[data-ticket] button")
            await until_text(page, "#hand-number", "A001")
            await display.wait_for_function(
                "() => document.getElementById('latest-number').textContent === 'A001'"
                " && window.jiaohao.voice.log.length === 4"
            )
            await page.wait_for_selector("#hand-history li[data-action='call_back']")
            await until_text(page, "#held li", "无挂起号码")
            # 开始办理 (F3) and 办结 (F4) with 办结.
            await page.keyboard.press("F3")
            await until_state(page, "serving")
            await page.keyboard.press("F4")
            await page.wait_for_selector("#dlg-finish[open]")
            await page.keyboard.press("1")
            await page.click("#finish-ok")
            await until_state(page, "idle")
            await until_text(page, "#rated", "上一位 A001：未评价 · 办结")

            # The citizen rates on the pad: the console says 已评价, never the level.
            last = await page.evaluate("window.jiaohao.state.view.last_finished.ticket_id")
            rated = await http.post(
                f"{API}/{hall.code}/tickets/{last}/evaluation",
                json={"level": 5, "from_pad": True},
                headers=hall.h("gateway"),
            )
            assert rated.status_code == 201, rated.text
            await until_text(page, "#rated", "上一位 A001：已评价 · 办结")

            # 暂停 (F9) with a reason, shown to the clerk and on the display; F9 resumes.
            await page.keyboard.press("F9")
            await page.wait_for_selector("#dlg-pause[open]")
            await page.keyboard.press("2")  # 临时离岗
            await page.click("#dlg-pause button[value='ok']")
            await until_state(page, "paused")
            assert await text_of(page, "#hand-state") == "暂停服务：临时离岗"
            await display.wait_for_function(
                "() => document.querySelector(\".window-row[data-window='1']\")"
                ".dataset.state === 'paused'"
            )
            assert await page.locator("[data-action='call-next']").is_disabled()
            await shot(page, f"{db}-paused-1366x768")
            await page.keyboard.press("F9")
            await until_state(page, "idle")

            # A refusal in Chinese: 指呼 (F10) of a number nobody holds today.
            seen = await messages_so_far(page)
            await page.keyboard.press("F10")
            await page.wait_for_selector("#dlg-call[open]")
            await page.fill("#call-number", "Z999")
            await page.click("#dlg-call button[value='ok']")
            said = await last_message(page, seen)
            assert said["kind"] == "error" and said["text"].startswith("未找到该号码"), said
            await shot(page, f"{db}-refusal-1366x768")
            # ... and 指呼 of a real one by the number on the slip.
            await page.keyboard.press("F10")
            await page.fill("#call-number", "a3")
            await page.click("#dlg-call button[value='ok']")
            await until_text(page, "#hand-number", "A003")

            # 转移 (F6): window 2 is closed, and the console says so; to 不动产登记 it goes.
            seen = await messages_so_far(page)
            await page.keyboard.press("F6")
            await page.wait_for_selector("#dlg-transfer[open]")
            await page.click("#transfer-windows .choice:has-text('2号窗口')")
            await shot(page, f"{db}-transfer-dialog-1366x768")
            await page.click("#dlg-transfer button[value='ok']")
            said = await last_message(page, seen)
            assert said == {**said, "kind": "error", "text": "窗口未开放，请先开窗"}, said
            assert await text_of(page, "#hand-number") == "A003"
            await page.keyboard.press("F6")
            await page.wait_for_selector("#dlg-transfer[open]")
            await page.click("#transfer-services .choice:has-text('不动产登记')")
            await page.click("#dlg-transfer button[value='ok']")
            await until_state(page, "idle")
            assert await text_of(page, "#hand-number") == "—"

            # A keypad press through the gateway at this window shows on the console
            # within moments, the same number as the window's LED board.
            await issue(http, hall)  # A004
            board = sim.led_board(1)
            # The board follows the transfer first: the window is free.
            assert await asyncio.to_thread(
                board.wait_for, lambda: board.content.text == "热情为您服务"
            ), board.content
            sim.keypad(1).press_action(KeypadAction.CALL_NEXT)
            assert await asyncio.to_thread(
                board.wait_for, lambda: board.content.number in ("A003", "A004")
            ), board.content
            await page.wait_for_function(
                "(n) => document.getElementById('hand-number').textContent === n",
                arg=board.content.number,
                timeout=15000,
            )
            assert board.content.number in ("A003", "A004")
            await until_state(page, "calling")

            # The sizes a clerk has: 1280x800 (a 10-inch pad on its side) and upright.
            await page.set_viewport_size({"width": 1280, "height": 800})
            await fits(page, "1280x800")
            await shot(page, f"{db}-calling-1280x800")
            await page.set_viewport_size({"width": 800, "height": 1280})
            await shot(page, f"{db}-calling-800x1280")
            await page.set_viewport_size({"width": 1366, "height": 768})

            # Logging out forgets the token; a reload asks to log in again.
            await page.click("#desk-screen [data-logout]")
            await page.wait_for_selector("#login-screen", state="visible")
            assert await page.evaluate("sessionStorage.length") == 0
            await page.reload()
            await page.wait_for_selector("#login-form", state="visible")
    finally:
        code = gateway.stop()
        log = gateway.log()
        engine.stop()
        sim.stop()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


async def test_the_session_survives_a_reload_and_an_expired_token_asks_to_log_in(
    database_url: str, tmp_path: Path
) -> None:
    hall = await seeded(database_url)
    engine = EngineProcess(database_url, tmp_path, "engine")
    await start(engine)
    try:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            await page.goto(f"{engine.base_url}/console/{hall.code}")
            await page.fill("#username", f"{hall.code}-manager")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await page.click(".window-pick[data-window='2']")
            await page.wait_for_function("() => window.jiaohao.state.connection === 'live'")
            # A manager acts at any window without signing in there.
            await page.keyboard.press("Alt+O")
            await until_state(page, "idle")
            # A reload keeps the tab's session and the window.
            await page.reload()
            await until_text(page, "#desk-window", "2号窗口")
            await until_state(page, "idle")
            # The token goes bad (expired, or the account disabled): back to the login.
            await page.evaluate(
                "() => { const k = Object.keys(sessionStorage)[0];"
                " const s = JSON.parse(sessionStorage.getItem(k));"
                " window.jiaohao.state.token = s.token + 'x'; }"
            )
            await page.evaluate("window.jiaohao.refresh()")
            await page.wait_for_selector("#login-screen", state="visible", timeout=10000)
            assert await text_of(page, "#login-error") == "登录已失效，请重新登录"
    finally:
        engine.stop()
