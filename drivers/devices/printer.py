"""The kiosk's ticket printer (取号机打印机): ESC/POS over serial, USB (/dev/usb/lpN) or TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ..clock import Clock, SystemClock
from ..config import Connection, PrinterConfig
from ..errors import DeviceUnavailable, PrinterNotReady
from ..health import NEVER_SEEN, DeviceHealth, HealthState
from ..protocols import escpos
from ..protocols.escpos import PrinterStatus, StatusKind
from ..protocols.ticket import TicketContent, TicketLayout, render_ticket
from ..transport.base import Transport
from ..transport.serial_port import SerialTransport
from ..transport.tcp import TcpTransport
from ..transport.usb_lp import UsbPrinterTransport
from .events import DeviceEvent, EventHub, EventSubscription, HealthChanged
from .worker import PortWorker

log = logging.getLogger(__name__)

READ_SLICE = 0.02
# Which DLE EOT questions to ask: printer (offline), offline cause (cover), paper sensor.
STATUS_KINDS = (StatusKind.PRINTER, StatusKind.OFFLINE_CAUSE, StatusKind.PAPER)


def printer_transport(config: PrinterConfig) -> Transport:
    if config.connection is Connection.SERIAL:
        return SerialTransport(config.port, baudrate=config.baudrate)
    if config.connection is Connection.TCP:
        return TcpTransport(config.host, config.tcp_port)
    return UsbPrinterTransport(config.device)


class TicketPrinter:
    """Prints queue tickets; checks paper and cover (DLE EOT) before each ticket.

    ``health`` is ``online`` (reason may warn "paper near end"), ``error`` with the
    printer's problem ("paper out", "cover open") or a port failure, or ``offline``
    when it does not answer status requests.
    """

    def __init__(
        self,
        config: PrinterConfig,
        *,
        clock: Clock | None = None,
        transport: Transport | None = None,
        on_event: Callable[[DeviceEvent], None] | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.transport = transport or printer_transport(config)
        self.device_id = f"printer:{config.name}"
        self._hub = EventHub(on_event)
        self._worker = _PrinterWorker(self)
        self.health: DeviceHealth = NEVER_SEEN
        self.last_status: PrinterStatus | None = None
        self.tickets_printed = 0

    async def start(self) -> None:
        self._hub.bind(asyncio.get_running_loop())
        self._worker.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self._worker.stop)
        self._hub.close()

    async def __aenter__(self) -> TicketPrinter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def events(self) -> EventSubscription:
        """:class:`HealthChanged` events of this printer."""
        return self._hub.subscribe()

    async def status(self) -> PrinterStatus:
        """Ask the printer now (DLE EOT); raises DeviceUnavailable if it does not answer."""
        return await self._worker.call(self._worker.query_status)

    async def print_ticket(self, ticket: TicketContent, layout: TicketLayout | None = None) -> None:
        """Print one ticket; raises PrinterNotReady (paper out, cover open...) or
        DeviceUnavailable (no answer, port gone) without printing anything."""
        data = render_ticket(ticket, layout or self.config.layout)
        await self.print_raw(data)

    async def print_raw(self, data: bytes) -> None:
        """Send ready-made ESC/POS bytes, with the same checks as :meth:`print_ticket`."""
        await self._worker.call(lambda t: self._worker.print_bytes(t, data))

    def _set_health(self, state: HealthState, reason: str) -> None:
        seen = self.clock.now() if state is not HealthState.OFFLINE else self.health.last_seen
        if state is HealthState.ERROR and reason.startswith("port"):
            seen = self.health.last_seen
        old = self.health
        self.health = DeviceHealth(state, reason, seen)
        if (old.state, old.reason) != (state, reason):
            log.info("%s: %s %s", self.device_id, state, reason)
            self._hub.publish(HealthChanged(self.device_id, self.health, None))


class _PrinterWorker(PortWorker):
    def __init__(self, printer: TicketPrinter) -> None:
        c = printer.config
        super().__init__(
            printer.device_id,
            printer.transport,
            printer.clock,
            reopen_initial=c.reopen_initial,
            reopen_max=c.reopen_max,
        )
        self.printer = printer
        self.config = c

    def port_up(self) -> None:
        if not self.config.status_query:
            self.printer._set_health(HealthState.ONLINE, "status not queried")

    def port_down(self, reason: str) -> None:
        self.printer._set_health(HealthState.ERROR, f"port unavailable: {reason}")

    def tick(self, transport: Transport) -> float:
        if self.config.status_query:
            # DeviceUnavailable: health already says so
            with contextlib.suppress(DeviceUnavailable):
                self.query_status(transport)
        return self.clock.monotonic() + self.config.status_interval

    def _ask(self, transport: Transport, kind: StatusKind) -> int | None:
        while transport.read(64, 0):
            pass  # stale bytes would be mistaken for the answer
        transport.write(escpos.status_request(kind))
        deadline = self.clock.monotonic() + self.config.status_timeout
        buffer = b""
        while (remaining := deadline - self.clock.monotonic()) > 0:
            buffer += transport.read(16, min(remaining, READ_SLICE))
            while buffer:
                consumed, value = escpos.scan_status(buffer)
                buffer = buffer[consumed:]
                if value is not None:
                    return value
        return None

    def query_status(self, transport: Transport) -> PrinterStatus:
        answers: dict[int, int] = {}
        for kind in STATUS_KINDS:
            for _ in range(self.config.retries):
                value = self._ask(transport, kind)
                if value is not None:
                    answers[kind] = value
                    break
            else:
                self.printer._set_health(HealthState.OFFLINE, "no answer to status request")
                raise DeviceUnavailable(f"{self.printer.device_id} does not answer DLE EOT")
        status = escpos.parse_status(answers)
        self.printer.last_status = status
        if status.problems:
            self.printer._set_health(HealthState.ERROR, ", ".join(status.problems))
        else:
            self.printer._set_health(HealthState.ONLINE, ", ".join(status.warnings))
        return status

    def print_bytes(self, transport: Transport, data: bytes) -> None:
        if self.config.status_query:
            status = self.query_status(transport)
            if not status.can_print:
                raise PrinterNotReady(", ".join(status.problems))
        transport.write(data)
        self.printer.tickets_printed += 1
        if not self.config.status_query:
            self.printer._set_health(HealthState.ONLINE, "status not queried")
