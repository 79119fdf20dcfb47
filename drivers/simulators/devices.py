"""Simulated bus devices: keypads, evaluation pads, LED window boards.

Each answers polls and commands exactly as :mod:`drivers.protocols` specifies, keeps what
it shows, and logs it. ``unplug()`` makes it stop answering; ``plug()`` brings it back.
Tests wait for changes with :meth:`SimDevice.wait_for` instead of sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import DeviceKind, ProtocolName
from ..protocols import ff68, jh
from ..protocols.ff68 import Ff68Frame
from ..protocols.jh import Cmd, JhFrame, NackReason
from ..protocols.keypad import KeypadAction, keys_for_action
from ..protocols.rating import key_for_level
from ..protocols.text import decode_gb

log = logging.getLogger("drivers.simulators")


class SimDevice:
    kind: DeviceKind

    def __init__(self, address: int, window: int, protocol: ProtocolName) -> None:
        self.address = address
        self.window = window
        self.protocol = protocol
        self.plugged = True
        self.polls = 0
        self.frames_seen = 0
        self._cond = threading.Condition()

    @property
    def name(self) -> str:
        return f"{self.kind} {self.window} (address {self.address}, {self.protocol})"

    def unplug(self) -> None:
        with self._cond:
            self.plugged = False
            self._cond.notify_all()
        log.info("%s: unplugged", self.name)

    def plug(self) -> None:
        with self._cond:
            self.plugged = True
            self._cond.notify_all()
        log.info("%s: plugged back", self.name)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` holds (checked whenever the device changes)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _changed(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def handle(self, frame: Ff68Frame | JhFrame) -> bytes | None:
        """The answer to a frame addressed to this device, or None for silence."""
        if not self.plugged:
            return None
        with self._cond:
            self.frames_seen += 1
            if isinstance(frame, Ff68Frame):
                if frame.func == ff68.FUNC_POLL:
                    self.polls += 1
                answer = self._ff68(frame)
            else:
                if frame.command == Cmd.POLL:
                    self.polls += 1
                answer = self._jh(frame)
            self._cond.notify_all()
            return answer

    def _ff68(self, frame: Ff68Frame) -> bytes | None:
        return None

    def _jh(self, frame: JhFrame) -> bytes | None:
        return jh.nack(self.address, frame.command, NackReason.UNKNOWN_COMMAND)


class _EventSource(SimDevice):
    """A device that queues events (key presses, ratings) until the host acknowledges."""

    def __init__(self, address: int, window: int, protocol: ProtocolName) -> None:
        super().__init__(address, window, protocol)
        self.pending: list[int] = []
        self.seq = 0
        self.delivered: list[int] = []

    def _queue(self, *values: int) -> None:
        with self._cond:
            self.pending.extend(values)
            self._cond.notify_all()

    def _ff68_event(self, func: int) -> bytes:
        return ff68.encode(self.address, func, bytes((self.seq, self.pending[0])))

    def _acked(self) -> None:
        self.delivered.append(self.pending.pop(0))
        self.seq = (self.seq + 1) & 0xFF

    @property
    def idle(self) -> bool:
        return not self.pending


class SimKeypad(_EventSource):
    kind = DeviceKind.KEYPAD

    def __init__(self, address: int, window: int, protocol: ProtocolName) -> None:
        super().__init__(address, window, protocol)
        self.left = ""  # waiting count group
        self.right = ""  # ticket number group
        self.beeps = 0

    def press(self, *codes: int) -> None:
        """Raw key codes, e.g. 0x06, 0x0F for no-show."""
        self._queue(*codes)

    def press_action(self, action: KeypadAction) -> None:
        log.info("%s: clerk presses %s", self.name, action)
        self.press(*keys_for_action(action))

    @property
    def shows(self) -> str:
        return f"[{self.left:>3}] [{self.right:>3}]"

    def _ff68(self, frame: Ff68Frame) -> bytes | None:
        if frame.func == ff68.FUNC_POLL:
            if self.pending:
                return self._ff68_event(ff68.FUNC_KEY)
            return ff68.idle_reply(self.address)
        if frame.func == ff68.FUNC_KEY:  # the host echoes our key frame as ack
            if self.pending and frame.data == bytes((self.seq, self.pending[0])):
                self._acked()
            return None
        if frame.func == ff68.FUNC_DISPLAY and len(frame.data) == 6:
            self.left = _digits(frame.data[:3])
            self.right = _digits(frame.data[3:])
            log.info("%s shows %s", self.name, self.shows)
            return ff68.encode_frame(frame)
        if frame.func == ff68.FUNC_BEEP:
            self.beeps += 1
            log.info("%s: beep", self.name)
            return ff68.encode_frame(frame)
        return None

    def _jh(self, frame: JhFrame) -> bytes | None:
        if frame.command == Cmd.POLL:
            if self.pending:
                return jh.key_event(self.address, self.seq, self.pending[0])
            return jh.ack(self.address, Cmd.POLL)
        if frame.command == Cmd.ACK:
            if self.pending and frame.payload == bytes((Cmd.KEY, self.seq)):
                self._acked()
            return None
        if frame.command == Cmd.KEYPAD_SHOW and len(frame.payload) >= 2:
            self.left = str(int.from_bytes(frame.payload[:2], "big"))
            self.right = frame.payload[2:].decode("ascii", errors="replace")
            log.info("%s shows %s", self.name, self.shows)
            return jh.ack(self.address, frame.command)
        if frame.command == Cmd.BEEP:
            self.beeps += 1
            return jh.ack(self.address, frame.command)
        return super()._jh(frame)


class SimEvaluator(_EventSource):
    kind = DeviceKind.EVALUATOR

    def __init__(self, address: int, window: int, protocol: ProtocolName, keys: int = 5) -> None:
        super().__init__(address, window, protocol)
        self.keys = keys
        self.invitations = 0

    def rate(self, level: int) -> None:
        """The citizen presses the key for national level 1-5."""
        log.info("%s: citizen rates %d", self.name, level)
        if self.protocol is ProtocolName.JH:
            self._queue(level)  # jh pads report the level itself
        else:
            self._queue(key_for_level(level, self.keys))

    def press_key(self, key: int) -> None:
        """A raw key value (FF 68 pads), including ones the pad should not send."""
        self._queue(key)

    def _ff68(self, frame: Ff68Frame) -> bytes | None:
        if frame.func == ff68.FUNC_POLL:
            if self.pending:
                return self._ff68_event(ff68.FUNC_RATING)
            return ff68.idle_reply(self.address)
        if frame.func == ff68.FUNC_RATING:
            if self.pending and frame.data == bytes((self.seq, self.pending[0])):
                self._acked()
            return None
        if frame.func == ff68.FUNC_BEEP:
            self.invitations += 1
            log.info("%s: 请您评价 (beep)", self.name)
            return ff68.encode_frame(frame)
        return None

    def _jh(self, frame: JhFrame) -> bytes | None:
        if frame.command == Cmd.POLL:
            if self.pending:
                return jh.rating_event(self.address, self.seq, self.pending[0])
            return jh.ack(self.address, Cmd.POLL)
        if frame.command == Cmd.ACK:
            if self.pending and frame.payload == bytes((Cmd.RATING, self.seq)):
                self._acked()
            return None
        if frame.command in (Cmd.INVITE_RATING, Cmd.BEEP):
            self.invitations += 1
            log.info("%s: 请您评价", self.name)
            return jh.ack(self.address, frame.command)
        return super()._jh(frame)


@dataclass(frozen=True)
class BoardContent:
    mode: str  # "ticket" | "idle" | "paused" | "blank"
    text: str  # what a passer-by reads on the board
    number: str = ""


class SimLedBoard(SimDevice):
    kind = DeviceKind.LED

    def __init__(self, address: int, window: int, protocol: ProtocolName = ProtocolName.JH) -> None:
        super().__init__(address, window, protocol)
        self.content = BoardContent("blank", "")
        self.waiting: int | None = None
        self.history: list[BoardContent] = []

    def _show(self, content: BoardContent) -> None:
        self.content = content
        self.history.append(content)
        log.info("LED board of window %d shows: %s", self.window, content.text)

    def _jh(self, frame: JhFrame) -> bytes | None:
        cmd, payload = frame.command, frame.payload
        if cmd == Cmd.POLL:
            return jh.ack(self.address, Cmd.POLL)
        if cmd == Cmd.SHOW_TICKET and len(payload) >= 2:
            number = payload[1:].decode("ascii", errors="replace")
            self._show(BoardContent("ticket", f"请{number}号到{payload[0]}号窗口", number))
        elif cmd == Cmd.SHOW_IDLE:
            self._show(BoardContent("idle", decode_gb(payload)))
        elif cmd == Cmd.SHOW_PAUSED:
            self._show(BoardContent("paused", decode_gb(payload)))
        elif cmd == Cmd.SHOW_WAITING and len(payload) == 2:
            self.waiting = int.from_bytes(payload, "big")
            log.info("LED board of window %d: 等候 %d 人", self.window, self.waiting)
        else:
            known = cmd in {c.value for c in Cmd}
            reason = NackReason.BAD_PAYLOAD if known else NackReason.UNKNOWN_COMMAND
            return jh.nack(self.address, cmd, reason)
        return jh.ack(self.address, cmd)


def _digits(group: bytes) -> str:
    return "".join("" if b == ff68.BLANK else str(b) if b < 10 else "?" for b in group)
