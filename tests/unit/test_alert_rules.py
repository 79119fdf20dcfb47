"""The dashboard's alert rules (alerts/rules.py): which conditions alert, and what an
evaluation opens, clears and supersedes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.engine.alerts.rules import (
    AlertKind,
    DeviceReading,
    OpenAlert,
    QueueReading,
    Recommendation,
    Severity,
    WindowReading,
    conditions,
    long_case,
    minutes_between,
    over_target,
    plan,
)

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def found(**kw: object) -> list:  # type: ignore[type-arg]
    args: dict[str, object] = {
        "queues": [],
        "windows": [],
        "devices": [],
        "recommendations": [],
        "pause_limit_minutes": 15,
    }
    args.update(kw)
    return conditions(**args)  # type: ignore[arg-type]


def test_a_queue_alerts_only_past_its_target_and_is_critical_at_twice_it() -> None:
    within = QueueReading("a", "企业开办", 3, 20.0, 20)
    past = QueueReading("b", "不动产登记", 3, 25.0, 20)
    far = QueueReading("c", "社保", 1, 41.0, 20)
    empty = QueueReading("d", "公积金", 0, None, 20)
    assert over_target(within) is None and over_target(past) == 5.0
    got = {c.key: c for c in found(queues=[within, past, far, empty])}
    assert set(got) == {"queue:b", "queue:c"}
    assert got["queue:b"].severity is Severity.WARNING
    assert got["queue:c"].severity is Severity.CRITICAL
    assert got["queue:b"].data["oldest_wait_minutes"] == 25.0


def test_a_pause_alerts_past_the_hall_limit_only() -> None:
    windows = [
        WindowReading(1, "paused", 15.0, "午休"),
        WindowReading(2, "paused", 15.1, "临时离岗"),
        WindowReading(3, "idle", 90.0, None),
    ]
    (c,) = found(windows=windows)
    assert (c.key, c.kind, c.data["reason"]) == (
        "pause:2",
        AlertKind.WINDOW_PAUSED_LONG,
        "临时离岗",
    )


def test_devices_offline_or_in_error_alert() -> None:
    devices = [
        DeviceReading("1:printer", "kiosk-1 / printer", "printer", None, "error", "paper out"),
        DeviceReading("2:led:3", "gw / led:3", "led", 3, "offline", None),
        DeviceReading("2:keypad:3", "gw / keypad:3", "keypad", 3, "online", None),
    ]
    got = {c.key: c for c in found(devices=devices)}
    assert set(got) == {"device:1:printer", "device:2:led:3"}
    assert got["device:1:printer"].kind is AlertKind.DEVICE_ERROR
    assert got["device:1:printer"].severity is Severity.CRITICAL  # no tickets without paper
    assert got["device:2:led:3"].kind is AlertKind.DEVICE_OFFLINE


def test_an_open_alert_stays_one_alert_and_clears_when_its_condition_ends() -> None:
    queue = QueueReading("b", "不动产登记", 3, 25.0, 20)
    first = plan(found(queues=[queue]), [], [])
    assert [c.key for c in first.open] == ["queue:b"] and first.clear == []
    still = plan(found(queues=[queue]), [OpenAlert(7, "queue:b", "queue_over_target", {})], [])
    assert still.open == [] and still.clear == []
    ended = plan(found(), [OpenAlert(7, "queue:b", "queue_over_target", {})], [])
    assert ended.clear == [7]


def recommendation(change_id: int, action: str = "open") -> Recommendation:
    return Recommendation(change_id, "estate", "不动产登记", action, (9, 10), "15 waiting")


def test_a_tidal_recommendation_alerts_once_and_a_newer_one_supersedes_it() -> None:
    first = plan(found(recommendations=[recommendation(3)]), [], [])
    assert [c.key for c in first.open] == ["tidal:3"]
    assert first.open[0].data["windows"] == [9, 10]
    # Resolved (no longer open) but seen: not again; and never cleared by its condition.
    assert plan(found(recommendations=[recommendation(3)]), [], ["tidal:3"]).open == []
    open_tidal = OpenAlert(11, "tidal:3", "tidal", {"change_id": 3, "service": "estate"})
    assert plan(found(), [open_tidal], ["tidal:3"]).clear == []
    newer = plan(
        found(recommendations=[recommendation(3), recommendation(4, "close")]),
        [open_tidal],
        ["tidal:3"],
    )
    assert [c.key for c in newer.open] == ["tidal:4"] and newer.supersede == [11]


def test_a_bad_review_alerts_once() -> None:
    reviews = [{"key": "41", "number": "A023", "window": 3}]
    (c,) = plan(found(bad_reviews=reviews), [], []).open
    assert c.kind is AlertKind.BAD_REVIEW and c.data == {"number": "A023", "window": 3}
    assert plan(found(bad_reviews=reviews), [], ["review:41"]).open == []


def test_a_long_case_is_a_multiple_of_its_mean() -> None:
    assert not long_case(None, 8.0, 2.0)
    assert not long_case(16.0, 8.0, 2.0)
    assert long_case(16.1, 8.0, 2.0)
    assert minutes_between(NOW - timedelta(minutes=3), NOW) == 3.0
    assert minutes_between(None, NOW) is None
