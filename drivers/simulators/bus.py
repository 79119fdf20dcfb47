"""A simulated RS-485 bus on a pseudo-terminal, with any mix of simulated devices."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from ..config import BusConfig, DeviceKind, ProtocolName
from ..protocols import ff68, jh
from ..protocols.ff68 import Ff68Frame
from ..protocols.stream import FrameStream
from .devices import SimDevice, SimEvaluator, SimKeypad, SimLedBoard
from .pty_port import PtyPort

log = logging.getLogger("drivers.simulators")

IDLE_FLUSH = 0.02  # seconds of silence after which half-read frames are given up


class SimulatedBus:
    """Devices sharing one line. ``start()`` returns the path the driver should open.

    Usable in-process (tests) or from the ``devices simulate`` command line.
    """

    def __init__(self, devices: Iterable[SimDevice], *, name: str = "bus", link: str | None = None):
        self.name = name
        self.devices = list(devices)
        self.port = PtyPort(link)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._port_lock = threading.Lock()
        self.frames_ignored = 0

    @classmethod
    def from_config(cls, config: BusConfig, *, link: str | None = None) -> SimulatedBus:
        devices: list[SimDevice] = []
        for d in config.devices:
            if d.kind is DeviceKind.KEYPAD:
                devices.append(SimKeypad(d.address, d.window, d.protocol))
            elif d.kind is DeviceKind.EVALUATOR:
                devices.append(SimEvaluator(d.address, d.window, d.protocol, d.keys))
            else:
                devices.append(SimLedBoard(d.address, d.window, d.protocol))
        return cls(devices, name=config.name, link=link)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        self.port.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        return self.port.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        with self._port_lock:
            self.port.close(remove_link=True)

    def __enter__(self) -> SimulatedBus:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def path(self) -> str:
        return self.port.path

    def unplug_port(self) -> None:
        """Pull the USB-RS485 adapter: the pty disappears, the driver's port fails."""
        with self._port_lock:
            self.port.close()
        log.info("bus %s: adapter unplugged", self.name)

    def plug_port(self) -> str:
        """Plug it back: a new pty (and the link, if any, points to it)."""
        with self._port_lock:
            self.port.open()
        log.info("bus %s: adapter plugged back at %s", self.name, self.port.path)
        return self.port.path

    # --- lookup ------------------------------------------------------------------------

    def _find(self, kind: DeviceKind, window: int) -> Any:
        for dev in self.devices:
            if dev.kind is kind and dev.window == window:
                return dev
        raise KeyError(f"no simulated {kind} for window {window}")

    def keypad(self, window: int) -> SimKeypad:
        dev = self._find(DeviceKind.KEYPAD, window)
        assert isinstance(dev, SimKeypad)
        return dev

    def evaluator(self, window: int) -> SimEvaluator:
        dev = self._find(DeviceKind.EVALUATOR, window)
        assert isinstance(dev, SimEvaluator)
        return dev

    def led_board(self, window: int) -> SimLedBoard:
        dev = self._find(DeviceKind.LED, window)
        assert isinstance(dev, SimLedBoard)
        return dev

    # --- the line ----------------------------------------------------------------------

    def _run(self) -> None:
        # Every device listens to the whole line with its own protocol's decoder.
        ff68_stream: FrameStream[Ff68Frame] = FrameStream(ff68.scan_from_host)
        jh_stream: FrameStream[jh.JhFrame] = FrameStream(jh.scan)
        while not self._stop.is_set():
            if not self.port.is_open:
                self._stop.wait(0.05)
                ff68_stream.clear()
                jh_stream.clear()
                continue
            data = self.port.read(IDLE_FLUSH)
            frames: list[Ff68Frame | jh.JhFrame]
            if data:
                frames = [*ff68_stream.feed(data), *jh_stream.feed(data)]
            else:  # the line went quiet: nothing more of a half frame is coming
                frames = [*ff68_stream.flush(), *jh_stream.flush()]
            for frame in frames:
                self._dispatch(frame)

    def _dispatch(self, frame: Ff68Frame | jh.JhFrame) -> None:
        protocol = ProtocolName.FF68 if isinstance(frame, Ff68Frame) else ProtocolName.JH
        for dev in self.devices:
            if dev.protocol is protocol and dev.address == frame.address:
                answer = dev.handle(frame)
                if answer:
                    with self._port_lock:
                        self.port.write(answer)
                return
        self.frames_ignored += 1  # nobody at that address: silence, as on a real bus
