"""The kiosk program's core (kiosk_client.kiosk) against an engine app in this process,
printing to a simulated receipt printer on a pty."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from drivers.simulators.printer import SimulatedPrinter
from kiosk_client.config import KioskConfig, build_config
from kiosk_client.engine import EngineClient
from kiosk_client.kiosk import ONLINE, Kiosk
from tests.helpers.api import token
from tests.helpers.app import transport_of
from tests.helpers.halls import Hall
from tests.helpers.waiting import until


@contextmanager
def simulated_printer(folder: Path) -> Iterator[SimulatedPrinter]:
    """A receipt printer at ``folder/printer0`` (where kiosk_config points the kiosk)."""
    printer = SimulatedPrinter(name="kiosk", link=str(folder / "printer0"))
    printer.start()
    try:
        yield printer
    finally:
        printer.stop()


def kiosk_config(
    folder: Path, kiosk_token: str, engine: str = "http://test", **extra: Any
) -> KioskConfig:
    return build_config(
        {
            "engine": engine,
            "token": kiosk_token,
            "printer": str(folder / "printer0"),
            "data_dir": str(folder / "kiosk"),
            "staff_pin": "2468",
            "bus": False,
            "probe_interval": 0.2,
            "health_interval": 60,
            **extra,
        },
        {},
    )


@asynccontextmanager
async def running_kiosk(app: Any, hall: Hall, folder: Path) -> AsyncIterator[Kiosk]:
    """A started kiosk of ``hall``, online with its printer, talking to ``app``."""
    config = kiosk_config(folder, token(hall, "kiosk"))
    engine = EngineClient(
        config.engine_url, config.token, transport=transport_of(app), probe_timeout=5
    )
    kiosk = Kiosk(config, engine=engine)
    await kiosk.start()
    try:
        await until(lambda: kiosk.engine_state == ONLINE and kiosk.printer.health.online)
        yield kiosk
    finally:
        await kiosk.stop()
