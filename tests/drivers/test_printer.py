"""TicketPrinter against the simulated printer: serial pty, USB device file, TCP 9100."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from drivers.config import Connection, PrinterConfig
from drivers.devices import HealthChanged, TicketPrinter
from drivers.errors import DeviceUnavailable, PrinterNotReady
from drivers.health import HealthState
from drivers.protocols.ticket import TicketContent, TicketLayout
from drivers.simulators.printer import SimulatedPrinter
from tests.helpers.waiting import next_event, until

TICKET = TicketContent(
    hall_name="某某区政务服务中心",
    service_name="不动产登记（抵押）",
    number="B107",
    waiting=8,
    issued_at=datetime(2025, 3, 4, 14, 5),
    estimated_wait_minutes=25,
    status_url="https://hall.example/t/B107?d=20250304",
    notes=("！！",),
)

EXPECTED_TEXT = [
    "某某区政务服务中心",
    "不动产登记（抵押）",
    "B107",
    "前方还有 8 人",
    "预计等候约 25 分钟",
    "扫码查看排队进度",
    "取号时间：2025-03-04 14:05",
    "过号请重新取号",
    "！！",
]


def config(connection: Connection, **kw: object) -> PrinterConfig:
    base: dict[str, object] = {"name": "kiosk", "connection": connection, "status_timeout": 0.3}
    base.update(kw)
    return PrinterConfig.from_dict(base)


@pytest.mark.parametrize("connection", [Connection.SERIAL, Connection.USB])
async def test_printed_chinese_ticket_decodes_back_to_the_text(
    tmp_path: Path, connection: Connection
) -> None:
    link = str(tmp_path / "printer0")
    with SimulatedPrinter(link=link) as sim:
        where = {"port": link} if connection is Connection.SERIAL else {"device": link}
        async with TicketPrinter(config(connection, **where)) as printer:
            await printer.print_ticket(TICKET)
            assert sim.wait_for(lambda: len(sim.tickets) == 1)
            assert printer.health.state is HealthState.ONLINE
            assert printer.tickets_printed == 1
    ticket = sim.tickets[0]
    assert ticket.text == EXPECTED_TEXT
    assert ticket.qr_codes == ["https://hall.example/t/B107?d=20250304"]
    assert ticket.partial_cut
    number = ticket.lines[2]
    assert (number.width, number.height) == (4, 4)


async def test_network_printer_on_tcp() -> None:
    with SimulatedPrinter(tcp=("127.0.0.1", 0)) as sim:
        assert sim.tcp_address is not None
        host, port = sim.tcp_address
        cfg = config(Connection.TCP, host=host, tcp_port=port, layout={"qr": False})
        async with TicketPrinter(cfg) as printer:
            await printer.print_ticket(TICKET)
            assert sim.wait_for(lambda: len(sim.tickets) == 1)
    assert sim.tickets[0].text[2] == "B107"
    assert sim.tickets[0].qr_codes == []


async def test_paper_out_refuses_to_print_and_health_says_why(tmp_path: Path) -> None:
    link = str(tmp_path / "printer1")
    with SimulatedPrinter(link=link) as sim:
        async with TicketPrinter(config(Connection.SERIAL, port=link)) as printer:
            events = printer.events()
            await until(lambda: printer.health.state is HealthState.ONLINE)
            sim.set_paper("low")
            status = await printer.status()
            assert status.paper_near_end and status.can_print
            assert printer.health.state is HealthState.ONLINE
            assert printer.health.reason == "paper near end"

            sim.set_paper("out")
            with pytest.raises(PrinterNotReady, match="paper out"):
                await printer.print_ticket(TICKET)
            assert printer.health.state is HealthState.ERROR
            assert printer.health.reason == "paper out"
            event = await next_event(
                events,
                lambda e: isinstance(e, HealthChanged) and e.health.state is HealthState.ERROR,
            )
            assert isinstance(event, HealthChanged) and event.device == "printer:kiosk"

            sim.set_cover(True)
            sim.set_paper("ok")
            with pytest.raises(PrinterNotReady, match="cover open"):
                await printer.print_ticket(TICKET)
            sim.set_cover(False)
            await printer.print_ticket(TICKET)
            assert sim.wait_for(lambda: len(sim.tickets) == 1)
            assert printer.health.state is HealthState.ONLINE


async def test_unplugged_printer_goes_offline_then_online(tmp_path: Path) -> None:
    link = str(tmp_path / "printer2")
    cfg = config(Connection.SERIAL, port=link, status_interval=0.05, reopen_initial=0.02)
    with SimulatedPrinter(link=link) as sim:
        async with TicketPrinter(cfg) as printer:
            await until(lambda: printer.health.online)
            sim.unplug()
            with pytest.raises(DeviceUnavailable):
                await printer.print_ticket(TICKET)
            await until(lambda: printer.health.state is not HealthState.ONLINE)
            sim.plug()
            await until(lambda: printer.health.online)
            await printer.print_ticket(TICKET)
            assert sim.wait_for(lambda: len(sim.tickets) == 1)
            assert sim.tickets[0].text == EXPECTED_TEXT


async def test_printer_without_status_queries(tmp_path: Path) -> None:
    # Some USB printers never answer DLE EOT: print blind, health from the port only.
    link = str(tmp_path / "printer3")
    with SimulatedPrinter(link=link) as sim:
        cfg = config(Connection.USB, device=link, status_query=False)
        async with TicketPrinter(cfg) as printer:
            await printer.print_ticket(TICKET, TicketLayout(notes=()))
            assert sim.wait_for(lambda: len(sim.tickets) == 1)
            assert printer.health.reason == "status not queried"
            assert sim.status_requests == 0
    assert "过号请重新取号" not in sim.tickets[0].text
