"""A USB printer bound to the kernel's usblp driver: the character device /dev/usb/lpN."""

from __future__ import annotations

import contextlib
import os
import select

from .base import TransportError


class UsbPrinterTransport:
    """Plain file I/O on a device node; reads (status answers) wait with ``select``."""

    def __init__(self, path: str = "/dev/usb/lp0") -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def name(self) -> str:
        return self.path

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        if self._fd is not None:
            return
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as err:
            raise TransportError(f"cannot open {self.path}: {err}") from err

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _require(self) -> int:
        if self._fd is None:
            raise TransportError(f"{self.path} is not open")
        return self._fd

    def write(self, data: bytes) -> None:
        fd = self._require()
        view = memoryview(data)
        try:
            while view:
                _, writable, _ = select.select([], [fd], [], 5.0)
                if not writable:
                    raise TransportError(f"{self.path} did not accept data for 5 s")
                written = os.write(fd, view)
                view = view[written:]
        except OSError as err:
            raise TransportError(f"write to {self.path} failed: {err}") from err

    def read(self, n: int, timeout: float) -> bytes:
        fd = self._require()
        try:
            readable, _, _ = select.select([fd], [], [], max(0.0, timeout))
            if not readable:
                return b""
            data = os.read(fd, n)
        except BlockingIOError:
            return b""
        except OSError as err:
            raise TransportError(f"read from {self.path} failed: {err}") from err
        if not data:
            raise TransportError(f"{self.path} reports end of file (unplugged?)")
        return data
