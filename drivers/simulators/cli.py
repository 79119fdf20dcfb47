"""``jiaohao devices simulate --config FILE``: simulated hall devices on pseudo-terminals.

Prints where each bus and printer can be opened, logs what the devices show and print,
and reads commands from stdin so a person can play clerk and citizen (type ``help``).
Runs until Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from ..config import Connection, DeviceKind, DriversConfig, load_toml
from ..errors import ConfigError
from ..protocols.keypad import KeypadAction
from .bus import SimulatedBus
from .devices import SimDevice, SimEvaluator, SimKeypad
from .printer import SimulatedPrinter

HELP = """commands:
  press WINDOW ACTION      clerk presses a keypad key; ACTION one of: {actions}
  key WINDOW CODE          raw keypad key code, hex (e.g. 0c)
  rate WINDOW LEVEL        citizen rates 1-5 (5 非常满意 ... 1 非常不满意)
  paper PRINTER ok|low|out
  cover PRINTER open|closed
  unplug NAME | plug NAME  NAME: a bus or printer name, or KIND:WINDOW (e.g. led:2)
  show                     what every device shows now
  help"""


class SimulatedHall:
    """Every bus and printer of a configuration, simulated."""

    def __init__(self, config: DriversConfig) -> None:
        self.buses = [SimulatedBus.from_config(b, link=b.serial.port) for b in config.buses]
        self.printers: list[SimulatedPrinter] = []
        for p in config.printers:
            if p.connection is Connection.TCP:
                if p.host not in ("127.0.0.1", "localhost", "::1"):
                    raise ConfigError(f"printer {p.name}: simulate TCP printers on localhost only")
                self.printers.append(SimulatedPrinter(name=p.name, tcp=(p.host, p.tcp_port)))
            else:
                link = p.port if p.connection is Connection.SERIAL else p.device
                self.printers.append(SimulatedPrinter(name=p.name, link=link))

    def start(self) -> list[str]:
        lines = []
        for bus in self.buses:
            path = bus.start()
            lines.append(f"bus {bus.name}: {path} (pty {bus.port.pty_path})")
            for dev in bus.devices:
                lines.append(f"  {dev.name}")
        for printer in self.printers:
            path = printer.start()
            pty = f" (pty {printer.port.pty_path})" if printer.port else ""
            lines.append(f"printer {printer.name}: {path}{pty}")
        return lines

    def stop(self) -> None:
        for bus in self.buses:
            bus.stop()
        for printer in self.printers:
            printer.stop()

    def _device(self, kind: DeviceKind, window: int) -> SimDevice:
        for bus in self.buses:
            for dev in bus.devices:
                if dev.kind is kind and dev.window == window:
                    return dev
        raise KeyError(f"no {kind} at window {window}")

    def _printer(self, name: str) -> SimulatedPrinter:
        for printer in self.printers:
            if printer.name == name:
                return printer
        raise KeyError(f"no printer {name}")

    def command(self, line: str) -> str:
        """Run one stdin command; returns what to tell the person."""
        try:
            words = shlex.split(line)
        except ValueError as err:
            return f"? {err}"
        if not words:
            return ""
        verb, args = words[0].lower(), words[1:]
        try:
            handler = self._handlers()[verb]
        except KeyError:
            return f"? unknown command {verb!r}; type help"
        try:
            return handler(args)
        except (KeyError, ValueError, IndexError) as err:
            return f"? {err}"

    def _handlers(self) -> dict[str, Callable[[list[str]], str]]:
        return {
            "help": lambda a: HELP.format(actions=", ".join(a.value for a in KeypadAction)),
            "press": self._press,
            "key": self._key,
            "rate": self._rate,
            "paper": self._paper,
            "cover": self._cover,
            "unplug": lambda a: self._plug(a[0], False),
            "plug": lambda a: self._plug(a[0], True),
            "show": lambda a: self.describe(),
        }

    def _press(self, args: list[str]) -> str:
        keypad = self._device(DeviceKind.KEYPAD, int(args[0]))
        assert isinstance(keypad, SimKeypad)
        keypad.press_action(KeypadAction(args[1].lower()))
        return "ok"

    def _key(self, args: list[str]) -> str:
        keypad = self._device(DeviceKind.KEYPAD, int(args[0]))
        assert isinstance(keypad, SimKeypad)
        keypad.press(int(args[1], 16))
        return "ok"

    def _rate(self, args: list[str]) -> str:
        pad = self._device(DeviceKind.EVALUATOR, int(args[0]))
        assert isinstance(pad, SimEvaluator)
        pad.rate(int(args[1]))
        return "ok"

    def _paper(self, args: list[str]) -> str:
        self._printer(args[0]).set_paper(args[1])
        return "ok"

    def _cover(self, args: list[str]) -> str:
        if args[1] not in ("open", "closed"):
            raise ValueError("cover is open or closed")
        self._printer(args[0]).set_cover(args[1] == "open")
        return "ok"

    def _plug(self, name: str, plug: bool) -> str:
        if ":" in name:
            kind, window = name.split(":", 1)
            dev = self._device(DeviceKind(kind), int(window))
            dev.plug() if plug else dev.unplug()
            return "ok"
        for bus in self.buses:
            if bus.name == name:
                bus.plug_port() if plug else bus.unplug_port()
                return "ok"
        printer = self._printer(name)
        printer.plug() if plug else printer.unplug()
        return "ok"

    def describe(self) -> str:
        lines = []
        for bus in self.buses:
            for dev in bus.devices:
                state = "" if dev.plugged else " (unplugged)"
                shows = getattr(dev, "shows", None) or getattr(dev, "content", None)
                text = getattr(shows, "text", shows)
                lines.append(f"{dev.name}{state}: {text or '-'}")
        for p in self.printers:
            lines.append(
                f"printer {p.name}: {len(p.tickets)} tickets, paper "
                f"{'out' if p.paper_out else 'low' if p.paper_near_end else 'ok'}"
            )
        return "\n".join(lines)


def _read_commands(hall: SimulatedHall, stdin: TextIO, out: TextIO) -> None:
    for line in stdin:
        reply = hall.command(line)
        if reply:
            print(reply, file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jiaohao devices simulate",
        description="Simulate hall devices (keypads, evaluators, LED boards, printers) on ptys.",
    )
    parser.add_argument("--config", required=True, help="TOML file describing buses/printers")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    args = parser.parse_args(argv)

    try:
        config = load_toml(args.config)
        hall = SimulatedHall(config)
    except (OSError, ConfigError, ValueError) as err:
        print(f"cannot use {args.config}: {err}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    sim_log = logging.getLogger("drivers.simulators")
    sim_log.addHandler(handler)
    sim_log.setLevel(args.log_level.upper())
    sim_log.propagate = False

    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            lines = hall.start()
        except OSError as err:
            print(f"cannot start the simulators: {err}", file=sys.stderr)
            hall.stop()
            return 1
        print("\n".join(lines), flush=True)
        print("type 'help' for commands; Ctrl-C to stop", flush=True)
        threading.Thread(
            target=_read_commands, args=(hall, sys.stdin, sys.stdout), daemon=True
        ).start()
        while not stop.wait(0.5):
            pass
        hall.stop()
        print("simulators stopped", flush=True)
        return 0
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        sim_log.removeHandler(handler)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
