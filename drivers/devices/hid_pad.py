"""USB HID evaluation pads read through hidraw with ``hidapi`` (optional: jiaohao[hid]).

Pads that pretend to be keyboards would type into the kiosk browser; opening them through
hidapi reads their reports directly. The report-to-level mapping is
:class:`drivers.protocols.rating.HidRatingDecoder` (pure, tested without hardware).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..clock import Clock, SystemClock
from ..errors import HidUnavailable
from ..health import NEVER_SEEN, Backoff, DeviceHealth, HealthState
from ..protocols.rating import HidRatingDecoder
from .events import DeviceEvent, EventHub, EventSubscription, HealthChanged, RatingPressed

log = logging.getLogger(__name__)


class HidDevice(Protocol):
    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]: ...

    def close(self) -> None: ...


def load_hid() -> Any:
    """The ``hid`` module of the ``hidapi`` package, or HidUnavailable."""
    try:
        import hid
    except ImportError as err:
        raise HidUnavailable(
            "USB HID pads need the optional hidapi package: pip install 'jiaohao[hid]'"
        ) from err
    if not hasattr(hid, "device"):
        raise HidUnavailable("the 'hid' module is not hidapi's (PyPI 'hid' is a different one)")
    return hid


def list_hid_devices(vendor_id: int = 0, product_id: int = 0) -> list[dict[str, Any]]:
    """What hidapi sees: dicts with path, vendor_id, product_id, product_string..."""
    return list(load_hid().enumerate(vendor_id, product_id))


def _hidapi_opener(
    vendor_id: int | None, product_id: int | None, path: bytes | None
) -> Callable[[], HidDevice]:
    def open_device() -> HidDevice:
        hid = load_hid()
        dev = hid.device()
        if path is not None:
            dev.open_path(path)
        else:
            dev.open(vendor_id, product_id)
        return dev  # type: ignore[no-any-return,unused-ignore]

    return open_device


class HidEvaluationPad:
    """A USB evaluation pad at ``window``; ratings arrive as :class:`RatingPressed`."""

    def __init__(
        self,
        window: int,
        *,
        vendor_id: int | None = None,
        product_id: int | None = None,
        path: bytes | None = None,
        decoder: HidRatingDecoder | None = None,
        opener: Callable[[], HidDevice] | None = None,
        clock: Clock | None = None,
        on_event: Callable[[DeviceEvent], None] | None = None,
        read_timeout_ms: int = 100,
    ) -> None:
        if opener is None:
            load_hid()  # fail early, with the install hint
            if path is None and (vendor_id is None or product_id is None):
                raise ValueError("give a hidraw path or both vendor_id and product_id")
            opener = _hidapi_opener(vendor_id, product_id, path)
        self.window = window
        self.device_id = f"hid-pad:{window}"
        self._opener = opener
        self._decoder = decoder or HidRatingDecoder()
        self.clock: Clock = clock or SystemClock()
        self._hub = EventHub(on_event)
        self._read_timeout_ms = read_timeout_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(0.5, 10.0)
        self.health: DeviceHealth = NEVER_SEEN

    async def start(self) -> None:
        self._hub.bind(asyncio.get_running_loop())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.device_id, daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, 5.0)
        self._hub.close()

    def events(self) -> EventSubscription:
        return self._hub.subscribe()

    def _set_health(self, state: HealthState, reason: str) -> None:
        seen = self.clock.now() if state is HealthState.ONLINE else self.health.last_seen
        old, self.health = self.health, DeviceHealth(state, reason, seen)
        if (old.state, old.reason) != (state, reason):
            self._hub.publish(HealthChanged(self.device_id, self.health, self.window))

    def _run(self) -> None:
        next_open = 0.0
        while not self._stop.is_set():
            if self.clock.monotonic() < next_open:
                self._stop.wait(0.05)
                continue
            try:
                device = self._opener()
            except (OSError, ValueError) as err:
                self._set_health(HealthState.ERROR, f"cannot open: {err}")
                next_open = self.clock.monotonic() + self._backoff.next_delay()
                continue
            self._backoff.reset()
            self._set_health(HealthState.ONLINE, "")
            try:
                self._read_loop(device)
            except (OSError, ValueError) as err:
                log.warning("%s: read failed: %s", self.device_id, err)
                self._set_health(HealthState.ERROR, f"read failed: {err}")
                next_open = self.clock.monotonic() + self._backoff.next_delay()
            finally:
                with contextlib.suppress(OSError, ValueError):
                    device.close()

    def _read_loop(self, device: HidDevice) -> None:
        while not self._stop.is_set():
            report = bytes(device.read(64, self._read_timeout_ms))
            if not report:
                continue
            self.health = DeviceHealth(HealthState.ONLINE, "", self.clock.now())
            level = self._decoder.feed(report)
            if level is not None:
                self._hub.publish(
                    RatingPressed(self.window, level, self.device_id, self.clock.now())
                )
