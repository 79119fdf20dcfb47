"""The bus loop survives garbage, corrupt frames, vanished ports; counters show it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from drivers.config import BusConfig
from drivers.devices import KeypadBus, KeypadPressed
from drivers.health import HealthState
from drivers.protocols import ff68
from drivers.protocols.ff68 import Ff68Frame
from drivers.protocols.keypad import KeypadAction
from drivers.protocols.stream import FrameStream
from drivers.simulators.bus import SimulatedBus
from drivers.transport import FakeTransport, null_modem_pair
from tests.helpers.waiting import next_event, until

from .test_bus_pty import hall_config


def one_keypad(port: str = "fake", **polling: float) -> BusConfig:
    return BusConfig.from_dict(
        {
            "name": "b",
            "port": port,
            "response_timeout": 0.2,
            "retries": 2,
            "poll_interval": 0.01,
            "backoff_initial": 0.05,
            "backoff_max": 0.1,
            **polling,
            "devices": [{"kind": "keypad", "address": 1, "window": 7}],
        }
    )


class Responder:
    """A device on the far end of a null modem, answering polls through ``answer``."""

    def __init__(self, end: FakeTransport, answer: Callable[[Ff68Frame], bytes]) -> None:
        self.end = end
        self.answer = answer
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        self.end.open()
        stream = FrameStream(ff68.scan_from_host)
        while not self.stop.is_set():
            for frame in stream.feed(self.end.read(256, 0.02)):
                if frame.func == ff68.FUNC_POLL:
                    reply = self.answer(frame)
                    if reply:
                        self.end.write(reply)

    def __enter__(self) -> Responder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


async def test_garbage_and_corrupt_frames_are_skipped_counted_and_survived() -> None:
    host, device = null_modem_pair()
    key = ff68.key_event(1, 0, 0x0C)
    corrupt = bytearray(key)
    corrupt[-2] ^= 0x5A
    sent = []

    def answer(frame: Ff68Frame) -> bytes:
        if not sent:
            sent.append(1)
            # noise, a corrupt copy, a wrong-length header, then the real frame in two bits
            return b"\x00\xffjunk" + bytes(corrupt) + b"\xff\x68\x09\x08\x68" + key
        return ff68.idle_reply(1)

    with Responder(device, answer):
        bus = KeypadBus(one_keypad(), transport=host)
        events = bus.events()
        await bus.start()
        try:
            event = await next_event(events, lambda e: isinstance(e, KeypadPressed))
            assert event == KeypadPressed(7, KeypadAction.CALL_NEXT, "b/keypad@1", event.at)  # type: ignore[union-attr]
            await until(lambda: bus.health()["b/keypad@1"].online)
            c = bus.counters
            assert c.garbage_bytes >= 5
            assert c.bad_checksum >= 1
            assert c.bad_length >= 1
            assert c.frames >= 1
        finally:
            await bus.stop()


async def test_device_that_only_answers_garbage_is_in_error() -> None:
    host, device = null_modem_pair()

    def answer(frame: Ff68Frame) -> bytes:
        reply = bytearray(ff68.idle_reply(1))
        reply[-2] ^= 1
        return bytes(reply)

    with Responder(device, answer):
        bus = KeypadBus(one_keypad(), transport=host)
        await bus.start()
        try:
            await until(lambda: bus.health()["b/keypad@1"].state is HealthState.ERROR)
            assert "garbled" in bus.health()["b/keypad@1"].reason
            assert bus.counters.bad_checksum >= 1
            assert bus.counters.timeouts >= 1
        finally:
            await bus.stop()


async def test_lost_ack_does_not_duplicate_the_action() -> None:
    host, device = null_modem_pair()
    key = ff68.key_event(1, 9, 0x0D)
    answers = [key, key, ff68.key_event(1, 10, 0x0C)]  # the keypad resends seq 9 once

    def answer(frame: Ff68Frame) -> bytes:
        return answers.pop(0) if answers else ff68.idle_reply(1)

    with Responder(device, answer):
        bus = KeypadBus(one_keypad(), transport=host)
        events = bus.events()
        await bus.start()
        try:
            first = await next_event(events, lambda e: isinstance(e, KeypadPressed))
            second = await next_event(events, lambda e: isinstance(e, KeypadPressed))
            assert isinstance(first, KeypadPressed) and isinstance(second, KeypadPressed)
            assert (first.action, second.action) == (KeypadAction.RECALL, KeypadAction.CALL_NEXT)
            assert bus.counters.duplicate_events == 1
        finally:
            await bus.stop()


async def test_vanished_port_is_reopened_when_it_comes_back(tmp_path: Path) -> None:
    link = str(tmp_path / "ttyUSB-by-id")
    config = hall_config(link, reopen_initial=0.02, reopen_max=0.05)
    with SimulatedBus.from_config(config, link=link) as sim:
        bus = KeypadBus(config)
        events = bus.events()
        await bus.start()
        try:
            await until(lambda: all(h.online for h in bus.health().values()))
            assert bus.port_health.online
            sim.unplug_port()
            await until(lambda: all(h.state is HealthState.ERROR for h in bus.health().values()))
            assert "port unavailable" in bus.health()["hall/keypad@1"].reason
            assert bus.port_health.state is HealthState.ERROR
            sim.plug_port()  # a new pty, the link follows it
            await until(lambda: all(h.online for h in bus.health().values()))
            assert bus.counters.port_errors >= 1 and bus.counters.reopens >= 1
            sim.keypad(3).press_action(KeypadAction.PAUSE)
            event = await next_event(events, lambda e: isinstance(e, KeypadPressed))
            assert isinstance(event, KeypadPressed) and event.action is KeypadAction.PAUSE
        finally:
            await bus.stop()


async def test_bus_that_never_opens_reports_error_and_callback_gets_events() -> None:
    got = []
    bus = KeypadBus(one_keypad("/nonexistent/ttyUSB7"), on_event=got.append)
    await bus.start()
    try:
        await until(lambda: bus.health()["b/keypad@1"].state is HealthState.ERROR)
        await until(lambda: bool(got))
        assert "cannot open" in bus.health()["b/keypad@1"].reason
        assert got[0].health.state is HealthState.ERROR  # type: ignore[union-attr]
    finally:
        await bus.stop()
