"""The gateway end to end, with real processes and simulated devices on ptys.

The engine (uvicorn, a temporary SQLite database set up by the ``jiaohao`` CLI) and
the gateway (``jiaohao gateway``) run as processes of their own; the keypads, pads
and LED boards are simulators in this process speaking the real protocols on a
pseudo-terminal; a hall display follows the engine's bus with the bus client.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from drivers.config import BusConfig
from drivers.protocols.keypad import KeypadAction
from drivers.simulators.bus import SimulatedBus
from services.busclient.client import BusClient
from tests.gateway.processes import DEVICES, Process, device_tokens, gateway_config, jiaohao
from tests.helpers import ROOT
from tests.helpers.cli import engine_env
from tests.helpers.processes import EngineProcess
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

HALL = "testhall"
API = f"/api/v1/halls/{HALL}"


class Display:
    """A hall display's bus connection on a thread of its own; records every message."""

    def __init__(self, base_url: str, token: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._client = BusClient(base_url, HALL, token, max_backoff=1.0)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        async def follow() -> None:
            async for message in self._client:
                with self._cond:
                    self.messages.append(message)
                    self._cond.notify_all()

        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(follow())

    def wait_for(self, what: str, predicate: Any, timeout: float = 30.0) -> dict[str, Any]:
        with self._cond:
            found: list[dict[str, Any]] = []

            def seen() -> bool:
                found[:] = [m for m in self.messages if predicate(m)]
                return bool(found)

            assert self._cond.wait_for(seen, timeout), f"display never saw {what}"
            return found[-1]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.close(), self._loop)
        self._thread.join(10)


def called(number: str, window: int) -> Any:
    def match(m: dict[str, Any]) -> bool:
        data = m.get("data") or {}
        return bool(
            m.get("kind") == "event"
            and m.get("type") == "ticket.called"
            and (data.get("number"), data.get("window")) == (number, window)
        )

    return match


