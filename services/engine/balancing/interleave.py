"""The favoured:normal interleave (优先与普通交替叫号). Pure.

Green-channel tickets (绿色通道) always go first. Favoured tickets (priority
groups 老弱病残孕, and appointments 预约 checked in within their slot) and normal
tickets then take turns F:M (default 2:1) at each window, so normal tickets
never starve. A window keeps how far it is through its cycle (``favoured_run``,
``normal_run`` on the window row); :func:`advance` moves it on after each call.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.engine.tickets.states import FAVOURED, PriorityClass

__all__ = ["FAVOURED", "InterleaveRatio", "InterleaveState", "advance"]


@dataclass(frozen=True)
class InterleaveRatio:
    favoured: int = 2
    normal: int = 1

    def __post_init__(self) -> None:
        if self.favoured < 1 or self.normal < 1:
            raise ValueError("both sides of the interleave ratio must be at least 1")


@dataclass(frozen=True)
class InterleaveState:
    """How far the window is through its current F:M cycle."""

    favoured_run: int = 0
    normal_run: int = 0


def advance(
    state: InterleaveState,
    ratio: InterleaveRatio,
    taken: PriorityClass,
    *,
    favoured_waiting: bool,
    normal_waiting: bool,
) -> InterleaveState:
    """The interleave state after the window took a ticket of class ``taken``.

    ``favoured_waiting``/``normal_waiting`` say whether the other class had
    tickets when the choice was made; with only one class waiting the cycle
    starts afresh so nobody builds up a debt.
    """
    if taken is PriorityClass.GREEN:
        return state
    if not (favoured_waiting and normal_waiting):
        return InterleaveState()
    if taken in FAVOURED:
        return InterleaveState(state.favoured_run + 1, state.normal_run)
    normal_run = state.normal_run + 1
    if normal_run >= ratio.normal:
        return InterleaveState()
    return InterleaveState(state.favoured_run, normal_run)
