"""Which ticket an evaluation pad press rates (好差评). Pure; the caller's clock decides.

After 办结 the window's pad may rate the ticket just finished there, for a limited
time; then the ticket stays unrated (未评价). One press rates once (一次一评). The
gateway never chooses a level: a rating exists only if the citizen pressed a key.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class Invitation:
    """A pad waiting for the citizen's rating of one finished ticket."""

    window: int
    ticket_id: int
    number: str
    deadline: float  # on the caller's monotonic clock


@dataclass(frozen=True)
class Rating:
    """A citizen's press, to be recorded for ``ticket_id``."""

    window: int
    ticket_id: int
    number: str
    level: int


class RatingWindows:
    """The open invitation of every window, and the tickets already dealt with."""

    def __init__(self, timeout: float, *, remember: int = 2000) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self._open: dict[int, Invitation] = {}
        self._done: OrderedDict[int, None] = OrderedDict()  # ticket ids rated, lapsed or open
        self._remember = remember
        self.lapsed: list[Invitation] = []  # unrated (未评价), oldest first; the caller drains

    def _mark(self, ticket_id: int) -> None:
        self._done[ticket_id] = None
        self._done.move_to_end(ticket_id)
        while len(self._done) > self._remember:
            self._done.popitem(last=False)

    def finished(
        self, window: int, ticket_id: int, number: str, now: float, age: float = 0.0
    ) -> Invitation | None:
        """A ticket was finished ``age`` seconds ago: invite its rating, if still in time.

        A ticket heard of twice (a replayed event) opens nothing the second time. A newer
        finish at the same window ends the older invitation unrated.
        """
        if ticket_id in self._done:
            return None
        self._mark(ticket_id)
        remaining = self.timeout - max(age, 0.0)
        if remaining <= 0:
            return None  # heard of too late (the gateway was cut off): 未评价
        previous = self._open.pop(window, None)
        if previous is not None:
            self.lapsed.append(previous)
        invitation = Invitation(window, ticket_id, number, now + remaining)
        self._open[window] = invitation
        return invitation

    def pressed(self, window: int, level: int, now: float) -> Rating | None:
        """A pad key: the rating of the window's open invitation, or None (nothing to rate)."""
        self.expire(now)
        invitation = self._open.pop(window, None)
        if invitation is None:
            return None
        return Rating(window, invitation.ticket_id, invitation.number, level)

    def expire(self, now: float) -> list[Invitation]:
        """End the invitations whose time is up; they stay unrated (未评价)."""
        ended = [i for i in self._open.values() if i.deadline <= now]
        for invitation in ended:
            del self._open[invitation.window]
        self.lapsed.extend(ended)
        return ended

    def open_for(self, window: int) -> Invitation | None:
        return self._open.get(window)

    def next_deadline(self) -> float | None:
        return min((i.deadline for i in self._open.values()), default=None)
