"""``devices simulate``: the command line runs simulators a driver can talk to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path

from drivers.config import DriversConfig
from drivers.devices import KeypadBus, KeypadPressed, TicketPrinter
from drivers.protocols.keypad import KeypadAction
from drivers.protocols.ticket import TicketContent
from drivers.simulators.cli import SimulatedHall, main
from tests.helpers.waiting import next_event, until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "drivers" / "simulators" / "example.toml"


def example_in(tmp_path: Path) -> Path:
    """The shipped example, with its symlinks moved under tmp_path."""
    text = EXAMPLE.read_text(encoding="utf-8").replace("/tmp/jiaohao-sim", str(tmp_path))
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_prints_paths_answers_a_driver_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    config = example_in(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "drivers.simulators", "--config", str(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        first = proc.stdout.readline()
        assert first.startswith(f"bus hall: {tmp_path}/ttyBUS0 (pty /dev/pts/")
        lines = [first]
        while not lines[-1].startswith("type 'help'"):
            lines.append(proc.stdout.readline())
        assert any(line.startswith(f"printer kiosk-1: {tmp_path}/ttyPRN0") for line in lines)
        assert os.path.islink(tmp_path / "ttyBUS0")
        proc.stdin.write("rate 1 5\nfrobnicate\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "ok"
        assert proc.stdout.readline().startswith("? unknown command")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "simulators stopped" in out
    assert "citizen rates 5" in err  # the log of what devices do
    assert not os.path.lexists(tmp_path / "ttyBUS0")  # links cleaned up


def test_cli_rejects_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[buses]]\nname = "x"\n', encoding="utf-8")
    assert main(["--config", str(bad)]) == 2
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2


async def test_in_process_hall_with_the_example_config(tmp_path: Path) -> None:
    path = example_in(tmp_path)
    config = DriversConfig.from_dict(tomllib.loads(path.read_text(encoding="utf-8")))
    hall = SimulatedHall(config)
    listing = hall.start()
    try:
        assert any("LED" in line or "led" in line for line in listing)
        bus = KeypadBus(config.buses[0])
        events = bus.events()
        await bus.start()
        printer = TicketPrinter(config.printers[0])
        await printer.start()
        try:
            await until(lambda: all(h.online for h in bus.health().values()))
            assert hall.command("press 2 call_next") == "ok"
            event = await next_event(events, lambda e: isinstance(e, KeypadPressed))
            assert isinstance(event, KeypadPressed)
            assert (event.window, event.action) == (2, KeypadAction.CALL_NEXT)
            await bus.led_board(2).show_ticket("A007")
            await printer.print_ticket(
                TicketContent("某镇便民服务中心", "社保", "A007", 0, datetime(2025, 1, 2, 8, 30))
            )
            sim_printer = hall.printers[0]
            assert sim_printer.wait_for(lambda: len(sim_printer.tickets) == 1)
            assert "请留意叫号屏幕和语音提示" in sim_printer.tickets[0].text
            shown = hall.command("show")
            assert "请A007号到2号窗口" in shown and "1 tickets" in shown
            assert hall.command("paper kiosk-1 out") == "ok"
            assert hall.command("cover kiosk-1 sideways").startswith("?")
            assert hall.command("unplug led:2") == "ok" and "(unplugged)" in hall.command("show")
            assert hall.command("plug led:2") == "ok"
            assert hall.command("press 9 call_next").startswith("?")
            assert hall.command("press 1 dance").startswith("?")
            assert hall.command("help").startswith("commands:")
            assert hall.command('"unbalanced').startswith("?")
            assert hall.command("") == ""
        finally:
            await printer.stop()
            await bus.stop()
    finally:
        hall.stop()
