"""The transport contract: bytes in, bytes out, no meaning; every failure is a TransportError."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class TransportError(Exception):
    """A port failed: could not open, vanished, or a read/write failed."""


@runtime_checkable
class Transport(Protocol):
    """A blocking byte pipe. Only one thread (the bus worker) uses a transport at a time."""

    @property
    def name(self) -> str: ...

    @property
    def is_open(self) -> bool: ...

    def open(self) -> None: ...

    def close(self) -> None:
        """Close the port; never raises."""
        ...

    def write(self, data: bytes) -> None:
        """Write all of ``data``."""
        ...

    def read(self, n: int, timeout: float) -> bytes:
        """Return 1..n bytes as soon as any arrive, or b"" after ``timeout`` seconds."""
        ...
