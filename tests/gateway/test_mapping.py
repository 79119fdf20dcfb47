"""The gateway's pure parts: hall view -> boards and keypads, key -> engine call, config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drivers.config import BusConfig
from drivers.health import DeviceHealth, HealthState
from drivers.protocols.keypad import KeypadAction
from services.gateway.actions import EngineCall, plan
from services.gateway.config import GatewayConfig, GatewayConfigError
from services.gateway.hallstate import BoardContent, HallView, KeypadContent, Texts, WindowView
from services.gateway.health import bus_entries


def snapshot(**windows: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "snapshot",
        "seq": 40,
        "services": [
            {"service": "business", "waiting": 4},
            {"service": "estate", "waiting": 2},
        ],
        "windows": [{"window": int(k[1:]), **v} for k, v in windows.items()],
    }


def hall_view() -> HallView:
    view = HallView(Texts(idle="热情为您服务", paused="暂停服务", closed="窗口关闭"))
    view.apply_snapshot(
        snapshot(
            w1={"state": "calling", "ticket_id": 7, "number": "A007", "pause_reason": None},
            w2={"state": "idle", "ticket_id": None, "number": None},
            w3={"state": "paused", "pause_reason": "午休", "ticket_id": None, "number": None},
            w4={"state": "closed", "ticket_id": None, "number": None},
        )
    )
    view.set_services(
        {1: {"business": 1.0, "estate": 1.0}, 2: {"business": 1.0}, 3: {}, 4: {"estate": 2.0}}
    )
    return view


def test_snapshot_drives_boards_and_keypads() -> None:
    view = hall_view()
    assert view.board(1) == BoardContent("ticket", "", "A007", 1, 6)
    assert view.board(2) == BoardContent("idle", "热情为您服务", None, 2, 4)
    assert view.board(3) == BoardContent("paused", "暂停服务", None, 3, 0)
    assert view.board(4) == BoardContent("paused", "窗口关闭", None, 4, 2)
    assert view.keypad(1) == KeypadContent("A007", 6)
    assert view.keypad(2) == KeypadContent("", 4)
    # A window the engine never mentioned shows the closed text, nobody waiting.
    assert view.board(9) == BoardContent("paused", "窗口关闭", None, 9, 0)


def test_events_change_only_what_they_touch() -> None:
    view = hall_view()
    called = view.apply_event(
        "ticket.called", {"window": 2, "ticket_id": 8, "number": "A008", "service": "business"}
    )
    assert called.windows == {2} and not called.recalled
    assert view.board(2).number == "A008" and view.keypad(2).number == "A008"

    queue = view.apply_event("queue.changed", {"service": "estate", "waiting": 5})
    assert queue.windows == {1, 4}  # the windows serving 不动产登记
    assert view.board(1).waiting == 9 and view.board(4).waiting == 5 and view.board(2).waiting == 4

    recalled = view.apply_event("ticket.recalled", {"window": 2, "ticket_id": 8, "number": "A008"})
    assert recalled.recalled == {2}

    paused = view.apply_event(
        "window.state", {"window": 2, "state": "paused", "pause_reason": "午休", "ticket_id": None}
    )
    assert paused.windows == {2} and view.board(2).mode == "paused"
    assert view.keypad(2) == KeypadContent("", 4)

    staff = view.apply_event("window.staff", {"window": 2, "staff_user_id": 3})
    assert not staff.windows and not staff.refresh and staff.finished is None
    assert view.apply_event("hall.updated", {"hall": "demo"}).refresh
    assert view.apply_event("tidal.changed", {"service": "estate"}).refresh


def test_call_next_finishes_then_calls_and_reports_the_finish() -> None:
    view = hall_view()
    at = "2026-03-02T01:00:00+00:00"
    finished = view.apply_event(
        "ticket.finished", {"window": 1, "ticket_id": 7, "number": "A007"}, at
    )
    assert finished.finished is not None
    assert (finished.finished.window, finished.finished.ticket_id) == (1, 7)
    assert finished.finished.number == "A007" and finished.finished.at is not None
    assert finished.finished.at.isoformat() == at
    assert view.board(1).mode == "idle"
    view.apply_event("ticket.called", {"window": 1, "ticket_id": 9, "number": "B002"})
    assert view.board(1).number == "B002"
    # A late finish of another ticket does not clear the window's current one.
    stale = view.apply_event("ticket.no_show", {"window": 1, "ticket_id": 7, "number": "A007"})
    assert stale.finished is None and view.board(1).number == "B002"


def test_snapshot_forgets_windows_the_hall_no_longer_has() -> None:
    view = hall_view()
    view.apply_snapshot(snapshot(w2={"state": "idle", "ticket_id": None, "number": None}))
    assert view.board(1) == BoardContent("paused", "窗口关闭", None, 1, 6)
    assert view.keypad(1).number == ""


@pytest.mark.parametrize(
    ("action", "state", "calls"),
    [
        (KeypadAction.CALL_NEXT, "idle", [EngineCall("call-next")]),
        (KeypadAction.CALL_NEXT, "serving", [EngineCall("call-next")]),
        (KeypadAction.CALL_NEXT, "closed", [EngineCall("open"), EngineCall("call-next")]),
        (KeypadAction.CALL_NEXT, "paused", [EngineCall("call-next")]),  # the engine refuses
        (KeypadAction.RECALL, "calling", [EngineCall("recall")]),
        (KeypadAction.FINISH, "serving", [EngineCall("finish")]),
        (KeypadAction.NO_SHOW, "calling", [EngineCall("no-show")]),
        (KeypadAction.PAUSE, "idle", [EngineCall("pause", {"reason": "呼叫器暂停"})]),
        (KeypadAction.PAUSE, "paused", [EngineCall("resume")]),
        (KeypadAction.HOLD, "serving", [EngineCall("hold", {"kind": "missing_documents"})]),
        (KeypadAction.CALL_BACK, "idle", [EngineCall("call-back")]),
    ],
)
def test_key_presses_become_window_actions(
    action: KeypadAction, state: str, calls: list[EngineCall]
) -> None:
    todo = plan(action, WindowView(3, state=state), open_on_call=True, pause_reason="呼叫器暂停")
    assert list(todo.calls) == calls and todo.refusal is None


def test_keys_without_an_engine_action_are_refused() -> None:
    todo = plan(
        KeypadAction.TRANSFER, WindowView(3, state="serving"), open_on_call=True, pause_reason="x"
    )
    assert todo.calls == () and todo.refusal


def test_a_keypad_hold_uses_the_configured_kind_and_the_kinds_are_the_engines() -> None:
    from services.engine.tickets.states import HoldKind
    from services.gateway.config import HOLD_KINDS

    assert set(HOLD_KINDS) == {k.value for k in HoldKind}
    todo = plan(
        KeypadAction.HOLD,
        WindowView(3, state="calling"),
        open_on_call=True,
        pause_reason="x",
        hold_kind="waiting",
    )
    assert todo.calls == (EngineCall("hold", {"kind": "waiting"}),)
    closed = plan(
        KeypadAction.CALL_NEXT, WindowView(3, state="closed"), open_on_call=False, pause_reason="x"
    )
    assert closed.calls == (EngineCall("call-next"),)


BUS = {
    "name": "hall",
    "port": "/dev/ttyUSB0",
    "devices": [
        {"kind": "keypad", "address": 1, "window": 1},
        {"kind": "evaluator", "address": 11, "window": 1},
        {"kind": "led", "address": 21, "window": 1},
    ],
}


def test_health_entries_for_the_engine() -> None:
    config = BusConfig.from_dict(BUS)
    from datetime import UTC, datetime

    seen = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    entries = bus_entries(
        config,
        DeviceHealth(HealthState.ONLINE, "", seen),
        {
            "hall/keypad@1": DeviceHealth(HealthState.ONLINE, "", seen),
            "hall/evaluator@11": DeviceHealth(HealthState.OFFLINE, "no answer after 3 tries", seen),
            "hall/led@21": DeviceHealth(HealthState.ERROR, "port unavailable: gone", None),
        },
    )
    assert entries == [
        {"key": "bus:hall", "kind": "bus", "window": None, "status": "online", "reason": None,
         "last_seen": seen.isoformat()},
        {"key": "keypad:1", "kind": "keypad", "window": 1, "status": "online", "reason": None,
         "last_seen": seen.isoformat()},
        {"key": "evaluator:1", "kind": "evaluator", "window": 1, "status": "offline",
         "reason": "no answer after 3 tries", "last_seen": seen.isoformat()},
        {"key": "led:1", "kind": "led", "window": 1, "status": "error",
         "reason": "port unavailable: gone", "last_seen": None},
    ]  # fmt: skip


def test_config_reads_buses_inline_or_from_a_drivers_file(tmp_path: Path) -> None:
    inline = GatewayConfig.from_dict({"hall": "demo", "evaluation_timeout": 20, "buses": [BUS]})
    assert inline.hall == "demo" and inline.evaluation_timeout == 20 and inline.windows == [1]
    assert inline.pause_reason and inline.idle_text == "热情为您服务"

    (tmp_path / "devices.toml").write_text(
        '[[buses]]\nname = "hall"\nport = "/tmp/x"\n'
        '[[buses.devices]]\nkind = "led"\naddress = 22\nwindow = 2\n'
        '[[printers]]\nname = "kiosk-1"\nconnection = "serial"\nport = "/tmp/p"\n',
        encoding="utf-8",
    )
    (tmp_path / "gateway.toml").write_text('drivers = "devices.toml"\n', encoding="utf-8")
    shared = GatewayConfig.load(tmp_path / "gateway.toml")
    assert shared.windows == [2] and shared.hall is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no [[buses]]"),
        ({"buses": [BUS], "colour": "red"}, "unknown settings"),
        ({"buses": [BUS], "evaluation_timeout": "30"}, "wrong type"),
        ({"buses": [BUS], "invite_rating": 1}, "wrong type"),
        ({"buses": [BUS], "evaluation_timeout": 0}, "evaluation_timeout"),
        ({"buses": [BUS], "idle_text": "很" * 200}, "idle_text"),
        ({"buses": [BUS], "drivers": "x.toml"}, "not both"),
        ({"buses": [{k: v for k, v in BUS.items() if k != "port"}]}, "'port' is required"),
        (
            {"buses": [BUS, {**BUS, "name": "second", "port": "/dev/ttyUSB1"}]},
            "window 1 has a keypad on bus hall and on bus second",
        ),
    ],
)
def test_bad_configs_are_refused_with_a_reason(data: dict[str, Any], message: str) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        GatewayConfig.from_dict(data)
    assert message in str(caught.value)
