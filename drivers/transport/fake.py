"""An in-memory null-modem pair: what one end writes, the other end reads."""

from __future__ import annotations

import threading

from .base import TransportError


class _Pipe:
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.cond = threading.Condition()


class FakeTransport:
    """One end of a null-modem cable. ``unplug()`` makes every operation fail until ``plug()``."""

    def __init__(self, name: str, inbox: _Pipe, outbox: _Pipe) -> None:
        self._name = name
        self._inbox = inbox
        self._outbox = outbox
        self._open = False
        self._unplugged = False
        self.writes: list[bytes] = []  # what this end wrote, for assertions

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        if self._unplugged:
            raise TransportError(f"{self._name} is unplugged")
        self._open = True

    def close(self) -> None:
        self._open = False

    def unplug(self) -> None:
        self._unplugged = True
        self._open = False
        with self._inbox.cond:
            self._inbox.cond.notify_all()

    def plug(self) -> None:
        self._unplugged = False

    def _check(self) -> None:
        if self._unplugged or not self._open:
            raise TransportError(f"{self._name} is not open")

    def write(self, data: bytes) -> None:
        self._check()
        self.writes.append(bytes(data))
        with self._outbox.cond:
            self._outbox.buffer += data
            self._outbox.cond.notify_all()

    def read(self, n: int, timeout: float) -> bytes:
        self._check()
        with self._inbox.cond:
            if not self._inbox.buffer:
                self._inbox.cond.wait(max(0.0, timeout))
            self._check()
            data = bytes(self._inbox.buffer[:n])
            del self._inbox.buffer[:n]
            return data


def null_modem_pair(name: str = "fake") -> tuple[FakeTransport, FakeTransport]:
    """Two connected ends: ``(host_end, device_end)``."""
    a_to_b, b_to_a = _Pipe(), _Pipe()
    host = FakeTransport(f"{name}:host", inbox=b_to_a, outbox=a_to_b)
    device = FakeTransport(f"{name}:device", inbox=a_to_b, outbox=b_to_a)
    return host, device
