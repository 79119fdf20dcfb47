"""Raw TCP, e.g. network receipt printers on port 9100 (no protocol on top)."""

from __future__ import annotations

import contextlib
import socket

from .base import TransportError


class TcpTransport:
    def __init__(self, host: str, port: int = 9100, *, connect_timeout: float = 3.0) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self._sock: socket.socket | None = None

    @property
    def name(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        if self._sock is not None:
            return
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as err:
            raise TransportError(f"cannot connect to {self.name}: {err}") from err
        self._sock = sock

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _require(self) -> socket.socket:
        if self._sock is None:
            raise TransportError(f"{self.name} is not connected")
        return self._sock

    def write(self, data: bytes) -> None:
        sock = self._require()
        try:
            sock.settimeout(self.connect_timeout)
            sock.sendall(data)
        except OSError as err:
            self.close()
            raise TransportError(f"send to {self.name} failed: {err}") from err

    def read(self, n: int, timeout: float) -> bytes:
        sock = self._require()
        try:
            sock.settimeout(max(0.0, timeout))
            data = sock.recv(n)
        except TimeoutError:
            return b""
        except BlockingIOError:
            return b""
        except OSError as err:
            self.close()
            raise TransportError(f"receive from {self.name} failed: {err}") from err
        if not data:
            self.close()
            raise TransportError(f"{self.name} closed the connection")
        return data
