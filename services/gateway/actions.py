"""Keypad key presses (呼叫器) as window actions on the engine. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.protocols.keypad import KeypadAction
from services.gateway.hallstate import WindowView


@dataclass(frozen=True)
class EngineCall:
    """``POST /api/v1/halls/{hall}/windows/{window}/{action}`` with an optional body."""

    action: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    calls: tuple[EngineCall, ...] = ()
    refusal: str | None = None  # why nothing is sent (the keypad beeps)


SIMPLE: dict[KeypadAction, str] = {
    KeypadAction.RECALL: "recall",  # 重呼
    KeypadAction.FINISH: "finish",  # 评价 key: 办结, and the pad invites a rating
    KeypadAction.NO_SHOW: "no-show",  # 弃号 / 过号
}

UNSUPPORTED: dict[KeypadAction, str] = {
    KeypadAction.TRANSFER: "转移 needs a target service or window; use the window console",
}


def plan(
    action: KeypadAction,
    window: WindowView,
    *,
    open_on_call: bool,
    pause_reason: str,
    hold_kind: str = "missing_documents",
) -> Plan:
    """What the engine is asked to do for one key press at ``window``.

    The window state is the gateway's latest knowledge; the engine decides, and refuses
    (the keypad then beeps) when that knowledge was stale.
    """
    if action is KeypadAction.CALL_NEXT:
        call = EngineCall("call-next")  # 顺呼: finishes the ticket in hand, calls the next
        if window.state == "closed" and open_on_call:
            return Plan((EngineCall("open"), call))
        return Plan((call,))
    if action in SIMPLE:
        return Plan((EngineCall(SIMPLE[action]),))
    if action is KeypadAction.HOLD:  # 挂起: a keypad cannot say why; the hall's default kind
        return Plan((EngineCall("hold", {"kind": hold_kind}),))
    if action is KeypadAction.CALL_BACK:  # 回呼: the ticket held longest at this window
        return Plan((EngineCall("call-back"),))
    if action is KeypadAction.PAUSE:  # one key: pause, and press again to resume
        if window.state == "paused":
            return Plan((EngineCall("resume"),))
        return Plan((EngineCall("pause", {"reason": pause_reason}),))
    return Plan(refusal=UNSUPPORTED.get(action, f"no engine action for {action}"))
