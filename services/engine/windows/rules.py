"""Who may act at a window, hold and call back, the outcome of a case. Pure rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.engine.auth.permissions import Role
from services.engine.core.errors import (
    HeldByOtherWindow,
    NothingHeld,
    NotSignedIn,
    OutcomeRequired,
    StaffOnly,
    TicketNotHeld,
    ValidationFailed,
    WindowBusy,
)
from services.engine.tickets.numbering import parse_number
from services.engine.tickets.states import Outcome
from services.engine.windows.states import HOLDING_TICKET, WindowState, ensure_can_call


class WindowLogAction:
    """What the window log (窗口日志) records."""

    SIGN_IN = "sign_in"  # 签到
    SIGN_OUT = "sign_out"  # 签退
    OPEN = "open"
    CLOSE = "close"
    PAUSE = "pause"
    RESUME = "resume"


def ensure_may_act(*, role: str, user_id: int | None, signed_in: int | None, window: int) -> None:
    """A staff member acts only at the window they signed in to; managers, admins and
    the hall's devices (the gateway relays the window's own keypad) at any window."""
    if role == Role.STAFF.value and (user_id is None or signed_in != user_id):
        raise NotSignedIn(f"sign in at window {window} before acting there", window=window)


def ensure_may_sign_in(*, kind: str) -> None:
    """Signing in names a person: a device has none to name."""
    if kind != "user":
        raise StaffOnly("only a staff account signs in at a window")


def ensure_may_sign_out(state: WindowState) -> None:
    """Nobody leaves a citizen at the window without a clerk."""
    if state in HOLDING_TICKET:
        raise WindowBusy("finish, hold or pass the ticket in hand before signing out")


def ensure_can_call_back(state: WindowState) -> None:
    """A held ticket comes back to an open, unpaused window with nobody in hand."""
    ensure_can_call(state)
    if state in HOLDING_TICKET:
        raise WindowBusy("finish, hold or pass the ticket in hand before calling back")


@dataclass(frozen=True)
class HeldTicket:
    """What the rules need to know of a held ticket."""

    ticket_id: int
    number: str
    window_id: int | None
    held_at: datetime


def held_to_call_back(
    held: Sequence[HeldTicket], *, window_id: int, ticket_id: int | None, number: str | None
) -> HeldTicket:
    """The held ticket a call back brings back: the one named (by id or printed number),
    or else the one held longest at this window (a keypad names none)."""
    if ticket_id is None and number is None:
        mine = sorted((h for h in held if h.window_id == window_id), key=lambda h: h.held_at)
        if not mine:
            raise NothingHeld("no ticket is held at this window")
        return mine[0]
    wanted = [
        h
        for h in held
        if (ticket_id is not None and h.ticket_id == ticket_id)
        or (ticket_id is None and number is not None and same_number(h.number, number))
    ]
    if not wanted:
        raise TicketNotHeld(f"ticket {number or ticket_id} is not held")
    here = [h for h in wanted if h.window_id == window_id]
    if not here:
        raise HeldByOtherWindow(
            f"ticket {wanted[0].number} is held at another window; it is called back there",
            ticket_id=wanted[0].ticket_id,
        )
    return here[0]


def same_number(printed: str, typed: str) -> bool:
    """The clerk types ``a23`` for the slip's ``A023``."""
    wanted = parse_number(typed)
    return wanted is not None and parse_number(printed) == wanted


def outcome_of(outcome: Outcome | None, *, required: bool, by_person: bool) -> Outcome | None:
    """The outcome recorded with a finished case. A hall may require one from its
    clerks; a keypad has no key for it, so its 办结 records none (未记录)."""
    if outcome is None and required and by_person:
        raise OutcomeRequired(
            "choose the outcome of the case (办结, 受理, 一次性告知, 咨询, 转办)",
            outcomes=[o.value for o in Outcome],
        )
    return outcome


# -- on-the-spot changes of what a window serves (窗口动态调整) ------------------------

ADJUSTABLE_ROLES = ("primary", "secondary")
MAX_WEIGHT = 100.0


def check_links(
    links: dict[str, tuple[float, str]], known: Sequence[str], *, window: int
) -> dict[str, tuple[float, str]]:
    """The services a manager sets at a window: known and offered, weights in range,
    primary or secondary (tidal links are the tidal rules'), at least one primary."""
    if not links:
        raise ValidationFailed(f"window {window} must serve at least one service", window=window)
    for code, (weight, role) in links.items():
        if code not in known:
            raise ValidationFailed(f"no active service {code!r} in this hall", service=code)
        if role not in ADJUSTABLE_ROLES:
            raise ValidationFailed(f"role must be primary or secondary, not {role!r}")
        if not 0 < weight <= MAX_WEIGHT:
            raise ValidationFailed(f"weight for {code!r} must be > 0 and <= {MAX_WEIGHT:g}")
    if not any(role == "primary" for _, role in links.values()):
        raise ValidationFailed(f"window {window} needs at least one primary service", window=window)
    return links
