"""Clerk keypad (呼叫器) keys and the digit + confirm sequences, as a pure state machine."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class KeypadAction(enum.StrEnum):
    CALL_NEXT = "call_next"  # 呼叫 / 顺呼
    RECALL = "recall"  # 重呼
    FINISH = "finish"  # 评价: finish and invite a rating (办结)
    PAUSE = "pause"  # 暂停
    TRANSFER = "transfer"  # 转移
    NO_SHOW = "no_show"  # 弃号 / 过号
    HOLD = "hold"  # 挂起
    CALL_BACK = "call_back"  # 回呼 a held ticket


class Key(enum.IntEnum):
    """Key codes sent by keypads (last DATA byte of a key frame)."""

    DIGIT_0 = 0x00
    DIGIT_1 = 0x01
    DIGIT_2 = 0x02
    DIGIT_3 = 0x03
    DIGIT_4 = 0x04
    DIGIT_5 = 0x05
    DIGIT_6 = 0x06
    DIGIT_7 = 0x07
    DIGIT_8 = 0x08
    DIGIT_9 = 0x09
    FINISH = 0x0B
    CALL_NEXT = 0x0C
    RECALL = 0x0D
    CONFIRM = 0x0F
    PAUSE = 0x12
    TRANSFER = 0x13


SINGLE_KEY_ACTIONS: dict[int, KeypadAction] = {
    Key.CALL_NEXT: KeypadAction.CALL_NEXT,
    Key.RECALL: KeypadAction.RECALL,
    Key.FINISH: KeypadAction.FINISH,
    Key.PAUSE: KeypadAction.PAUSE,
    Key.TRANSFER: KeypadAction.TRANSFER,
}

DIGIT_CONFIRM_ACTIONS: dict[int, KeypadAction] = {
    Key.DIGIT_6: KeypadAction.NO_SHOW,
    Key.DIGIT_0: KeypadAction.HOLD,
    Key.DIGIT_3: KeypadAction.CALL_BACK,
}


def keys_for_action(action: KeypadAction) -> tuple[int, ...]:
    """The key codes a clerk presses for ``action`` (used by the simulators)."""
    for code, act in SINGLE_KEY_ACTIONS.items():
        if act is action:
            return (code,)
    for code, act in DIGIT_CONFIRM_ACTIONS.items():
        if act is action:
            return (code, Key.CONFIRM)
    raise ValueError(f"no keys for {action}")  # pragma: no cover - enum is exhaustive


@dataclass
class KeypadSequencer:
    """Turns one keypad's raw key codes into actions.

    A digit is remembered until the confirm key (0F) arrives; any other key, or more than
    ``digit_timeout`` seconds, forgets it. A confirm with no digit, or with a digit that
    means nothing, yields nothing. ``now`` comes from the caller's clock.
    """

    digit_timeout: float = 10.0
    _digit: int | None = None
    _digit_at: float = 0.0

    def feed(self, code: int, now: float) -> KeypadAction | None:
        if code in SINGLE_KEY_ACTIONS:
            self._digit = None
            return SINGLE_KEY_ACTIONS[code]
        if Key.DIGIT_0 <= code <= Key.DIGIT_9:
            self._digit, self._digit_at = code, now
            return None
        if code == Key.CONFIRM:
            digit, self._digit = self._digit, None
            if digit is None or now - self._digit_at > self.digit_timeout:
                return None
            return DIGIT_CONFIRM_ACTIONS.get(digit)
        self._digit = None  # an unknown key cancels a half-typed sequence
        return None

    @property
    def pending_digit(self) -> int | None:
        return self._digit
