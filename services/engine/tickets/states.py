"""The ticket state machine (票据状态). Pure rules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from services.engine.core.errors import InvalidTicketState, TicketNotHeld, TicketNotWaiting


class TicketStatus(StrEnum):
    WAITING = "waiting"  # 等候
    CALLED = "called"  # 已呼叫
    SERVING = "serving"  # 办理中
    DONE = "done"  # 办结
    NO_SHOW = "no_show"  # 过号
    CANCELLED = "cancelled"  # 取消
    TRANSFERRED = "transferred"  # 已转移
    HELD = "held"  # 挂起: the case waits (documents, approval) and the window serves others
    HELD_EXPIRED = "held_expired"  # still held when its business day ended


class PriorityClass(StrEnum):
    NORMAL = "normal"
    APPOINTMENT = "appointment"  # 预约
    PRIORITY = "priority"  # 老弱病残孕
    GREEN = "green"  # 绿色通道 / urgent


# Called before normal tickets (the F of the F:M interleave), after the green channel.
FAVOURED = frozenset({PriorityClass.PRIORITY, PriorityClass.APPOINTMENT})


class TicketSource(StrEnum):
    KIOSK = "kiosk"
    BOOKING = "booking"
    STAFF = "staff"
    API = "api"


class TicketAction(StrEnum):
    ISSUE = "issue"
    CALL = "call"
    RECALL = "recall"
    START = "start"
    FINISH = "finish"
    NO_SHOW = "no_show"
    REQUEUE = "requeue"
    TRANSFER = "transfer"
    CANCEL = "cancel"
    # 退回: sent to a window that closed, back to its service's queue at its place.
    RETURN = "return"
    HOLD = "hold"  # 挂起
    CALL_BACK = "call_back"  # 回呼 a held ticket to the window that held it
    EXPIRE = "expire"  # a held ticket its business day outlived


OPEN_STATUSES = frozenset(
    {TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING, TicketStatus.HELD}
)
IN_HAND_STATUSES = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})

# Which states each action may start from and where it leads.
_TRANSITIONS: dict[TicketAction, tuple[frozenset[TicketStatus], TicketStatus]] = {
    TicketAction.CALL: (frozenset({TicketStatus.WAITING}), TicketStatus.CALLED),
    TicketAction.RECALL: (frozenset({TicketStatus.CALLED}), TicketStatus.CALLED),
    TicketAction.START: (frozenset({TicketStatus.CALLED}), TicketStatus.SERVING),
    # Keypads often have no start key: finishing a called ticket is allowed.
    TicketAction.FINISH: (IN_HAND_STATUSES, TicketStatus.DONE),
    TicketAction.NO_SHOW: (frozenset({TicketStatus.CALLED}), TicketStatus.NO_SHOW),
    TicketAction.REQUEUE: (frozenset({TicketStatus.CALLED}), TicketStatus.WAITING),
    TicketAction.TRANSFER: (IN_HAND_STATUSES, TicketStatus.TRANSFERRED),
    TicketAction.CANCEL: (
        frozenset({TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.HELD}),
        TicketStatus.CANCELLED,
    ),
    TicketAction.RETURN: (frozenset({TicketStatus.WAITING}), TicketStatus.WAITING),
    TicketAction.HOLD: (IN_HAND_STATUSES, TicketStatus.HELD),
    TicketAction.CALL_BACK: (frozenset({TicketStatus.HELD}), TicketStatus.CALLED),
    TicketAction.EXPIRE: (frozenset({TicketStatus.HELD}), TicketStatus.HELD_EXPIRED),
}


def next_status(current: TicketStatus, action: TicketAction) -> TicketStatus:
    """The status after ``action``, or a refusal naming why it is not allowed."""
    allowed_from, target = _TRANSITIONS[action]
    if current not in allowed_from:
        if action is TicketAction.CALL:
            raise TicketNotWaiting(
                f"ticket is {current.value}, only a waiting ticket can be called"
            )
        if action is TicketAction.CALL_BACK:
            raise TicketNotHeld(f"ticket is {current.value}, only a held ticket is called back")
        allowed = ", ".join(sorted(s.value for s in allowed_from))
        raise InvalidTicketState(
            f"cannot {action.value} a ticket that is {current.value} (allowed from: {allowed})",
            ticket_status=current.value,
            action=action.value,
        )
    return target


def recall_outcome(recall_count: int, max_recalls: int) -> TicketAction:
    """A recall past the limit turns into a no-show (过号)."""
    return TicketAction.NO_SHOW if recall_count >= max_recalls else TicketAction.RECALL


class HoldKind(StrEnum):
    """Why a case is held (挂起), in the hall's words."""

    MISSING_DOCUMENTS = "missing_documents"  # 补材料: the citizen fetches what is missing
    DOCUMENTS_LEFT = "documents_left"  # 材料留窗口: papers stay at the window meanwhile
    WAITING = "waiting"  # 等待审批/刻章/缴费


class Outcome(StrEnum):
    """The outcome of a case (办理结果), recorded when it is finished."""

    DONE = "done"  # 办结
    ACCEPTED = "accepted"  # 受理: the back office continues
    TOLD_MISSING = "told_missing"  # 一次性告知: told everything missing, in one go
    CONSULTED = "consulted"  # 咨询
    REFERRED = "referred"  # 转办


def held_seconds(held_at: datetime, until: datetime) -> int:
    """Whole seconds a case spent on hold (never negative: clocks of two engines)."""
    return max(0, int((until - held_at).total_seconds()))
