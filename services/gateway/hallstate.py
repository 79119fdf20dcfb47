"""The hall as the gateway's devices need it, kept from the engine's bus. Pure.

A snapshot replaces everything; each event changes a little. Every change says which
windows' boards and keypads must be shown again. What a window's LED board (窗口屏)
and keypad (呼叫器) show is derived here, never sent from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HOLDING = frozenset({"calling", "serving"})


@dataclass
class WindowView:
    number: int
    state: str = "closed"  # closed | idle | calling | serving | paused
    ticket_id: int | None = None
    ticket: str | None = None  # the number in hand, e.g. "A023"
    pause_reason: str | None = None
    services: frozenset[str] = frozenset()
    known: bool = False  # the engine has told us about this window


@dataclass(frozen=True)
class BoardContent:
    """An LED window board: a number (请A023号到3号窗口), or a text; and the waiting count."""

    mode: str  # "ticket" | "idle" | "paused" (closed windows show the paused mode too)
    text: str  # the idle/paused text; "" for a ticket
    number: str | None
    window: int
    waiting: int


@dataclass(frozen=True)
class KeypadContent:
    """A clerk keypad's display: the waiting count left, the number in hand right."""

    number: str  # "" when nothing is in hand
    waiting: int


@dataclass(frozen=True)
class Finished:
    """A ticket finished at a window: its evaluation pad may take the citizen's rating."""

    window: int
    ticket_id: int
    number: str
    at: datetime | None


@dataclass
class Change:
    windows: set[int] = field(default_factory=set)  # show these again
    recalled: set[int] = field(default_factory=set)  # announce again even if unchanged
    finished: Finished | None = None
    refresh: bool = False  # window services may have changed: read them again


@dataclass(frozen=True)
class Texts:
    idle: str = "热情为您服务"
    paused: str = "暂停服务"
    closed: str = "暂停服务"


def _parse_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class HallView:
    """Windows and waiting counts of one hall, as the bus reported them."""

    def __init__(self, texts: Texts | None = None) -> None:
        self.texts = texts or Texts()
        self.windows: dict[int, WindowView] = {}
        self.waiting: dict[str, int] = {}  # service code -> tickets waiting

    def window(self, number: int) -> WindowView:
        if number not in self.windows:
            self.windows[number] = WindowView(number)
        return self.windows[number]

    # --- from the engine ----------------------------------------------------------------

    def apply_snapshot(self, snapshot: Mapping[str, Any]) -> Change:
        """Replace everything with the snapshot; every window is shown again."""
        self.waiting = {s["service"]: int(s.get("waiting") or 0) for s in snapshot["services"]}
        seen: set[int] = set()
        for w in snapshot["windows"]:
            view = self.window(int(w["window"]))
            self._set(view, w)
            seen.add(view.number)
        for number, view in self.windows.items():
            if number not in seen:  # retired from the hall: nothing to serve
                view.state, view.ticket_id, view.ticket, view.known = "closed", None, None, False
        return Change(windows=set(self.windows), refresh=True)

    def set_services(self, services: Mapping[int, Iterable[str]]) -> Change:
        """Which services each window serves (its waiting count adds theirs up)."""
        change = Change()
        for number, codes in services.items():
            view = self.window(number)
            new = frozenset(codes)
            if new != view.services:
                view.services = new
                change.windows.add(number)
        return change

    def apply_event(self, type_: str, data: Mapping[str, Any], at: str | None = None) -> Change:
        change = Change()
        number = data.get("window")
        if type_ == "window.state" and isinstance(number, int):
            self._set(self.window(number), data)
            change.windows.add(number)
        elif type_ in ("ticket.called", "ticket.recalled") and isinstance(number, int):
            view = self.window(number)
            view.state, view.known = "calling", True
            view.ticket_id, view.ticket = data.get("ticket_id"), data.get("number")
            change.windows.add(number)
            if type_ == "ticket.recalled":
                change.recalled.add(number)
        elif type_ == "ticket.started" and isinstance(number, int):
            view = self.window(number)
            view.state, view.known = "serving", True
            view.ticket_id, view.ticket = data.get("ticket_id"), data.get("number")
            change.windows.add(number)
        elif type_ in ("ticket.finished", "ticket.no_show", "ticket.transferred"):
            if isinstance(number, int):
                view = self.window(number)
                if view.ticket_id is not None and view.ticket_id == data.get("ticket_id"):
                    view.state, view.ticket_id, view.ticket = "idle", None, None
                    change.windows.add(number)
                ticket_id = data.get("ticket_id")
                if type_ == "ticket.finished" and isinstance(ticket_id, int):
                    change.finished = Finished(
                        number, ticket_id, str(data.get("number") or ""), _parse_at(at)
                    )
        elif type_ == "queue.changed":
            code = data.get("service")
            if isinstance(code, str):
                self.waiting[code] = int(data.get("waiting") or 0)
                change.windows |= {n for n, v in self.windows.items() if code in v.services}
        elif type_ in ("hall.updated", "tidal.changed"):
            change.refresh = True
        return change

    @staticmethod
    def _set(view: WindowView, data: Mapping[str, Any]) -> None:
        view.known = True
        view.state = str(data.get("state") or "closed")
        view.pause_reason = data.get("pause_reason")
        view.ticket_id = data.get("ticket_id")
        view.ticket = data.get("number")
        if view.state not in HOLDING:
            view.ticket_id, view.ticket = None, None

    # --- what the devices show ----------------------------------------------------------

    def waiting_for(self, number: int) -> int:
        view = self.windows.get(number)
        if view is None:
            return 0
        return sum(self.waiting.get(code, 0) for code in view.services)

    def board(self, number: int) -> BoardContent:
        view = self.windows.get(number) or WindowView(number)
        waiting = self.waiting_for(number)
        if view.state in HOLDING and view.ticket:
            return BoardContent("ticket", "", view.ticket, number, waiting)
        if view.state == "paused":
            return BoardContent("paused", self.texts.paused, None, number, waiting)
        if view.state in ("idle", *HOLDING):
            return BoardContent("idle", self.texts.idle, None, number, waiting)
        return BoardContent("paused", self.texts.closed, None, number, waiting)

    def keypad(self, number: int) -> KeypadContent:
        view = self.windows.get(number) or WindowView(number)
        held = view.ticket if view.state in HOLDING and view.ticket else ""
        return KeypadContent(held, self.waiting_for(number))