def test_the_hall_through_the_gateway(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'hall.db'}"
    env = engine_env(database_url)
    jiaohao(env, "migrate")
    jiaohao(env, "hall", "apply", str(ROOT / "tests/data/test-hall.toml"))
    tokens = device_tokens(env, HALL, ("gateway", "kiosk", "display"))

    engine = EngineProcess(database_url, tmp_path, "engine")
    engine.start()
    http = httpx.Client(base_url=engine.base_url, timeout=10)

    def as_(kind: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[kind]}"}

    def issue(service: str) -> dict[str, Any]:
        response = http.post(f"{API}/tickets", json={"service": service}, headers=as_("kiosk"))
        assert response.status_code == 201, response.text
        ticket: dict[str, Any] = response.json()
        return ticket

    def devices() -> dict[str, dict[str, Any]]:
        body = http.get(f"{API}/devices", headers=as_("display")).json()
        gateway = next(r for r in body["reporters"] if r["name"] == "e2e-gateway")
        if gateway["status"] != "online":
            return {}
        return {d["key"]: d for d in gateway["devices"]}

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
    gateway = Process(
        "gateway",
        [
            sys.executable, "-m", "services.cli", "gateway", "--engine", engine.base_url,
            "--config", str(tmp_path / "gateway.toml"), "--log-level", "DEBUG",
        ],
        gateway_env,
        tmp_path,
    )  # fmt: skip
    display: Display | None = None
    try:
        gateway.start()
        # Ready: every device reported online, and the boards show the closed windows.
        wait_until(
            lambda: (
                len(devices()) == len(DEVICES) + 1
                and all(d["status"] == "online" for d in devices().values())
            ),
            what="the gateway to report every device online",
        )
        for window in (1, 2, 3, 4):
            board = sim.led_board(window)
            assert board.wait_for(lambda b=board: b.content.text == "窗口已关闭"), board.content
        display = Display(engine.base_url, tokens["display"])
        display.wait_for("live", lambda m: m.get("kind") == "live")

        # A keypad 呼叫 at (closed) window 1: the engine calls A001, the board and the
        # keypad show it, and the hall display hears it on the bus.
        first = issue("business")
        issue("business")
        sim.keypad(1).press_action(KeypadAction.CALL_NEXT)
        board1 = sim.led_board(1)
        assert board1.wait_for(lambda: board1.content.number == "A001"), board1.content
        assert board1.content.text == "请A001号到1号窗口"
        keypad1 = sim.keypad(1)
        assert keypad1.wait_for(lambda: (keypad1.left, keypad1.right) == ("1", "001"))
        assert board1.wait_for(lambda: board1.waiting == 1)
        display.wait_for("A001 called at window 1", called("A001", 1))

        # 办结 on the keypad; the pad is invited (never told a level); the citizen presses 5.
        pad1 = sim.evaluator(1)
        sim.keypad(1).press_action(KeypadAction.FINISH)
        assert pad1.wait_for(lambda: pad1.invitations == 1)
        assert board1.wait_for(lambda: board1.content.text == "热情为您服务")
        pad1.rate(5)
        rating = wait_until(
            lambda: (
                (
                    r := http.get(f"{API}/tickets/{first['id']}/evaluation", headers=as_("kiosk"))
                ).status_code
                == 200
                and r.json()
            ),
            what="the rating of A001",
        )
        assert (rating["level"], rating["window"], rating["channel"]) == (5, 1, "gateway")
        assert rating["reason_missing"] is False and rating["reasons"] == []

        # A 差评 on the pad is recorded as pressed, with no invented reason.
        second_call = sim.keypad(1)
        second_call.press_action(KeypadAction.CALL_NEXT)
        assert board1.wait_for(lambda: board1.content.number == "A002")
        second = http.get(f"{API}/windows", headers=as_("display")).json()[0]
        assert second["current_ticket"] == "A002"
        second_call.press_action(KeypadAction.FINISH)
        assert pad1.wait_for(lambda: pad1.invitations == 2)
        pad1.rate(2)
        bad = wait_until(
            lambda: (
                (
                    r := http.get(
                        f"{API}/tickets/{second['current_ticket_id']}/evaluation",
                        headers=as_("kiosk"),
                    )
                ).status_code
                == 200
                and r.json()
            ),
            what="the rating of A002",
        )
        assert (bad["level"], bad["reasons"], bad["comment"]) == (2, [], None)
        assert bad["reason_missing"] is True

        # 呼叫 with nobody waiting: the window opens, the engine says queue_empty, the
        # keypad beeps. 暂停 pauses (with the keypad's honest reason), pressed again resumes.
        keypad2, board2 = sim.keypad(2), sim.led_board(2)
        keypad2.press_action(KeypadAction.CALL_NEXT)
        assert keypad2.wait_for(lambda: keypad2.beeps == 1)
        assert board2.wait_for(lambda: board2.content.text == "热情为您服务")
        keypad2.press_action(KeypadAction.PAUSE)
        assert board2.wait_for(lambda: board2.content.text == "暂停服务")
        window2 = http.get(f"{API}/windows", headers=as_("display")).json()[1]
        assert (window2["state"], window2["pause_reason"]) == ("paused", "呼叫器暂停（未注明原因）")
        keypad2.press_action(KeypadAction.PAUSE)
        assert board2.wait_for(lambda: board2.content.text == "热情为您服务")
        # 转移 needs a target the keypad cannot give: a beep, nothing sent.
        keypad2.press_action(KeypadAction.TRANSFER)
        assert keypad2.wait_for(lambda: keypad2.beeps == 2)

        # An unplugged board is reported offline, and online again when plugged back.
        board2.unplug()
        offline = wait_until(
            lambda: devices().get("led:2", {}).get("status") == "offline" and devices(),
            what="led:2 offline",
        )
        assert offline["led:2"]["reason"] and offline["led:1"]["status"] == "online"
        board2.plug()
        wait_until(
            lambda: devices().get("led:2", {}).get("status") == "online", what="led:2 online"
        )

        # The engine restarts. A key pressed while it is down is carried out when it is
        # back; a call made meanwhile elsewhere (window 4 has no keypad) reaches the
        # board through the resumed bus. Nothing is missed, by the gateway or the display.
        issue("business")  # A003, for window 3
        issue("estate")  # B001, for window 4
        engine.stop()
        sim.keypad(3).press_action(KeypadAction.CALL_NEXT)
        engine.start()
        for action in ("open", "call-next"):
            response = http.post(f"{API}/windows/4/{action}", headers=as_("gateway"))
            assert response.status_code == 200, response.text
        board3, board4 = sim.led_board(3), sim.led_board(4)
        assert board3.wait_for(lambda: board3.content.number == "A003", 60), board3.content
        assert board4.wait_for(lambda: board4.content.number == "B001", 60), board4.content
        assert board4.content.text == "请B001号到4号窗口"
        display.wait_for("A003 at window 3", called("A003", 3))
        display.wait_for("B001 at window 4", called("B001", 4))
        assert "resuming after" in gateway.log()
        windows = {
            w["number"]: w for w in http.get(f"{API}/windows", headers=as_("display")).json()
        }
        assert windows[3]["current_ticket"] == "A003" and windows[4]["current_ticket"] == "B001"
        # One key press called one citizen: nothing else was called at window 3.
        calls_at_3 = [
            m for m in display.messages
            if m.get("type") == "ticket.called" and (m.get("data") or {}).get("window") == 3
        ]  # fmt: skip
        assert len(calls_at_3) == 1
        assert gateway.running

        # 挂起 (0 + confirm) at window 3: A003 is held as the gateway's configured kind
        # and the board frees up; 回呼 (3 + confirm) calls it back, shown and announced
        # like a call.
        keypad3 = sim.keypad(3)
        keypad3.press_action(KeypadAction.HOLD)
        assert board3.wait_for(lambda: board3.content.text == "热情为您服务"), board3.content
        held = http.get(f"{API}/windows/3/held", headers=as_("display")).json()
        assert [(h["number"], h["kind"]) for h in held] == [("A003", "missing_documents")]
        keypad3.press_action(KeypadAction.CALL_BACK)
        assert board3.wait_for(lambda: board3.content.number == "A003"), board3.content
        back = display.wait_for(
            "A003 called back at window 3",
            lambda m: called("A003", 3)(m) and (m.get("data") or {}).get("called_back") is True,
        )
        assert back["data"]["service"] == "business"
        assert http.get(f"{API}/windows/3/held", headers=as_("display")).json() == []
        # 回呼 with nothing held: the engine says nothing_held, the keypad beeps.
        beeps = keypad3.beeps
        keypad3.press_action(KeypadAction.FINISH)
        assert board3.wait_for(lambda: board3.content.text == "热情为您服务")
        keypad3.press_action(KeypadAction.CALL_BACK)
        assert keypad3.wait_for(lambda: keypad3.beeps == beeps + 1)

        # A kiosk's token cannot run a gateway: it says so and exits 2.
        wrong = subprocess.run(
            [sys.executable, "-m", "services.cli", "gateway", "--engine", engine.base_url,
             "--token", tokens["kiosk"], "--config", str(tmp_path / "gateway.toml")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert wrong.returncode == 2 and "not a gateway's" in wrong.stderr, wrong.stderr
    finally:
        if display is not None:
            display.close()
        code = gateway.stop()
        log = gateway.log()
        engine.stop()
        sim.stop()
        http.close()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
