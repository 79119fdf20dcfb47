"""Alert rules of the manager's dashboard (告警规则). Pure.

From one reading of the hall, the conditions that need a manager's eye; and, against
the alerts already open, which to open and which have cleared. A condition keeps one
alert while it lasts (its ``key``); an alert a manager acknowledged stays open (marked
acknowledged) until the condition ends. Tidal recommendations and bad reviews are
*events*, not states: each gets one alert, which a manager resolves (accept, dismiss,
acknowledge) or a newer recommendation for the service supersedes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    QUEUE_OVER_TARGET = "queue_over_target"  # 等候超时
    WINDOW_PAUSED_LONG = "window_paused_long"  # 暂停过久
    DEVICE_OFFLINE = "device_offline"  # 设备离线
    DEVICE_ERROR = "device_error"  # 设备故障 (缺纸...)
    TIDAL = "tidal"  # 潮汐窗口建议
    BAD_REVIEW = "bad_review"  # 差评


# Kinds that are one-off happenings: never cleared by their condition going away.
EVENT_KINDS = frozenset({AlertKind.TIDAL, AlertKind.BAD_REVIEW})


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class QueueReading:
    service: str
    name: str
    waiting: int
    oldest_wait_minutes: float | None  # the longest a waiting ticket has waited
    target_minutes: int


@dataclass(frozen=True)
class WindowReading:
    number: int
    state: str
    minutes_in_state: float
    pause_reason: str | None


@dataclass(frozen=True)
class DeviceReading:
    key: str  # unique in the hall: reporter id and device key
    name: str  # what the manager reads: "kiosk-1 / printer"
    kind: str
    window: int | None
    status: str  # online, offline, error
    reason: str | None


@dataclass(frozen=True)
class Recommendation:
    """A tidal recommendation the engine made (recommend mode)."""

    change_id: int
    service: str
    service_name: str
    action: str  # open, close
    windows: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class Condition:
    key: str
    kind: AlertKind
    severity: Severity
    data: dict[str, Any] = field(default_factory=dict)


def over_target(queue: QueueReading) -> float | None:
    """How far the oldest waiting ticket is past its target (minutes), or None."""
    if queue.oldest_wait_minutes is None or queue.oldest_wait_minutes <= queue.target_minutes:
        return None
    return queue.oldest_wait_minutes - queue.target_minutes


def conditions(
    *,
    queues: Iterable[QueueReading],
    windows: Iterable[WindowReading],
    devices: Iterable[DeviceReading],
    recommendations: Iterable[Recommendation],
    bad_reviews: Iterable[Mapping[str, Any]] = (),
    pause_limit_minutes: float,
) -> list[Condition]:
    """Every condition of the hall now that is worth an alert."""
    found: list[Condition] = []
    for q in queues:
        over = over_target(q)
        if over is not None:
            # Twice the target: critical.
            severity = (
                Severity.CRITICAL
                if q.oldest_wait_minutes is not None
                and q.oldest_wait_minutes >= 2 * max(q.target_minutes, 1)
                else Severity.WARNING
            )
            found.append(
                Condition(
                    f"queue:{q.service}",
                    AlertKind.QUEUE_OVER_TARGET,
                    severity,
                    {
                        "service": q.service,
                        "service_name": q.name,
                        "waiting": q.waiting,
                        "oldest_wait_minutes": round(q.oldest_wait_minutes or 0, 1),
                        "target_minutes": q.target_minutes,
                    },
                )
            )
    for w in windows:
        if w.state == "paused" and w.minutes_in_state > pause_limit_minutes:
            found.append(
                Condition(
                    f"pause:{w.number}",
                    AlertKind.WINDOW_PAUSED_LONG,
                    Severity.WARNING,
                    {
                        "window": w.number,
                        "reason": w.pause_reason,
                        "limit_minutes": pause_limit_minutes,
                    },
                )
            )
    for d in devices:
        if d.status in ("offline", "error"):
            kind = AlertKind.DEVICE_OFFLINE if d.status == "offline" else AlertKind.DEVICE_ERROR
            found.append(
                Condition(
                    f"device:{d.key}",
                    kind,
                    Severity.CRITICAL if d.kind in ("printer", "kiosk") else Severity.WARNING,
                    {"device": d.name, "kind": d.kind, "window": d.window, "reason": d.reason},
                )
            )
    for r in recommendations:
        found.append(
            Condition(
                f"tidal:{r.change_id}",
                AlertKind.TIDAL,
                Severity.WARNING,
                {
                    "change_id": r.change_id,
                    "service": r.service,
                    "service_name": r.service_name,
                    "action": r.action,
                    "windows": list(r.windows),
                    "reason": r.reason,
                },
            )
        )
    for review in bad_reviews:
        found.append(
            Condition(
                f"review:{review['key']}",
                AlertKind.BAD_REVIEW,
                Severity.CRITICAL,
                {k: v for k, v in review.items() if k != "key"},
            )
        )
    return found


@dataclass(frozen=True)
class OpenAlert:
    id: int
    key: str
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Plan:
    open: list[Condition]
    clear: list[int]  # alert ids whose condition ended
    supersede: list[int]  # tidal alerts a newer recommendation for the service replaced


def plan(
    found: Sequence[Condition], open_alerts: Sequence[OpenAlert], ever_seen: Iterable[str]
) -> Plan:
    """What to change: open an alert per new condition, clear those that ended.

    ``ever_seen``: keys of event kinds that had an alert at any time (resolved ones
    too), so that a recommendation or a review is alerted once.
    """
    by_key = {a.key: a for a in open_alerts}
    seen = set(ever_seen)
    to_open: list[Condition] = []
    for c in found:
        # An open alert keeps the figures of its opening (the dashboard shows live ones).
        if c.key in by_key or (c.kind in EVENT_KINDS and c.key in seen):
            continue
        to_open.append(c)
    keys = {c.key for c in found}
    clear = [a.id for a in open_alerts if a.kind not in EVENT_KINDS and a.key not in keys]
    # A newer tidal recommendation for a service replaces the older ones still open.
    newest: dict[str, int] = {}
    for c in found:
        if c.kind is AlertKind.TIDAL:
            service = str(c.data["service"])
            newest[service] = max(newest.get(service, 0), int(c.data["change_id"]))
    supersede = [
        a.id
        for a in open_alerts
        if a.kind == AlertKind.TIDAL
        and int(a.data.get("change_id", 0)) < newest.get(str(a.data.get("service")), 0)
    ]
    return Plan(to_open, clear, supersede)


def long_case(minutes_in_hand: float | None, mean_minutes: float, factor: float) -> bool:
    """A case taking longer than ``factor`` times its service's mean handle time."""
    return minutes_in_hand is not None and minutes_in_hand > factor * max(mean_minutes, 0.1)


def minutes_between(start: datetime | None, now: datetime) -> float | None:
    if start is None:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=now.tzinfo)
    return max((now - start).total_seconds() / 60.0, 0.0)
