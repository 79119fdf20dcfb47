"""KeypadBus against simulated devices on real pseudo-terminals (no mocks of pyserial)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.clock import FakeClock
from drivers.config import BusConfig
from drivers.devices import HealthChanged, KeypadBus, KeypadPressed, RatingPressed
from drivers.errors import DeviceUnavailable
from drivers.health import HealthState
from drivers.protocols.keypad import KeypadAction
from drivers.protocols.rating import Satisfaction
from drivers.simulators.bus import SimulatedBus
from tests.helpers.waiting import next_event, until


def hall_config(port: str, **polling: float) -> BusConfig:
    return BusConfig.from_dict(
        {
            "name": "hall",
            "port": port,
            "response_timeout": 0.2,
            "retries": 2,
            "poll_interval": 0.02,
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            **polling,
            "devices": [
                {"kind": "keypad", "address": 1, "window": 3},
                {"kind": "keypad", "address": 2, "window": 4, "protocol": "jh"},
                {"kind": "evaluator", "address": 5, "window": 3},
                {"kind": "evaluator", "address": 6, "window": 4, "protocol": "jh"},
                {"kind": "evaluator", "address": 7, "window": 5, "keys": 4},
                {"kind": "led", "address": 21, "window": 3},
            ],
        }
    )


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[tuple[SimulatedBus, KeypadBus]]:
    link = str(tmp_path / "ttyBUS0")
    config = hall_config(link)
    sim = SimulatedBus.from_config(config, link=link)
    sim.start()
    bus = KeypadBus(config)
    await bus.start()
    try:
        await until(lambda: all(h.online for h in bus.health().values()))
        yield sim, bus
    finally:
        await bus.stop()
        sim.stop()


async def test_keypad_press_reaches_the_async_api_for_the_mapped_window(
    hall: tuple[SimulatedBus, KeypadBus],
) -> None:
    sim, bus = hall
    events = bus.events()
    sim.keypad(3).press_action(KeypadAction.CALL_NEXT)
    event = await next_event(events, lambda e: isinstance(e, KeypadPressed))
    assert isinstance(event, KeypadPressed)
    assert (event.window, event.action) == (3, KeypadAction.CALL_NEXT)
    assert event.device == "hall/keypad@1" and event.at is not None
    # the two-step digit + confirm sequence, on the jh keypad of window 4
    sim.keypad(4).press_action(KeypadAction.NO_SHOW)
    event = await next_event(events, lambda e: isinstance(e, KeypadPressed))
    assert event == KeypadPressed(4, KeypadAction.NO_SHOW, "hall/keypad@2", event.at)  # type: ignore[union-attr]
    assert sim.keypad(4).wait_for(lambda: sim.keypad(4).idle)


async def test_every_action_arrives_once_and_in_order(
    hall: tuple[SimulatedBus, KeypadBus],
) -> None:
    sim, bus = hall
    events = bus.events()
    for action in KeypadAction:
        sim.keypad(3).press_action(action)
    got = []
    while len(got) < len(KeypadAction):
        event = await next_event(events, lambda e: isinstance(e, KeypadPressed))
        assert isinstance(event, KeypadPressed)
        got.append(event.action)
    assert got == list(KeypadAction)
    assert bus.counters.duplicate_events == 0


async def test_ratings_from_five_key_four_key_and_jh_pads(
    hall: tuple[SimulatedBus, KeypadBus],
) -> None:
    sim, bus = hall
    events = bus.events()
    sim.evaluator(3).rate(5)
    sim.evaluator(4).rate(1)
    sim.evaluator(5).rate(2)  # legacy 4-key pad: its 4th key (不满意)
    got = set()
    while len(got) < 3:
        event = await next_event(events, lambda e: isinstance(e, RatingPressed))
        assert isinstance(event, RatingPressed)
        got.add((event.window, event.level))
    assert got == {
        (3, Satisfaction.VERY_SATISFIED),
        (4, Satisfaction.VERY_DISSATISFIED),
        (5, Satisfaction.DISSATISFIED),
    }


async def test_bad_rating_key_is_counted_not_published(
    hall: tuple[SimulatedBus, KeypadBus],
) -> None:
    sim, bus = hall
    events = bus.events()
    sim.evaluator(5).press_key(5)  # a 4-key pad has no key 5
    sim.evaluator(5).rate(4)
    event = await next_event(events, lambda e: isinstance(e, RatingPressed))
    assert isinstance(event, RatingPressed) and event.level == Satisfaction.SATISFIED
    assert bus.counters.bad_values == 1


async def test_led_board_shows_the_number_idle_and_paused_text(
    hall: tuple[SimulatedBus, KeypadBus],
) -> None:
    sim, bus = hall
    board = bus.led_board(3)
    await board.show_ticket("A023")
    led = sim.led_board(3)
    assert led.content.mode == "ticket" and led.content.number == "A023"
    assert led.content.text == "请A023号到3号窗口"
    await board.show_paused()
    assert (led.content.mode, led.content.text) == ("paused", "暂停服务")
    await board.show_idle()
    assert (led.content.mode, led.content.text) == ("idle", "热情为您服务")
    await board.show_waiting(17)
    assert led.waiting == 17


async def test_keypad_display_beep_and_invite(hall: tuple[SimulatedBus, KeypadBus]) -> None:
    sim, bus = hall
    await bus.keypad(3).show("A023", waiting=12)
    assert (sim.keypad(3).left, sim.keypad(3).right) == ("12", "023")
    await bus.keypad(4).show("B105", waiting=3)
    assert (sim.keypad(4).left, sim.keypad(4).right) == ("3", "B105")
    await bus.keypad(3).beep()
    assert sim.keypad(3).beeps == 1
    await bus.evaluation_pad(3).invite()
    await bus.evaluation_pad(4).invite()
    assert sim.evaluator(3).invitations == 1 and sim.evaluator(4).invitations == 1


async def test_unplugged_device_goes_offline_and_comes_back_online(tmp_path: Path) -> None:
    # An injected clock decides timeouts and backoff: the test moves time, never sleeps.
    link = str(tmp_path / "ttyBUS1")
    config = hall_config(link, backoff_initial=30.0, backoff_max=60.0)
    clock = FakeClock()

    def tick() -> None:
        clock.advance(0.05)

    with SimulatedBus.from_config(config, link=link) as sim:
        bus = KeypadBus(config, clock=clock)
        events = bus.events()
        await bus.start()
        try:
            await until(lambda: all(h.online for h in bus.health().values()))
            keypad_id, led_id = "hall/keypad@1", "hall/led@21"
            seen_before = bus.health()[keypad_id].last_seen
            assert seen_before is not None
            await bus.led_board(3).show_ticket("A001")

            sim.keypad(3).unplug()
            sim.led_board(3).unplug()
            await until(lambda: bus.health()[keypad_id].state is HealthState.OFFLINE, step=tick)
            health = bus.health()[keypad_id]
            assert health.reason == "no answer after 2 tries"
            assert health.last_seen == seen_before  # last_seen keeps the last answer
            offline = await next_event(
                events,
                lambda e: (
                    isinstance(e, HealthChanged)
                    and e.device == keypad_id
                    and e.health.state is HealthState.OFFLINE
                ),
            )
            assert isinstance(offline, HealthChanged) and offline.window == 3
            assert bus.health()["hall/keypad@2"].online  # the rest of the bus carries on

            # The board misses "A002" while unplugged; it must show it once it is back.
            task = asyncio.create_task(bus.led_board(3).show_ticket("A002"))
            await until(task.done, step=tick)
            with pytest.raises(DeviceUnavailable):
                task.result()
            assert bus.health()[led_id].state is HealthState.OFFLINE

            polls = sim.keypad(3).polls
            sim.keypad(3).plug()
            sim.led_board(3).plug()
            # backoff is 30 s on the fake clock: others are polled, the unplugged one is not
            others, started = sim.keypad(4).polls, clock.monotonic()
            await until(lambda: sim.keypad(4).polls > others + 5, step=tick)
            assert clock.monotonic() - started < 25.0
            assert sim.keypad(3).polls == polls
            clock.advance(31.0)
            await until(lambda: bus.health()[keypad_id].online)
            online = await next_event(
                events,
                lambda e: (
                    isinstance(e, HealthChanged)
                    and e.device == keypad_id
                    and e.health.state is HealthState.ONLINE
                ),
            )
            assert isinstance(online, HealthChanged)
            assert online.health.last_seen is not None and online.health.last_seen > seen_before
            await until(lambda: bus.health()[led_id].online, step=lambda: clock.advance(1.0))
            board = sim.led_board(3)
            assert board.wait_for(lambda: board.content.number == "A002")
        finally:
            await bus.stop()
