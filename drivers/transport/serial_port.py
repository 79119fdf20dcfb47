"""Serial ports through pyserial, including its URL handlers (``socket://``, ``loop://``...)."""

from __future__ import annotations

import contextlib

import serial
from serial.rs485 import RS485Settings

from .base import TransportError

_PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


class SerialTransport:
    """A serial port opened with :func:`serial.serial_for_url`.

    ``rs485`` switches on the kernel's RS-485 mode (RTS drives the transmitter); keep it off
    for adapters that switch direction by themselves and on pseudo-terminals, where the
    ioctl fails.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        rs485: bool = False,
    ) -> None:
        if parity not in _PARITIES:
            raise ValueError(f"parity must be one of {sorted(_PARITIES)}, not {parity!r}")
        self.url = url
        self.baudrate = baudrate
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits
        self.rs485 = rs485
        self._port: serial.SerialBase | None = None

    @property
    def name(self) -> str:
        return self.url

    @property
    def is_open(self) -> bool:
        return self._port is not None and bool(self._port.is_open)

    def open(self) -> None:
        if self.is_open:
            return
        try:
            port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                bytesize=self.bytesize,
                parity=_PARITIES[self.parity],
                stopbits=self.stopbits,
                timeout=0,
                write_timeout=2.0,
                do_not_open=True,
            )
            if self.rs485:
                port.rs485_mode = RS485Settings()
            port.open()
        except (serial.SerialException, OSError, ValueError) as err:
            raise TransportError(f"cannot open {self.url}: {err}") from err
        self._port = port

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            # the port may be gone already; closing is best effort
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def _require(self) -> serial.SerialBase:
        if self._port is None or not self._port.is_open:
            raise TransportError(f"{self.url} is not open")
        return self._port

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as err:
            raise TransportError(f"write to {self.url} failed: {err}") from err

    def read(self, n: int, timeout: float) -> bytes:
        port = self._require()
        try:
            timeout = max(0.0, timeout)
            if port.timeout != timeout:  # pyserial re-applies termios on every change
                port.timeout = timeout
            first = port.read(1)
            if not first or n <= 1:
                return bytes(first)
            waiting = min(n - 1, port.in_waiting)
            rest = port.read(waiting) if waiting else b""  # already there: no waiting
            return bytes(first) + bytes(rest)
        except (serial.SerialException, OSError) as err:
            raise TransportError(f"read from {self.url} failed: {err}") from err
