"""Device health rules: what counts as a change, and when a silent reporter is offline. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.engine.core.errors import ValidationFailed


class HealthStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # not answering: unplugged, powered off, or its reporter is silent
    ERROR = "error"  # answering wrongly, port gone, paper out...


class HardwareKind(StrEnum):
    LED = "led"  # 窗口屏
    KEYPAD = "keypad"  # 呼叫器
    EVALUATOR = "evaluator"  # 评价器
    PRINTER = "printer"  # 取号机打印机
    BUS = "bus"  # an RS-485 line (its USB adapter)


# A report is a reporter's whole list; more than this is a mistake, not a hall.
MAX_DEVICES_PER_REPORT = 500


@dataclass(frozen=True)
class DeviceState:
    """One device as reported (or as stored from the last report)."""

    key: str
    kind: str
    window: int | None
    status: str
    reason: str | None
    last_seen: datetime | None = None

    def differs(self, other: DeviceState) -> bool:
        """A change worth an event: status, reason, kind or window (not last_seen alone)."""
        return (self.kind, self.window, self.status, self.reason or None) != (
            other.kind,
            other.window,
            other.status,
            other.reason or None,
        )


@dataclass(frozen=True)
class Diff:
    added: list[DeviceState]
    changed: list[DeviceState]
    removed: list[DeviceState]
    unchanged: list[DeviceState]

    @property
    def events(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


def check_report(devices: Iterable[DeviceState]) -> list[DeviceState]:
    """Refuse a report that names one key twice or lists far too many devices."""
    listed = list(devices)
    if len(listed) > MAX_DEVICES_PER_REPORT:
        raise ValidationFailed(f"a report lists at most {MAX_DEVICES_PER_REPORT} devices")
    seen: set[str] = set()
    for device in listed:
        if device.key in seen:
            raise ValidationFailed(f"device {device.key!r} is listed twice")
        seen.add(device.key)
    return listed


def diff(stored: Mapping[str, DeviceState], reported: Iterable[DeviceState]) -> Diff:
    """Compare a reporter's new complete list with what it reported before.

    A report is the reporter's whole list: a device it no longer lists was removed
    from its configuration.
    """
    added: list[DeviceState] = []
    changed: list[DeviceState] = []
    unchanged: list[DeviceState] = []
    keys: set[str] = set()
    for device in reported:
        keys.add(device.key)
        before = stored.get(device.key)
        if before is None:
            added.append(device)
        elif device.differs(before):
            changed.append(device)
        else:
            unchanged.append(device)
    removed = [d for k, d in stored.items() if k not in keys]
    return Diff(added, changed, removed, unchanged)


def reporter_silent(last_contact: datetime | None, now: datetime, silent_after: float) -> bool:
    """A reporter never heard from, or not for ``silent_after`` seconds, counts as offline."""
    return last_contact is None or now - last_contact > timedelta(seconds=silent_after)


def silence_reason(last_contact: datetime | None, silent_after: float) -> str:
    if last_contact is None:
        return "never reported"
    return f"no report for more than {silent_after:g} s"


# -- device administration (设备管理) ---------------------------------------------------

# What a manager may move to another window: the desk devices. An LED board hangs above
# its window and a bus is a cable: they stay where the gateway's file puts them.
ASSIGNABLE_KINDS = (HardwareKind.KEYPAD.value, HardwareKind.EVALUATOR.value)


def assignable(key: str) -> tuple[str, int] | None:
    """``keypad:3`` -> ("keypad", 3): a desk device and the window the gateway's file
    gives it; None for anything else (a board, a bus, a printer)."""
    kind, sep, number = key.partition(":")
    if not sep or kind not in ASSIGNABLE_KINDS or not number.isascii() or not number.isdigit():
        return None
    window = int(number)
    return (kind, window) if window >= 1 else None
