"""Evaluation pad (评价器) keys mapped to the national five satisfaction levels (好差评)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Satisfaction(enum.IntEnum):
    VERY_SATISFIED = 5  # 非常满意
    SATISFIED = 4  # 满意
    BASICALLY_SATISFIED = 3  # 基本满意
    DISSATISFIED = 2  # 不满意
    VERY_DISSATISFIED = 1  # 非常不满意

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Satisfaction.VERY_SATISFIED: "非常满意",
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
    Satisfaction.VERY_DISSATISFIED: "非常不满意",
}

# Key values as pads send them, left to right on the pad.
FIVE_KEY_LEVELS: dict[int, Satisfaction] = {
    0x01: Satisfaction.VERY_SATISFIED,
    0x02: Satisfaction.SATISFIED,
    0x03: Satisfaction.BASICALLY_SATISFIED,
    0x04: Satisfaction.DISSATISFIED,
    0x05: Satisfaction.VERY_DISSATISFIED,
}
# Legacy 4-key pads: 很满意 / 满意 / 一般 / 不满意. "一般" counts as 基本满意; these pads
# cannot express 非常不满意 (level 1).
FOUR_KEY_LEVELS: dict[int, Satisfaction] = {
    0x01: Satisfaction.VERY_SATISFIED,
    0x02: Satisfaction.SATISFIED,
    0x03: Satisfaction.BASICALLY_SATISFIED,
    0x04: Satisfaction.DISSATISFIED,
}


def key_levels(keys: int) -> dict[int, Satisfaction]:
    if keys == 5:
        return FIVE_KEY_LEVELS
    if keys == 4:
        return FOUR_KEY_LEVELS
    raise ValueError(f"evaluation pads have 4 or 5 keys, not {keys}")


def level_for_key(key: int, keys: int = 5) -> Satisfaction | None:
    """The level for a pad's key value, or None for a key the pad should not have."""
    return key_levels(keys).get(key)


def key_for_level(level: int, keys: int = 5) -> int:
    for key, lvl in key_levels(keys).items():
        if lvl == level:
            return key
    raise ValueError(f"a {keys}-key pad has no key for level {level}")


# --- USB HID pads --------------------------------------------------------------------

# HID keyboard usage IDs of the digit keys 1-5 on the main row and on the keypad.
_USAGE_DIGITS = {0x1E: 1, 0x1F: 2, 0x20: 3, 0x21: 4, 0x22: 5, 0x59: 1, 0x5A: 2, 0x5B: 3}
_USAGE_DIGITS.update({0x5C: 4, 0x5D: 5})


@dataclass
class HidRatingDecoder:
    """Maps HID input reports of a USB pad to levels; pure, one instance per pad.

    ``mode="keyboard"``: the pad is a boot keyboard (report: modifiers, reserved, 6 key
    usages) typing the digits 1-5; digit ``k`` is key value ``k`` of ``keys``-key pads.
    ``mode="vendor"``: byte ``byte_index`` of the report carries the key value directly
    (0 = released). A key counts once when pressed: held keys and repeats of the same
    report do not rate twice.
    """

    mode: str = "keyboard"
    keys: int = 5
    byte_index: int = 0
    _held: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.mode not in ("keyboard", "vendor"):
            raise ValueError(f"HID mode must be 'keyboard' or 'vendor', not {self.mode!r}")
        key_levels(self.keys)

    def feed(self, report: bytes) -> Satisfaction | None:
        pressed = self._pressed_keys(report)
        new = pressed - self._held
        self._held = pressed
        for key in sorted(new):
            level = level_for_key(key, self.keys)
            if level is not None:
                return level
        return None

    def _pressed_keys(self, report: bytes) -> frozenset[int]:
        if self.mode == "vendor":
            if len(report) <= self.byte_index or report[self.byte_index] == 0:
                return frozenset()
            return frozenset({report[self.byte_index]})
        if len(report) < 3:
            return frozenset()
        usages = report[2:8]
        return frozenset(_USAGE_DIGITS[u] for u in usages if u in _USAGE_DIGITS)
