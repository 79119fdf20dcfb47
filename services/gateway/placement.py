"""Which window each keypad and evaluation pad serves. Pure.

The gateway's file says it first (``window = 3`` under the device). A hall's manager
may move a keypad or a pad to another window on the engine's devices page
(``/manage/{hall}/devices``); the engine keeps that as an assignment of this gateway's
``keypad:3`` (the key its health report gives the device) and announces each change
with a ``device.assigned`` event. The gateway reads its assignments when it starts
and after every snapshot of the hall bus, and follows the events in between. With no
assignment (or an engine that has none to give) the file holds. LED boards hang above
their window and are never moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.config import DeviceKind

MOVABLE = (DeviceKind.KEYPAD, DeviceKind.EVALUATOR)


def parse_key(key: object) -> tuple[DeviceKind, int] | None:
    """``"keypad:3"`` -> (KEYPAD, 3); None for anything that is not a movable device."""
    if not isinstance(key, str):
        return None
    kind, sep, number = key.partition(":")
    if not sep or not number.isascii() or not number.isdigit():
        return None
    found = next((k for k in MOVABLE if k.value == kind), None)
    return (found, int(number)) if found is not None else None


@dataclass
class Placement:
    # (kind, the window the file gives it) -> the window it serves instead.
    moved: dict[tuple[DeviceKind, int], int] = field(default_factory=dict)

    def window(self, kind: DeviceKind, file_window: int) -> int:
        """The window a device the file puts at ``file_window`` serves now."""
        return self.moved.get((kind, file_window), file_window)

    def replace(self, assignments: Iterable[Mapping[str, Any]]) -> set[int]:
        """Take the engine's whole list (``GET .../devices/assignments``); the windows
        whose devices changed (to be shown again)."""
        moved: dict[tuple[DeviceKind, int], int] = {}
        for a in assignments:
            place, window = parse_key(a.get("key")), a.get("window")
            if place is not None and isinstance(window, int) and window != place[1]:
                moved[place] = window
        return self._become(moved)

    def assigned(self, data: Mapping[str, Any]) -> set[int]:
        """A ``device.assigned`` event of this gateway; the windows whose devices changed."""
        place, window = parse_key(data.get("key")), data.get("window")
        if place is None or not isinstance(window, int):
            return set()
        moved = dict(self.moved)
        if window == place[1]:
            moved.pop(place, None)
        else:
            moved[place] = window
        return self._become(moved)

    def _become(self, moved: dict[tuple[DeviceKind, int], int]) -> set[int]:
        touched: set[int] = set()
        for place in set(moved) | set(self.moved):
            before, after = self.window(*place), moved.get(place, place[1])
            if before != after:
                touched |= {before, after}
        self.moved = moved
        return touched
