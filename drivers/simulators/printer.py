"""A simulated receipt printer: reads ESC/POS back into text, answers DLE EOT status.

It listens on a pseudo-terminal (use its path as a serial port or as a /dev/usb/lpN
file) or on a TCP port (a network printer, normally 9100).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..protocols import escpos
from ..protocols.escpos import PrinterStatus, StatusKind
from ..protocols.escpos_reader import (
    Cut,
    EscPosReader,
    PrintedLine,
    QrPrinted,
    Reset,
    StatusRequest,
)
from .pty_port import PtyPort

log = logging.getLogger("drivers.simulators")


@dataclass
class PrintedTicket:
    lines: list[PrintedLine] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    partial_cut: bool = False

    @property
    def text(self) -> list[str]:
        return [line.text for line in self.lines]


class SimulatedPrinter:
    def __init__(
        self,
        *,
        name: str = "printer",
        link: str | None = None,
        tcp: tuple[str, int] | None = None,
        chinese_at_reset: bool = False,
    ) -> None:
        self.name = name
        self.tcp = tcp
        self.port = PtyPort(link) if tcp is None else None
        self._chinese_at_reset = chinese_at_reset
        self.reader = EscPosReader(chinese_at_reset=chinese_at_reset)
        self.tickets: list[PrintedTicket] = []
        self._current = PrintedTicket()
        self.paper_out = False
        self.paper_near_end = False
        self.cover_open = False
        self.plugged = True
        self.status_requests = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: socket.socket | None = None
        self._client: socket.socket | None = None
        self.tcp_address: tuple[str, int] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        """Start; returns the pty path, or "host:port" for a TCP printer."""
        self._stop.clear()
        self._open()
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self._close(remove_link=True)

    def __enter__(self) -> SimulatedPrinter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def path(self) -> str:
        if self.port is not None:
            return self.port.path
        assert self.tcp_address is not None
        return f"{self.tcp_address[0]}:{self.tcp_address[1]}"

    def _open(self) -> None:
        if self.port is not None:
            self.port.open()
            return
        assert self.tcp is not None
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        host, port = self.tcp_address or self.tcp
        server.bind((host, port))
        server.listen(1)
        server.settimeout(0.05)
        self._server = server
        self.tcp_address = server.getsockname()[:2]

    def _close(self, remove_link: bool = False) -> None:
        if self.port is not None:
            self.port.close(remove_link=remove_link)
        for sock in (self._client, self._server):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._client = self._server = None

    # --- what a person does to a printer -----------------------------------------------

    @property
    def status(self) -> PrinterStatus:
        return PrinterStatus(
            cover_open=self.cover_open,
            paper_out=self.paper_out,
            paper_near_end=self.paper_near_end or self.paper_out,
        )

    def set_paper(self, state: str) -> None:
        """ "ok", "low" (near end) or "out"."""
        if state not in ("ok", "low", "out"):
            raise ValueError("paper state is ok, low or out")
        with self._cond:
            self.paper_out = state == "out"
            self.paper_near_end = state == "low"
        log.info("printer %s: paper %s", self.name, state)

    def set_cover(self, open_: bool) -> None:
        self.cover_open = open_
        log.info("printer %s: cover %s", self.name, "open" if open_ else "closed")

    def unplug(self) -> None:
        """Switch off / pull the cable: nothing is printed or answered, the port goes."""
        self.plugged = False
        self._close()
        log.info("printer %s: unplugged", self.name)

    def plug(self) -> None:
        self.reader = EscPosReader(chinese_at_reset=self._chinese_at_reset)  # power-on reset
        self._open()
        self.plugged = True
        log.info("printer %s: plugged back at %s", self.name, self.path)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # --- the line ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.plugged:
                self._stop.wait(0.05)
                continue
            data = self._receive()
            if data:
                reply = self._consume(data)
                if reply:
                    self._send(reply)

    def _receive(self) -> bytes:
        if self.port is not None:
            return self.port.read(0.05)
        server = self._server
        if server is None:
            self._stop.wait(0.05)
            return b""
        if self._client is None:
            try:
                self._client, _ = server.accept()
                self._client.settimeout(0.05)
            except (TimeoutError, OSError):
                return b""
        try:
            data = self._client.recv(4096)
        except TimeoutError:
            return b""
        except OSError:
            data = b""
        if not data:  # the host hung up; wait for the next connection
            with contextlib.suppress(OSError):
                self._client.close()
            self._client = None
        return data

    def _send(self, data: bytes) -> None:
        if self.port is not None:
            self.port.write(data)
        elif self._client is not None:
            with contextlib.suppress(OSError):
                self._client.sendall(data)

    def _consume(self, data: bytes) -> bytes:
        reply = bytearray()
        with self._cond:
            for event in self.reader.feed(data):
                if isinstance(event, StatusRequest):
                    self.status_requests += 1
                    if 1 <= event.kind <= 4:
                        reply.append(escpos.status_byte(StatusKind(event.kind), self.status))
                elif self.paper_out or self.cover_open:
                    continue  # nothing comes out of a printer without paper
                elif isinstance(event, PrintedLine):
                    self._current.lines.append(event)
                elif isinstance(event, QrPrinted):
                    self._current.qr_codes.append(event.data)
                elif isinstance(event, Cut):
                    self._current.partial_cut = event.partial
                    self.tickets.append(self._current)
                    log.info(
                        "printer %s printed:\n  %s%s",
                        self.name,
                        "\n  ".join(self._current.text),
                        "".join(f"\n  [QR {q}]" for q in self._current.qr_codes),
                    )
                    self._current = PrintedTicket()
                elif isinstance(event, Reset):
                    self._current = PrintedTicket()
            self._cond.notify_all()
        return bytes(reply)
