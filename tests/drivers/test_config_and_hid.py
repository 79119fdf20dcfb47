"""Configuration from dicts (TOML) and the optional USB HID pads."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from drivers.config import (
    BusConfig,
    Connection,
    DeviceKind,
    DriversConfig,
    PrinterConfig,
    ProtocolName,
    load_toml,
)
from drivers.devices import HidEvaluationPad, RatingPressed
from drivers.devices.hid_pad import list_hid_devices, load_hid
from drivers.errors import ConfigError, HidUnavailable
from drivers.health import HealthState
from drivers.protocols.rating import HidRatingDecoder, Satisfaction
from tests.helpers.waiting import next_event, until

EXAMPLE = Path(__file__).resolve().parents[2] / "drivers" / "simulators" / "example.toml"


def test_example_config_loads() -> None:
    cfg = load_toml(str(EXAMPLE))
    bus = cfg.buses[0]
    assert bus.device(DeviceKind.LED, 1).protocol is ProtocolName.JH
    assert {d.kind for d in bus.devices} == set(DeviceKind)
    assert cfg.printers and cfg.printers[0].layout.qr


def test_bus_config_defaults_and_mapping() -> None:
    bus = BusConfig.from_dict(
        {
            "name": "h",
            "port": "/dev/ttyUSB0",
            "rs485": True,
            "devices": [
                {"kind": "keypad", "address": 3, "window": 12},
                {"kind": "led", "address": 3, "window": 12},
                {"kind": "evaluator", "address": 4, "window": 12, "keys": 4},
            ],
        }
    )
    assert bus.serial.rs485 and bus.serial.baudrate == 9600
    assert bus.device(DeviceKind.KEYPAD, 12).protocol is ProtocolName.FF68
    assert (
        bus.device(DeviceKind.LED, 12).protocol is ProtocolName.JH
    )  # same address, other protocol
    assert bus.device(DeviceKind.EVALUATOR, 12).keys == 4
    with pytest.raises(KeyError):
        bus.device(DeviceKind.KEYPAD, 1)


@pytest.mark.parametrize(
    "bad",
    [
        {"port": "x", "devices": [{"kind": "keypad", "address": 0, "window": 1}]},
        {"port": "x", "devices": [{"kind": "keypad", "address": 248, "window": 1}]},
        {
            "port": "x",
            "devices": [
                {"kind": "keypad", "address": 1, "window": 1},
                {"kind": "evaluator", "address": 1, "window": 2},
            ],
        },
        {
            "port": "x",
            "devices": [
                {"kind": "keypad", "address": 1, "window": 1},
                {"kind": "keypad", "address": 2, "window": 1},
            ],
        },
        {"port": "x", "devices": [{"kind": "led", "address": 1, "window": 1, "protocol": "ff68"}]},
        {"port": "x", "devices": [{"kind": "evaluator", "address": 1, "window": 1, "keys": 3}]},
        {"port": "x", "devices": [{"kind": "lamp", "address": 1, "window": 1}]},
        {"port": "x", "devices": [{"kind": "keypad", "address": 1, "window": 1, "colour": 1}]},
        {"port": "x", "baud": 9600},
        {"devices": []},
        {"port": "x", "retries": 0},
    ],
)
def test_bad_bus_configs_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        BusConfig.from_dict(bad)


def test_printer_config() -> None:
    p = PrinterConfig.from_dict(
        {"name": "k", "connection": "tcp", "host": "10.0.0.5", "layout": {"notes": ["a", "b"]}}
    )
    assert p.connection is Connection.TCP and p.tcp_port == 9100
    assert p.layout.notes == ("a", "b")
    for bad in (
        {"connection": "serial"},
        {"connection": "tcp"},
        {"connection": "bluetooth"},
        {"connection": "usb", "layout": {"font": 1}},
        {"connection": "usb", "speed": 1},
        {"connection": "usb", "retries": 0},
    ):
        with pytest.raises(ConfigError):
            PrinterConfig.from_dict(bad)
    with pytest.raises(ConfigError):
        DriversConfig.from_dict({"buses": [], "screens": []})
    with pytest.raises(ConfigError):
        DriversConfig.from_dict(
            {"buses": [{"name": "a", "port": "x"}], "printers": [{"name": "a"}]}
        )


# --- USB HID pads --------------------------------------------------------------------


class FakeHidDevice:
    """Stands in for a hidapi device object (no HID hardware here)."""

    def __init__(self, reports: list[bytes]) -> None:
        self.reports = list(reports)
        self.closed = threading.Event()
        self.fail_when_empty = False

    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]:
        if self.reports:
            return list(self.reports.pop(0))
        if self.fail_when_empty:
            raise OSError("read error (device unplugged)")
        self.closed.wait(timeout_ms / 1000)
        return []

    def close(self) -> None:
        self.closed.set()


async def test_hid_pad_reports_become_ratings_and_a_read_error_is_survived() -> None:
    press_3 = bytes([0, 0, 0x20, 0, 0, 0, 0, 0])
    release = bytes(8)
    first = FakeHidDevice([press_3, press_3, release])
    first.fail_when_empty = True
    second = FakeHidDevice([bytes([0, 0, 0x1E, 0, 0, 0, 0, 0])])
    devices = [first, second]
    pad = HidEvaluationPad(
        window=2, opener=lambda: devices.pop(0), decoder=HidRatingDecoder(mode="keyboard")
    )
    events = pad.events()
    await pad.start()
    try:
        a = await next_event(events, lambda e: isinstance(e, RatingPressed))
        b = await next_event(events, lambda e: isinstance(e, RatingPressed))
        assert isinstance(a, RatingPressed) and isinstance(b, RatingPressed)
        assert (a.window, a.level) == (2, Satisfaction.BASICALLY_SATISFIED)
        assert b.level is Satisfaction.VERY_SATISFIED  # after reopening (the held 3 counted once)
        await until(lambda: pad.health.state is HealthState.ONLINE)
    finally:
        await pad.stop()


def test_hid_without_hidapi_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hid", None)  # import hid -> ImportError
    with pytest.raises(HidUnavailable, match=r"jiaohao\[hid\]"):
        load_hid()
    with pytest.raises(HidUnavailable):
        HidEvaluationPad(window=1, vendor_id=1, product_id=2)


def test_hidapi_enumerates_when_installed() -> None:
    pytest.importorskip("hid", reason="optional hidapi not installed (pip install 'jiaohao[hid]')")
    devices = list_hid_devices()
    assert isinstance(devices, list)
    assert all("path" in d for d in devices)
