"""Which window a keypad or pad serves: the file's, or the devices page's (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.config import BusConfig, DeviceKind
from drivers.health import DeviceHealth, HealthState
from services.gateway.health import bus_entries
from services.gateway.placement import Placement, parse_key

KEYPAD, PAD = DeviceKind.KEYPAD, DeviceKind.EVALUATOR


def test_keys_of_movable_devices() -> None:
    assert parse_key("keypad:3") == (KEYPAD, 3)
    assert parse_key("evaluator:12") == (PAD, 12)
    for other in ("led:3", "bus:hall", "keypad:", "keypad:x", "keypad:３", "printer", 3, None):
        assert parse_key(other) is None


def test_the_engine_list_then_events() -> None:
    placement = Placement()
    assert placement.window(KEYPAD, 1) == 1
    touched = placement.replace(
        [
            {"key": "keypad:1", "window": 3},
            {"key": "evaluator:1", "window": 1},  # the file's own window: nothing moved
            {"key": "led:2", "window": 4},  # boards are never moved
            {"key": "keypad:2", "window": "4"},  # not a number: ignored
        ]
    )
    assert touched == {1, 3}
    assert placement.window(KEYPAD, 1) == 3 and placement.window(PAD, 1) == 1
    assert placement.window(KEYPAD, 2) == 2
    # The same list again changes nothing.
    assert placement.replace([{"key": "keypad:1", "window": 3}]) == set()
    # An event moves it on; another moves it back to the file's window.
    assert placement.assigned({"key": "keypad:1", "window": 4}) == {3, 4}
    assert placement.window(KEYPAD, 1) == 4
    assert placement.assigned({"key": "keypad:1", "window": 1}) == {4, 1}
    assert placement.moved == {}
    assert placement.assigned({"key": "led:1", "window": 2}) == set()
    # An empty list from the engine: the file holds again.
    placement.assigned({"key": "evaluator:2", "window": 3})
    assert placement.replace([]) == {2, 3} and placement.moved == {}


def test_health_keeps_the_key_and_reports_the_window_served() -> None:
    config = BusConfig.from_dict(
        {
            "name": "hall",
            "port": "/dev/ttyUSB0",
            "devices": [
                {"kind": "keypad", "address": 1, "window": 1},
                {"kind": "led", "address": 21, "window": 1},
            ],
        }
    )
    seen = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    online = DeviceHealth(HealthState.ONLINE, "", seen)
    placement = Placement()
    placement.assigned({"key": "keypad:1", "window": 3})
    entries = bus_entries(
        config, online, {"hall/keypad@1": online, "hall/led@21": online}, placement.window
    )
    assert [(e["key"], e["window"]) for e in entries] == [
        ("bus:hall", None),
        ("keypad:1", 3),
        ("led:1", 1),
    ]
