"""Window states (窗口状态) and what each window action needs. Pure rules."""

from __future__ import annotations

from enum import StrEnum

from services.engine.core.errors import WindowBusy, WindowClosed, WindowIdle, WindowPaused


class WindowKind(StrEnum):
    GENERAL = "general"  # 综合窗口
    DEDICATED = "dedicated"  # 专窗
    GREEN = "green"  # 绿色通道
    TIDAL = "tidal"  # 潮汐窗口


class WindowState(StrEnum):
    CLOSED = "closed"
    IDLE = "idle"
    CALLING = "calling"
    SERVING = "serving"
    PAUSED = "paused"


HOLDING_TICKET = frozenset({WindowState.CALLING, WindowState.SERVING})


def ensure_can_call(state: WindowState) -> None:
    """A window calls only when open and not paused (a held ticket is finished first)."""
    if state is WindowState.CLOSED:
        raise WindowClosed("window is closed; open it first")
    if state is WindowState.PAUSED:
        raise WindowPaused("window is paused; resume it first")


def ensure_holding(state: WindowState) -> None:
    """Actions on the ticket in hand need one."""
    if state is WindowState.CLOSED:
        raise WindowClosed("window is closed")
    if state not in HOLDING_TICKET:
        raise WindowIdle("window has no ticket in hand")


def next_state_for_open(state: WindowState) -> WindowState:
    if state is not WindowState.CLOSED:
        return state  # opening an open window changes nothing
    return WindowState.IDLE


def next_state_for_close(state: WindowState) -> WindowState:
    if state in HOLDING_TICKET:
        raise WindowBusy("finish or pass the ticket in hand before closing the window")
    return WindowState.CLOSED


def next_state_for_pause(state: WindowState) -> WindowState:
    if state is WindowState.CLOSED:
        raise WindowClosed("window is closed")
    if state in HOLDING_TICKET:
        raise WindowBusy("finish or pass the ticket in hand before pausing")
    return WindowState.PAUSED


def next_state_for_resume(state: WindowState) -> WindowState:
    if state is WindowState.CLOSED:
        raise WindowClosed("window is closed; open it instead")
    if state is WindowState.PAUSED:
        return WindowState.IDLE
    return state
